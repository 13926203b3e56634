"""Exact resume: a run stopped and resumed with `--ckpt_path last` ends with the weights of an
uninterrupted run, bit for bit.

Why the resume test in test_pretrain.py could not see a replayed epoch: it resumed exactly at the
epoch where the curriculum switches phase, so the resumed run built a new loader for that epoch.
The bug lives in a loader the resumed run builds *before* Lightning has restored its epoch counter
(it reads the epoch of the checkpoint's last finished epoch) and then reuses for the next epoch of
the same phase, or in a module that never reloads its loaders. These tests resume inside a phase,
with and without reloading, and at every epoch of a chain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO, TINY_QUICKSTART, run_cli

from hummuss_pl.callbacks import SIGTERM_EXIT_STATUS

RUN = Path("checkpoints") / "quickstart" / "version_0"
TWO_PHASES = '[{"start_epoch": 0, "sources": ["synthetic_3d"]}, {"start_epoch": 1, "sources": ["synthetic_3d", "synthetic_2d"]}]'
ONE_PHASE = '[{"start_epoch": 0, "sources": ["synthetic_3d", "synthetic_2d"]}]'
TINY = TINY_QUICKSTART
CURRICULA = {
    "two phases, loaders reloaded": ["--data.init_args.phases", TWO_PHASES],
    "one phase, loaders kept": ["--data.init_args.phases", ONE_PHASE, "--trainer.reload_dataloaders_every_n_epochs", "0"],
}


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(got: Path, expected: Path) -> None:
    a, b = weights(got), weights(expected)
    assert a.keys() == b.keys()
    differing = [k for k in b if not torch.equal(a[k], b[k])]
    assert not differing, f"{len(differing)} of {len(b)} tensors differ, e.g. {differing[:3]}"


@pytest.mark.parametrize("curriculum", sorted(CURRICULA))
def test_resuming_at_every_epoch_equals_an_uninterrupted_run(tmp_path, curriculum, caplog):
    args = ["fit", *TINY, *CURRICULA[curriculum]]
    (tmp_path / "straight").mkdir()
    run_cli([*args, "--trainer.max_epochs", "3"], tmp_path / "straight")
    (tmp_path / "chain").mkdir()
    run_cli([*args, "--trainer.max_epochs", "1"], tmp_path / "chain")
    for epochs in (2, 3):  # the first resume may switch phase, the second stays in it
        caplog.clear()
        with caplog.at_level("INFO"):
            cli = run_cli([*args, "--trainer.max_epochs", str(epochs), "--ckpt_path", "last"], tmp_path / "chain")
        assert cli.trainer.global_step == 3 * epochs
        phase_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Curriculum: ")]
        assert all(line.startswith(f"Curriculum: epoch {epochs - 1} ") for line in phase_lines), phase_lines
    assert_same_weights(tmp_path / "chain" / RUN / "last.ckpt", tmp_path / "straight" / RUN / "last.ckpt")


def test_a_sampler_started_mid_epoch_yields_the_rest_of_that_epochs_batches():
    from hummuss_pl.data.sampling import SourceBatchSampler

    sampler = SourceBatchSampler([10, 7], 2, seed=3, rank=1, world_size=2, keyed=True)
    sampler.set_epoch(4)
    whole = list(sampler)
    sampler.set_position(4, 2)
    assert list(sampler) == whole[2:] and len(sampler) == len(whole)  # Lightning counts the epoch from its start
    sampler.set_epoch(5)  # Lightning's call before the next epoch: from its first batch again
    assert len(list(sampler)) == len(whole) and list(sampler) != whole


def test_last_ckpt_is_the_last_epoch_even_when_the_metric_did_not_improve(tmp_path):
    # lr 0: validation never improves, so no best checkpoint after the first (Lightning then left last.ckpt at epoch 0)
    handler = signal.getsignal(signal.SIGTERM)
    cli = run_cli(["fit", *TINY, "--model.init_args.optim.lr", "0.0", "--trainer.max_epochs", "3"], tmp_path)
    assert signal.getsignal(signal.SIGTERM) is handler  # the run's SIGTERM handling ended with it
    assert saved_step(tmp_path / RUN / "last.ckpt") == cli.trainer.global_step == 9
    [best] = (tmp_path / RUN).glob("best-*.ckpt")
    assert best.name.startswith("best-epoch000-") and saved_step(best) == 3  # the best stays the first epoch's


# ------------------------------------------------------------------------------------ interrupted processes
TESTS = Path(__file__).parent


def start_fit(args: list[str], cwd: Path, pause_at: int) -> tuple[subprocess.Popen, Path]:
    """`hummuss fit <args>` in a subprocess that holds still after global step `pause_at` (stop_points.PauseAt);
    returns it once it is there, and the file of its combined output."""
    marker, log = cwd / "paused", cwd / "output.txt"
    pause = json.dumps([{"class_path": "stop_points.PauseAt", "init_args": {"step": pause_at, "marker": str(marker)}}])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.environ["PYTHONPATH"], str(TESTS)]), "PYTHONUNBUFFERED": "1"}
    args = [str(REPO / a) if a.startswith("experiments/") else a for a in args]
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hummuss_pl", "fit", *args, "--trainer.callbacks", pause], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    while not marker.exists():  # waits for the run to reach the step; the deadline only guards against a hang
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before step {pause_at}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, log


FOUR_EPOCHS = [*TINY, *CURRICULA["two phases, loaders reloaded"], "--trainer.max_epochs", "4"]  # 12 steps


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """last.ckpt of an uninterrupted run of FOUR_EPOCHS."""
    cwd = tmp_path_factory.mktemp("uninterrupted")
    run_cli(["fit", *FOUR_EPOCHS], cwd)
    return cwd / RUN / "last.ckpt"


def saved_step(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=True)["global_step"]


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_at_the_current_step_that_resumes_exactly(tmp_path, uninterrupted):
    proc, log = start_fit(FOUR_EPOCHS, tmp_path, pause_at=7)  # epoch 2, batch 1 of 3
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == SIGTERM_EXIT_STATUS, log.read_text()[-3000:]
    [line] = [line for line in log.read_text().splitlines() if "SIGTERM" in line]
    assert line == (f"hummuss: stopped by SIGTERM after step 7 (epoch 2, batch 1 of 3); resumable checkpoint: {RUN / 'last.ckpt'} "
                    f"(add --ckpt_path last to the same command to continue); exit status 143")  # fmt: skip
    assert saved_step(tmp_path / RUN / "last.ckpt") == 7
    cli = run_cli(["fit", *FOUR_EPOCHS, "--ckpt_path", "last"], tmp_path)  # the rest of epoch 2, then epoch 3
    assert cli.trainer.global_step == 12
    assert_same_weights(tmp_path / RUN / "last.ckpt", uninterrupted)


@pytest.mark.slow
def test_after_kill_9_the_last_checkpoint_written_resumes_exactly(tmp_path, uninterrupted):
    proc, _ = start_fit(FOUR_EPOCHS, tmp_path, pause_at=5)  # epoch 1, batch 2 of 3: nothing saves, nothing cleans up
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert saved_step(tmp_path / RUN / "last.ckpt") == 3  # the end of epoch 0
    cli = run_cli(["fit", *FOUR_EPOCHS, "--ckpt_path", "last"], tmp_path)  # epochs 1 (a new phase), 2 and 3 (the same)
    assert cli.trainer.global_step == 12
    assert_same_weights(tmp_path / RUN / "last.ckpt", uninterrupted)


def test_a_task_with_dropout_resumes_exactly(tmp_path):
    # ActionTask's head draws dropout masks from torch's global generator: the checkpoint carries its state
    args = ["fit", "--config", "experiments/finetune/action_ntu60_xsub.yaml", "--model.init_args.backbone", "hummuss-tiny-causal",
            "--model.init_args.pretrained", "null", "--model.init_args.head.num_classes", "10", "--data.init_args.synthetic", "true",
            "--data.init_args.data_root", "null", "--data.init_args.synthetic_corpus.num_clips", "16",
            "--data.init_args.synthetic_corpus.clip_len", "9", "--data.init_args.batch_size", "4", "--data.init_args.num_workers", "0",
            "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
            "--trainer.logger", "false", "--trainer.callbacks", "[]"]  # fmt: skip
    run = Path("checkpoints") / "finetune" / "action_ntu60_xsub" / "version_0" / "last.ckpt"
    for name in ("straight", "resumed"):
        (tmp_path / name).mkdir()
    run_cli([*args, "--trainer.max_epochs", "2"], tmp_path / "straight")
    run_cli([*args, "--trainer.max_epochs", "1"], tmp_path / "resumed")
    run_cli([*args, "--trainer.max_epochs", "2", "--ckpt_path", "last"], tmp_path / "resumed")
    assert_same_weights(tmp_path / "resumed" / run, tmp_path / "straight" / run)
