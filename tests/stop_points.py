"""Test callbacks that hold a training run at an exact step, for signals and failures that must land
there: `PauseAt` waits for a signal sent from outside (the test process), `ReadOnlyAt` takes write
access to the run directory away. Used through `--trainer.callbacks` (class_path `stop_points.…`),
also in subprocesses (tests/ on their PYTHONPATH)."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from lightning.pytorch import Callback


class PauseAt(Callback):
    """After global step `step` (rank 0), creates the file `marker` and waits for SIGTERM or SIGKILL sent from
    outside. A SIGTERM that arrives meanwhile is held back and handed to the run's own handler once the wait
    is over, so the run sees it at exactly this step (whichever thread the kernel delivered it to); SIGKILL
    ends the process here."""

    def __init__(self, step: int, marker: str, deadline_s: float = 600.0) -> None:
        self.step, self.marker, self.deadline_s = step, Path(marker), deadline_s

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step != self.step or not trainer.is_global_zero:
            return
        arrived: list[int] = []
        runs_handler = signal.signal(signal.SIGTERM, lambda signum, frame: arrived.append(signum))
        self.marker.write_text(str(os.getpid()))
        waited = 0.0
        while not arrived:  # Python runs signal handlers in this (the main) thread, between these sleeps
            if waited > self.deadline_s:
                raise RuntimeError(f"PauseAt: no signal within {self.deadline_s} s")
            time.sleep(0.02)  # polling for a signal, not timing anything
            waited += 0.02
        signal.signal(signal.SIGTERM, runs_handler)
        if callable(runs_handler):
            runs_handler(signal.SIGTERM, None)
        else:  # no handler of the run's own: the default action, ending the process
            signal.raise_signal(signal.SIGTERM)


class ReadOnlyAt(Callback):
    """After global step `step`, makes `directory` read-only (before the checkpoint of that epoch's end)."""

    def __init__(self, step: int, directory: str) -> None:
        self.step, self.directory = step, Path(directory)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step and trainer.is_global_zero:
            set_read_only(self.directory, True)


def can_make_read_only(base: Path) -> bool:
    """Whether `set_read_only` works under `base`: chmod does for a normal user; root ignores permission
    bits and needs the immutable attribute (chattr, on ext4 and the like)."""
    if os.geteuid() != 0:
        return True
    if shutil.which("chattr") is None:
        return False
    probe = base / "read-only-probe"
    probe.mkdir()
    try:
        set_read_only(probe, True)
    except subprocess.CalledProcessError:
        return False
    try:
        (probe / "x").touch()
    except PermissionError:
        return True
    finally:
        set_read_only(probe, False)
    return False


def set_read_only(directory: Path, read_only: bool) -> None:
    """Takes away (or gives back) the right to create, replace and delete files in `directory`."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) if read_only else mode | stat.S_IWUSR)
    else:  # root ignores permission bits, not the immutable attribute
        subprocess.run(["chattr", "+i" if read_only else "-i", str(directory)], check=True, capture_output=True)
