"""Multi-process training on CPU (gloo): real DDP in a subprocess, exact metrics, launcher checks."""

import csv
import os
import subprocess
import sys

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


@pytest.mark.slow
def test_two_process_ddp_fit_and_exact_validation(tmp_path):
    limits = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "3", "--trainer.max_epochs", "1"]
    out = hummuss(["fit", *QUICK, *limits, "--trainer.devices", "2", "--trainer.strategy", "ddp"], tmp_path)
    assert "MEMBER: 2/2" in out.stdout + out.stderr  # two gloo ranks really trained together
    ckpt = tmp_path / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"
    assert ckpt.is_file()

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
