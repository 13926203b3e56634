"""Multi-process training on CPU (gloo): real DDP in a subprocess, exact metrics, launcher checks."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, run_cli

QUICK = [
    "--config", str(REPO / "experiments" / "quickstart.yaml"),
    "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]",
    "--data.init_args.num_workers", "0", "--data.init_args.batch_size", "4",
    "--model.init_args.backbone", "hummuss-tiny-causal",
]  # fmt: skip


def hummuss(args: list[str], cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", **(env_extra or {})}
    done = subprocess.run([sys.executable, "-m", "hummuss_pl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def logged(save_dir, name: str) -> float:
    rows = list(csv.DictReader(open(next(save_dir.rglob("metrics.csv")))))
    return float(next(r[name] for r in rows if r.get(name)))


def test_launcher_and_trainer_disagreeing_on_world_size_is_refused(tmp_path, monkeypatch):
    # what torchrun --nproc_per_node 2 exports to each process, with a Trainer left at 1 device
    for key, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "0", "LOCAL_WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29533"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match="launcher started 2 processes but the Trainer is configured for 1"):
        run_cli(["fit", *QUICK, "--trainer.devices", "1", "--trainer.max_epochs", "1"], tmp_path)


# What srun exports to task 0 of `--nodes 2 --ntasks-per-node 2` (Lightning's SLURMEnvironment reads these).
SLURM = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_JOB_NAME": "hummuss-pretrain", "SLURM_NTASKS": "4",
         "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
         "SLURM_NODELIST": "node[01-02]"}  # fmt: skip


@pytest.fixture
def srun(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)


def slurm_trainer(devices: int, num_nodes: int, strategy: str = "ddp"):
    import lightning as L

    from hummuss_pl.cli import check_world_size

    trainer = L.Trainer(accelerator="cpu", devices=devices, num_nodes=num_nodes, strategy=strategy, logger=False)
    if strategy == "ddp":  # Lightning recognised srun (a single-device strategy has no cluster environment)
        assert type(trainer.strategy.cluster_environment).__name__ == "SLURMEnvironment"
    check_world_size(trainer)
    return trainer


def test_srun_tasks_matching_devices_times_nodes_are_accepted(srun):
    slurm_trainer(devices=2, num_nodes=2)


@pytest.mark.parametrize(("devices", "num_nodes", "strategy"), [(2, 1, "ddp"), (1, 1, "auto")])
def test_srun_tasks_not_matching_devices_times_nodes_are_refused(srun, devices, num_nodes, strategy):
    # with ddp, trainer.world_size repeats SLURM_NTASKS (4): the check must count devices × nodes
    with pytest.raises(RuntimeError, match=f"launcher started 4 processes but the Trainer is configured for {devices * num_nodes} "):
        slurm_trainer(devices, num_nodes, strategy)


def test_without_srun_slurm_variables_do_not_count(srun, monkeypatch):
    monkeypatch.delenv("SLURM_STEP_ID")  # the batch script itself, outside srun: one process, whatever --ntasks says
    slurm_trainer(devices=1, num_nodes=1, strategy="auto")


def global_step(ckpt) -> int:
    import torch

    return torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]


@pytest.mark.slow
def test_two_process_ddp_fit_and_exact_validation(tmp_path):
    limits = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "3", "--trainer.max_epochs", "1"]
    out = hummuss(["fit", *QUICK, *limits, "--trainer.devices", "2", "--trainer.strategy", "ddp"], tmp_path)
    assert "MEMBER: 2/2" in out.stdout + out.stderr  # two gloo ranks really trained together
    runs = tmp_path / "checkpoints" / "quickstart"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0"]  # one run directory for both ranks
    ckpt = runs / "version_0" / "last.ckpt"
    assert ckpt.is_file()

    # --ckpt_path last resumes that run on 2 processes, in place
    first = global_step(ckpt)
    hummuss(["fit", *QUICK, *limits[:4], "--trainer.max_epochs", "2", "--trainer.devices", "2", "--trainer.strategy", "ddp",
             "--ckpt_path", "last"], tmp_path)  # fmt: skip
    assert sorted(p.name for p in runs.iterdir()) == ["version_0"]
    assert global_step(ckpt) == 2 * first

    # The same checkpoint validated on 1 and on 2 processes over the whole held-out split (128
    # clips = 1024 // 8, in batches of 60: 3 batches, the last one short, 2 on one rank and 1 on the other):
    # sum-state metrics over a sampler that neither pads nor drops give the same number.
    for devices in (1, 2):
        hummuss(["validate", *QUICK, "--ckpt_path", str(ckpt), "--trainer.devices", str(devices), "--trainer.strategy", "ddp" if devices > 1 else "auto",
                 "--data.init_args.batch_size", "60", "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                 "--trainer.logger.save_dir", str(tmp_path / f"csv{devices}")], tmp_path)  # fmt: skip
    one, two = logged(tmp_path / "csv1", "val/mpjpe"), logged(tmp_path / "csv2", "val/mpjpe")
    assert one == pytest.approx(two, rel=1e-12, abs=0)

    # predict on 2 processes: each rank writes its share; together they cover the split exactly once
    import torch

    hummuss(["predict", *QUICK, "--ckpt_path", str(ckpt), "--trainer.devices", "2", "--trainer.strategy", "ddp",
             "--data.init_args.batch_size", "60", "--version", "predict2"], tmp_path)  # fmt: skip
    run = tmp_path / "checkpoints" / "quickstart" / "predict2"
    parts = [torch.load(run / f"predictions-rank{r}.pt", weights_only=False) for r in (0, 1)]
    indices = sorted(i for part in parts for i in part["index"].tolist())
    assert indices == list(range(128)) and [len(p["index"]) for p in parts] == [60 + 8, 60]  # batches 0 + 2, batch 1
    assert all(p["pose_3d"].shape[0] == len(p["index"]) for p in parts)


@pytest.mark.slow
def test_torchrun_ranks_share_one_run_directory(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "hummuss_pl"]
    args = [*QUICK, "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.devices", "2",
            "--trainer.strategy", "ddp"]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled"}
    for extra in (["--trainer.max_epochs", "1"], ["--trainer.max_epochs", "2", "--ckpt_path", "last"]):
        done = subprocess.run([*torchrun, "fit", *args, *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        runs = tmp_path / "checkpoints" / "quickstart"
        assert sorted(p.name for p in runs.iterdir()) == ["version_0"]  # rank 1 created nothing of its own
    assert global_step(runs / "version_0" / "last.ckpt") == 4  # 2 epochs × 2 steps: the resume continued


# ------------------------------------------------------------------------------------ fabric run, SIGTERM under DDP
TWO_EPOCHS = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "3"]  # 4 steps


def csv_logger(save_dir) -> list[str]:
    return ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(save_dir)]


def last_weights(cwd) -> dict:
    import torch

    return torch.load(cwd / "checkpoints" / "quickstart" / "version_0" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    import torch

    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def lightning_ddp(tmp_path_factory):
    """A 2-process gloo fit that Lightning launches itself (TWO_EPOCHS): its working directory."""
    cwd = tmp_path_factory.mktemp("lightning_ddp")
    hummuss(["fit", *QUICK, *TWO_EPOCHS, "--trainer.devices", "2", "--trainer.strategy", "ddp", *csv_logger(cwd / "csv")], cwd)
    return cwd


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_fabric_run_launches_the_cli_with_its_own_flags(tmp_path, lightning_ddp):
    # `fabric run` as a user types it (the `fabric` console script's entry point); the trainer flags are not repeated
    console_script = Path(sys.executable).with_name("hummuss")
    script = console_script if console_script.is_file() else REPO / "src" / "hummuss_pl" / "__main__.py"
    fabric = [sys.executable, "-c", "import sys; from lightning.fabric.cli import _main; sys.exit(_main())", "run",
              "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--main-port", str(free_port()), str(script)]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled"}
    done = subprocess.run([*fabric, "fit", *QUICK, *TWO_EPOCHS, *csv_logger(tmp_path / "csv")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert ("fabric run: Trainer accelerator=cpu, strategy=ddp, devices=2, num_nodes=1 from the launcher "
            "(the configuration had strategy=auto, devices=1)") in output  # fmt: skip
    assert "MEMBER: 2/2" in output
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "quickstart").iterdir()) == ["version_0"]  # one run directory
    assert logged(tmp_path / "csv", "val/mpjpe") == logged(lightning_ddp / "csv", "val/mpjpe")
    assert_same_weights(last_weights(tmp_path), last_weights(lightning_ddp))


@pytest.mark.slow
def test_sigterm_stops_both_ranks_at_one_step_and_the_resumed_run_matches(tmp_path, lightning_ddp):
    import torch

    marker = tmp_path / "paused"
    pause = json.dumps([{"class_path": "stop_points.PauseAt", "init_args": {"step": 3, "marker": str(marker)}}])  # epoch 1, batch 1
    args = ["fit", *QUICK, *TWO_EPOCHS, "--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.logger", "false"]
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": os.pathsep.join([os.environ["PYTHONPATH"], str(Path(__file__).parent)])}
    with open(tmp_path / "output.txt", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hummuss_pl", *args, "--trainer.callbacks", pause], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    while not marker.exists():  # rank 0 holds at step 3 (rank 1 waits for it); the loop only guards against a hang
        assert proc.poll() is None, (tmp_path / "output.txt").read_text()[-3000:]
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)  # to rank 0, as `kill` or a scheduler would; it forwards the signal to rank 1
    assert proc.wait(timeout=300) == 143, (tmp_path / "output.txt").read_text()[-3000:]
    ckpt = tmp_path / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 3
    hummuss([*args, "--ckpt_path", "last"], tmp_path)
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 4
    assert_same_weights(last_weights(tmp_path), last_weights(lightning_ddp))
