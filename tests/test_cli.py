"""The `hummuss` CLI itself: run directories (new, resumed, shared by the ranks of one launch), the
progress-bar flag, and a W&B offline run (its recorded config, the summary as the last output)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import REPO, run_cli, wandb_offline_config
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

from hummuss_pl import cli as hummuss_cli
from hummuss_pl.cli import LAST, RUN_DIR_ENV, run_dir, shared_run_dir

LAUNCH_VARIABLES = (RUN_DIR_ENV, *hummuss_cli.RANK_VARIABLES)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """checkpoints/exp/ under a scratch working directory, with no launcher variables set."""
    monkeypatch.chdir(tmp_path)
    clear_launch_variables(monkeypatch)
    return hummuss_cli.CHECKPOINT_ROOT / "exp"


def clear_launch_variables(monkeypatch) -> None:
    """Unsets them, and has monkeypatch unset them again afterwards (delenv alone records nothing for an
    absent variable, so one the code under test exports would outlive the test)."""
    for key in LAUNCH_VARIABLES:
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def make_versions(base, **files: list[str]) -> None:
    for version, names in files.items():
        (base / version).mkdir(parents=True)
        for name in names:
            (base / version / name).touch()


# ------------------------------------------------------------------------------------ run_dir
def test_a_new_run_takes_the_next_version(runs):
    assert run_dir("exp", None, resume_last=False) == runs / "version_0"
    make_versions(runs, version_0=[LAST], version_3=[], other=[LAST])
    assert run_dir("exp", None, resume_last=False) == runs / "version_4"
    assert run_dir("exp", "mine", resume_last=False) == runs / "mine"


def test_resume_last_takes_the_newest_version_holding_a_last_checkpoint(runs):
    # version_1: the empty directory a second DDP rank used to leave; version_2 holds only a best checkpoint
    make_versions(runs, version_0=[LAST, "best.ckpt"], version_1=[], version_2=["best.ckpt"])
    assert run_dir("exp", None, resume_last=True) == runs / "version_0"
    make_versions(runs, version_10=[LAST])  # numerically, not alphabetically, newest
    assert run_dir("exp", None, resume_last=True) == runs / "version_10"


def test_resume_last_without_a_last_checkpoint_is_an_error_naming_the_directory(runs):
    with pytest.raises(FileNotFoundError, match=r"no earlier run of experiment 'exp' under checkpoints/exp/ has a last\.ckpt$"):
        run_dir("exp", None, resume_last=True)
    make_versions(runs, version_0=["best.ckpt"], version_1=[])
    with pytest.raises(FileNotFoundError, match=r"under checkpoints/exp/ has a last\.ckpt \(version_0, version_1 hold none\)"):
        run_dir("exp", None, resume_last=True)
    with pytest.raises(FileNotFoundError, match=r"checkpoints/exp/version_0/ has no last\.ckpt"):
        run_dir("exp", "version_0", resume_last=True)
    make_versions(runs, mine=[LAST])
    assert run_dir("exp", "mine", resume_last=True) == runs / "mine"


# ------------------------------------------------------------------------------------ one directory per launch
def test_rank_zero_creates_and_exports_the_run_directory(runs):
    chosen = shared_run_dir("exp", None, resume_last=False)
    assert chosen == runs / "version_0" and chosen.is_dir()
    assert os.environ[RUN_DIR_ENV] == str(chosen)  # what the ranks Lightning starts inherit


def test_ranks_lightning_starts_take_rank_zeros_directory(runs, monkeypatch):
    make_versions(runs, version_0=[LAST])
    # what Lightning's launcher gives rank 1: the parent's environment (os.environ.copy()) plus LOCAL_RANK
    monkeypatch.setenv(RUN_DIR_ENV, str(runs / "version_0"))
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert shared_run_dir("exp", None, resume_last=False) == runs / "version_0"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0"]


@pytest.mark.parametrize("launcher", [{"RANK": "1", "LOCAL_RANK": "1"}, {"SLURM_PROCID": "3"}, {"NODE_RANK": "1"}])
def test_ranks_started_next_to_rank_zero_create_nothing(runs, monkeypatch, launcher):
    for key, value in launcher.items():
        monkeypatch.setenv(key, value)
    make_versions(runs, version_0=[LAST])
    assert shared_run_dir("exp", None, resume_last=True) == runs / "version_0"  # the same choice as rank 0's
    shared_run_dir("exp", None, resume_last=False)  # a guess, never written to
    assert sorted(p.name for p in runs.iterdir()) == ["version_0"] and RUN_DIR_ENV not in os.environ


def test_the_exported_directory_ends_with_the_command(tmp_path, monkeypatch):
    clear_launch_variables(monkeypatch)
    args = ["--config", "experiments/quickstart.yaml", "--trainer.logger", "false"]
    first, second = (run_cli(args, tmp_path, run=False) for _ in range(2))
    assert (first.run_dir.name, second.run_dir.name) == ("version_0", "version_1")
    assert RUN_DIR_ENV not in os.environ


# ------------------------------------------------------------------------------------ progress bar
@pytest.mark.parametrize("flag", ["true", "false"])
def test_enable_progress_bar_false_drops_the_default_rich_bar(tmp_path, flag):
    cli = run_cli(["--config", "experiments/quickstart.yaml", "--trainer.logger", "false", "--trainer.enable_progress_bar", flag], tmp_path, run=False)
    bars = [c for c in cli.trainer.callbacks if isinstance(c, ProgressBar)]
    if flag == "true":
        assert [type(b) for b in bars] == [RichProgressBar] and cli.trainer.progress_bar_callback is bars[0]
    else:
        assert bars == [] and cli.trainer.progress_bar_callback is None


def test_fit_with_enable_progress_bar_false(tmp_path):
    cli = run_cli(["fit", "--config", "experiments/quickstart.yaml", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                   "--trainer.fast_dev_run", "1", "--model.init_args.backbone", "hummuss-tiny-causal",
                   "--data.init_args.num_workers", "0", "--data.init_args.batch_size", "4"], tmp_path)  # fmt: skip
    assert cli.trainer.state.finished and cli.trainer.progress_bar_callback is None


# ------------------------------------------------------------------------------------ W&B offline
@pytest.fixture(scope="module")
def offline_fit(tmp_path_factory) -> tuple[list[str], object]:
    """`hummuss fit` (1 short epoch) as a user runs it, with WANDB_MODE=offline: (output lines, run directory)."""
    cwd = tmp_path_factory.mktemp("offline")
    args = ["fit", "--config", str(REPO / "experiments" / "quickstart.yaml"), "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
            "--data.init_args.num_workers", "0", "--data.init_args.batch_size", "4", "--model.init_args.backbone", "hummuss-tiny-causal"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    env.update(WANDB_MODE="offline", PYTHONUNBUFFERED="1")  # unbuffered: the merged output keeps its order
    done = subprocess.run([sys.executable, "-m", "hummuss_pl", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    return [line for line in done.stdout.splitlines() if line.strip()], cwd / "checkpoints" / "quickstart" / "version_0"


def test_the_summary_is_the_last_output_after_wandbs_lines(offline_fit):
    lines, run = offline_fit
    start = max(i for i, line in enumerate(lines) if line.startswith("Training finished. Run directory: "))
    summary = lines[start:]
    assert any(line.startswith("wandb: ") for line in lines[:start])  # W&B's closing lines, before the summary
    assert lines[start] == f"Training finished. Run directory: {run.relative_to(run.parents[2])}/"
    assert [line.split(":")[0].strip() for line in summary[1:]] == ["best checkpoint", "last checkpoint", "W&B run (offline)"]
    [wandb_run] = run.glob("wandb/offline-run-*")
    assert summary[-1].startswith(f"  W&B run (offline): {wandb_run.relative_to(run.parents[2])}")


def test_the_resolved_cli_config_is_logged_to_the_wandb_run(offline_fit):
    _, run = offline_fit
    [run_file] = run.glob("wandb/offline-run-*/run-*.wandb")
    config = wandb_offline_config(run_file)
    written = (run / "config-fit.yaml").read_text()
    assert config["cli_config"] == written  # the very text of config-fit.yaml
    assert config["cli"]["model"]["init_args"]["backbone"] == "hummuss-tiny-causal"
    assert config["cli"]["trainer"]["max_epochs"] == 1 and config["cli"]["experiment"] == "quickstart"
