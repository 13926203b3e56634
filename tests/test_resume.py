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

from pathlib import Path

import pytest
import torch
from helpers import run_cli

RUN = Path("checkpoints") / "quickstart" / "version_0"
TWO_PHASES = '[{"start_epoch": 0, "sources": ["synthetic_3d"]}, {"start_epoch": 1, "sources": ["synthetic_3d", "synthetic_2d"]}]'
ONE_PHASE = '[{"start_epoch": 0, "sources": ["synthetic_3d", "synthetic_2d"]}]'
# A tiny causal HumMUSS on the quickstart data: 3 batches of 4 clips per epoch, one validation batch.
TINY = ["--config", "experiments/quickstart.yaml", "--model.init_args.backbone", "hummuss-tiny-causal",
        "--data.init_args.batch_size", "4", "--data.init_args.num_workers", "0", "--trainer.limit_train_batches", "3",
        "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
        "--trainer.callbacks", "[]"]  # fmt: skip
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
