"""Shared test utilities: run the `hummuss` CLI in-process from a scratch directory."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"


@contextmanager
def working_dir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


def run_cli(args: list[str], cwd: Path):
    """`hummuss <args>` in this process, from `cwd` (runs write checkpoints/ there); returns the CLI.

    Experiment files are given relative to the repository: "experiments/quickstart.yaml".
    """
    from hummuss_pl.cli import HummussCLI

    args = [str(REPO / a) if a.startswith("experiments/") else a for a in args]
    saved = sys.argv
    sys.argv = ["hummuss"]  # LightningCLI must not see pytest's arguments
    try:
        with working_dir(cwd):
            return HummussCLI(args=args)
    finally:
        sys.argv = saved


def read_predictions(cli) -> dict:
    """The one file a `hummuss predict` run wrote (callbacks.PredictionWriter), loaded."""
    import torch

    from hummuss_pl.callbacks import PredictionWriter

    [writer] = [c for c in cli.trainer.callbacks if isinstance(c, PredictionWriter)]
    [path] = writer.written
    assert path.parent.name == cli.run_dir.name and path.name == "predictions.pt"
    return torch.load(path, weights_only=False)
