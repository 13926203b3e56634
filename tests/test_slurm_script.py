"""scripts/slurm_pretrain.sbatch's part in a requeue, run by bash with stand-ins for `srun` (records
the command, exits with a chosen status) and `scontrol` (records the call): an attempt stopped by
SIGTERM (status 143) requeues the job, the next attempt resumes the same run directory, any other
failure is not requeued. (That the training command itself saves and resumes exactly is
test_resume's and test_distributed's.)"""

from __future__ import annotations

import os
import subprocess

import pytest
from helpers import REPO

SCRIPT = REPO / "scripts" / "slurm_pretrain.sbatch"


@pytest.fixture
def slurm(tmp_path):
    """(run the script in tmp_path as attempt N with srun exiting `status`) -> (script status, srun args, scontrol calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$SRUN_ARGS"\nexit "$SRUN_STATUS"\n')
    (bin_dir / "scontrol").write_text('#!/bin/bash\necho "$@" >> "$SCONTROL_CALLS"\n')
    for tool in ("srun", "scontrol"):
        (bin_dir / tool).chmod(0o755)

    def attempt(status: int, restart: int) -> tuple[int, list[str], list[str]]:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "4242", "SLURM_JOB_NUM_NODES": "1",
               "SLURM_RESTART_COUNT": str(restart), "SRUN_STATUS": str(status), "SRUN_ARGS": str(tmp_path / "srun.txt"),
               "SCONTROL_CALLS": str(tmp_path / "scontrol.txt")}  # fmt: skip
        done = subprocess.run(["bash", str(SCRIPT), "experiments/pretrain/hummuss_causal.yaml", "/data"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        calls = tmp_path / "scontrol.txt"
        return done.returncode, (tmp_path / "srun.txt").read_text().splitlines(), calls.read_text().splitlines() if calls.exists() else []

    return attempt


def test_an_attempt_stopped_by_sigterm_is_requeued_and_the_next_one_resumes_its_run(slurm, tmp_path):
    status, args, requeues = slurm(143, restart=0)
    assert status == 143 and requeues == ["requeue 4242"]
    assert args[args.index("--version") + 1] == "slurm-4242" and "--ckpt_path" not in args
    run = tmp_path / "checkpoints" / "pretrain" / "hummuss_causal" / "slurm-4242"
    run.mkdir(parents=True)
    (run / "last.ckpt").touch()  # what the stopped attempt wrote
    status, args, requeues = slurm(0, restart=1)
    assert status == 0 and requeues == ["requeue 4242"]  # no second requeue
    assert args[args.index("--version") + 1] == "slurm-4242" and args[args.index("--ckpt_path") + 1] == "last"


def test_a_failed_attempt_is_not_requeued(slurm):
    status, _, requeues = slurm(1, restart=0)
    assert status == 1 and requeues == []
