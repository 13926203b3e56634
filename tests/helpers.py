"""Shared test utilities: run the `hummuss` CLI in-process from a scratch directory."""

from __future__ import annotations

import json
import os
import struct
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
# The quickstart recipe with a tiny causal HumMUSS: 3 training batches of 4 clips per epoch, one validation
# batch, no logger or progress bar; for runs whose results, not their speed, a test checks.
TINY_QUICKSTART = ["--config", "experiments/quickstart.yaml", "--model.init_args.backbone", "hummuss-tiny-causal",
                   "--data.init_args.batch_size", "4", "--data.init_args.num_workers", "0", "--trainer.limit_train_batches", "3",
                   "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
                   "--trainer.callbacks", "[]"]  # fmt: skip


# `hummuss fit` of the quickstart recipe for one training and one validation batch: a real checkpoint, quickly.
ONE_BATCH_FIT = ["fit", "--config", "experiments/quickstart.yaml", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
                 "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]",
                 "--trainer.logger", "false", "--data.init_args.num_workers", "0"]  # fmt: skip


def tiny_checkpoints(tmp_path_factory, backbones: tuple[str, ...]) -> dict[str, Path]:
    """The `last.ckpt` that `ONE_BATCH_FIT` writes for each backbone preset, each in its own folder."""
    out = {}
    for backbone in backbones:
        folder = tmp_path_factory.mktemp(backbone)
        run_cli([*ONE_BATCH_FIT, "--model.init_args.backbone", backbone], folder)
        out[backbone] = folder / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"
    return out


@contextmanager
def working_dir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


def run_cli(args: list[str], cwd: Path, run: bool = True):
    """`hummuss <args>` in this process, from `cwd` (runs write checkpoints/ there); returns the CLI.

    Experiment files are given relative to the repository: "experiments/quickstart.yaml".
    run=False: only parse and instantiate (`args` without a subcommand), as `LightningCLI(run=False)`.
    """
    from hummuss_pl.cli import HummussCLI

    args = [str(REPO / a) if a.startswith("experiments/") else a for a in args]
    saved = sys.argv
    sys.argv = ["hummuss"]  # LightningCLI must not see pytest's arguments
    try:
        with working_dir(cwd):
            return HummussCLI(args=args, run=run)
    finally:
        sys.argv = saved


def hummuss_error(args: list[str], cwd: Path) -> list[str]:
    """`hummuss <args>` (cli.main, in this process, from `cwd`) when it stops with an error: the lines it exits with."""
    import pytest

    from hummuss_pl.cli import main

    args = [str(REPO / a) if a.startswith("experiments/") else a for a in args]
    saved = sys.argv
    sys.argv = ["hummuss"]
    try:
        with working_dir(cwd), pytest.raises(SystemExit) as stop:
            main(args)
    finally:
        sys.argv = saved
    assert isinstance(stop.value.code, str), f"exit status {stop.value.code}, not an error message"
    return stop.value.code.splitlines()


def read_predictions(cli) -> dict:
    """The one file a `hummuss predict` run wrote (callbacks.PredictionWriter), loaded."""
    import torch

    from hummuss_pl.callbacks import PredictionWriter

    [writer] = [c for c in cli.trainer.callbacks if isinstance(c, PredictionWriter)]
    [path] = writer.written
    assert path.parent.name == cli.run_dir.name and path.name == "predictions.pt"
    return torch.load(path, weights_only=False)


def wandb_offline_config(run_file: Path) -> dict:
    """The config an offline W&B run recorded, read from its `run-<id>.wandb` file: a LevelDB-style log
    (a 7-byte file header, 32 KiB blocks, each record chunk behind a 7-byte crc/length/type header) of
    protobuf `Record`s; later config updates win."""
    from wandb.proto import wandb_internal_pb2

    raw = run_file.read_bytes()
    assert raw[:4] == b":W&B", f"{run_file} is not a W&B run file"
    block, header = 32768, 7
    records, pending, pos = [], b"", header
    while pos + header <= len(raw):
        room = block - pos % block
        if room < header:  # a block's tail too short for a chunk header is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos : pos + header])
        if kind == 0:
            break
        chunk = raw[pos + header : pos + header + length]
        pos += header + length
        pending = chunk if kind in (1, 2) else pending + chunk  # 1 full, 2 first, 3 middle, 4 last
        if kind in (1, 4):
            records.append(pending)
    config: dict = {}
    for data in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
    return config


def saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd saves while `fn()` runs."""
    import torch

    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def spy(monkeypatch, owner, name: str) -> list[tuple]:
    """Replaces `owner.name` (a module's function) by one that records each call's positional
    arguments and then calls the original; returns the list the calls are recorded in."""
    calls, original = [], getattr(owner, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls
