"""What a run reports is what happened: a `--ckpt_path` checkpoint of another backbone or task is refused
(not trained in place of the configured model), a truncated checkpoint is named in one line wherever it is
read, and checkpoints that could not be written stop the run instead of being reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY_QUICKSTART, hummuss_error, run_cli
from stop_points import can_make_read_only, set_read_only

from hummuss_pl import stream
from hummuss_pl.models import BACKBONE_PRESETS

HINT = "(HUMMUSS_TRACEBACK=1 shows the full traceback)"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """One-step pretraining checkpoints of two tiny backbones, and a copy of the HumMUSS one cut in half."""
    made = {}
    for backbone in ("hummuss-tiny-causal", "motionbert-tiny-causal"):
        cwd = tmp_path_factory.mktemp(backbone)
        cli = run_cli(["fit", *TINY_QUICKSTART, "--model.init_args.backbone", backbone, "--trainer.max_steps", "1"], cwd)
        made[backbone] = cwd / cli.run_dir / "last.ckpt"
    data = made["hummuss-tiny-causal"].read_bytes()
    made["truncated"] = tmp_path_factory.mktemp("truncated") / "last.ckpt"
    made["truncated"].write_bytes(data[: len(data) // 2])
    return made


# ------------------------------------------------------------------------------------ another backbone
def test_a_checkpoint_of_another_backbone_family_is_refused(tmp_path, checkpoints):
    motionbert = checkpoints["motionbert-tiny-causal"]
    lines = hummuss_error(["fit", *TINY_QUICKSTART, "--ckpt_path", str(motionbert)], tmp_path)
    assert lines == [(f"hummuss: error: --ckpt_path {motionbert} holds a motionbert-tiny-causal backbone but the configuration builds a "
                      "hummuss-tiny-causal: set --model.init_args.backbone to the checkpoint's, or give a checkpoint of this backbone"), HINT]  # fmt: skip
    assert not list((tmp_path / "checkpoints").rglob("*.ckpt"))  # nothing trained


def test_a_checkpoint_of_another_size_is_refused_for_fit_and_test(tmp_path, checkpoints):
    tiny = checkpoints["hummuss-tiny-causal"]
    small = [*TINY_QUICKSTART, "--model.init_args.backbone", "hummuss-small-causal"]
    for subcommand in ("fit", "test"):
        [line, _] = hummuss_error([subcommand, *small, "--ckpt_path", str(tiny)], tmp_path)
        assert line.startswith(f"hummuss: error: --ckpt_path {tiny} holds a hummuss-tiny-causal backbone but the configuration builds a hummuss-small-causal:")


def test_ckpt_path_last_of_another_backbone_is_one_line_not_a_key_dump(tmp_path, checkpoints):
    run = tmp_path / "checkpoints" / "quickstart" / "version_0"
    run.mkdir(parents=True)
    shutil.copy(checkpoints["hummuss-tiny-causal"], run / "last.ckpt")
    lines = hummuss_error(["fit", *TINY_QUICKSTART, "--model.init_args.backbone", "hummuss-small-causal", "--ckpt_path", "last"], tmp_path)
    assert lines[0].startswith("hummuss: error: --ckpt_path checkpoints/quickstart/version_0/last.ckpt holds a hummuss-tiny-causal backbone")
    assert len(lines) == 2


def test_a_checkpoint_of_another_task_is_refused(tmp_path, checkpoints):
    tiny = checkpoints["hummuss-tiny-causal"]
    args = ["test", "--config", "experiments/finetune/pose3d_3dhp.yaml", "--data.init_args.synthetic", "true",
            "--model.init_args.backbone", "hummuss-tiny-causal", "--model.init_args.pretrained", "null", "--ckpt_path", str(tiny)]  # fmt: skip
    [line, _] = hummuss_error(args, tmp_path)
    assert line.startswith(f"hummuss: error: --ckpt_path {tiny} was written by PretrainTask but the configuration runs Pose3DTask")


def test_the_same_backbone_resumes(tmp_path, checkpoints):
    cli = run_cli(["fit", *TINY_QUICKSTART, "--trainer.max_steps", "2", "--ckpt_path", str(checkpoints["hummuss-tiny-causal"])], tmp_path)
    assert cli.trainer.global_step == 2 and cli.model.backbone_cfg == BACKBONE_PRESETS["hummuss-tiny-causal"]


def test_a_best_checkpoint_kept_from_another_run_is_labelled_in_the_summary(tmp_path):
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    first = run_cli(["fit", *TINY_QUICKSTART, "--trainer.max_epochs", "1"], tmp_path / "first")
    other = tmp_path / "first" / first.run_dir / "last.ckpt"
    # resumed into a new run directory with nothing left to train: the only best checkpoint is the first run's
    cli = run_cli(["fit", *TINY_QUICKSTART, "--trainer.max_epochs", "1", "--ckpt_path", str(other)], tmp_path / "second")
    [best] = [line for line in cli.summary if line.startswith("  best checkpoint: ")]
    assert best.startswith(f"  best checkpoint: {other.parent.resolve()}/best-epoch000-")
    assert best.endswith("(written by the run this one resumed from; none was better here)")


# ------------------------------------------------------------------------------------ truncated checkpoints
def truncated_line(path: Path) -> str:
    return f"{path}: truncated or not a checkpoint (RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory"


@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_a_truncated_ckpt_path_is_one_line_naming_it(tmp_path, checkpoints, subcommand):
    path = checkpoints["truncated"]
    [line, hint] = hummuss_error([subcommand, *TINY_QUICKSTART, "--ckpt_path", str(path)], tmp_path)
    assert line.startswith("hummuss: error: " + truncated_line(path)) and hint == HINT


def test_truncated_pretrained_weights_are_one_line_naming_them(tmp_path, checkpoints):
    path = checkpoints["truncated"]
    args = ["fit", *TINY_QUICKSTART, "--model.init_args.pretrained", str(path), "--trainer.max_steps", "1"]
    [line, hint] = hummuss_error(args, tmp_path)
    assert line.startswith("hummuss: error: " + truncated_line(path)) and hint == HINT


def test_hummuss_stream_names_a_truncated_checkpoint(tmp_path, checkpoints):
    keypoints = tmp_path / "clip.npy"
    np.save(keypoints, np.zeros((5, 17, 3), np.float32))
    with pytest.raises(SystemExit) as stop:
        stream.main([str(checkpoints["truncated"]), str(keypoints), "--device", "cpu"])
    assert str(stop.value.code).startswith("hummuss-stream: " + truncated_line(checkpoints["truncated"]))
    assert "\n" not in str(stop.value.code)


# ------------------------------------------------------------------------------------ checkpoints not written
@pytest.fixture
def read_only_ok(tmp_path):
    if not can_make_read_only(tmp_path):
        pytest.skip("cannot take write access away here (root without a filesystem that supports chattr +i)")


def test_a_read_only_checkpoints_folder_stops_the_run_before_it_starts(tmp_path, read_only_ok):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    set_read_only(folder, True)
    try:
        [line, hint] = hummuss_error(["fit", *TINY_QUICKSTART, "--trainer.max_steps", "1"], tmp_path)
    finally:
        set_read_only(folder, False)
    assert line.startswith("hummuss: error: cannot write to the run directory checkpoints/quickstart/version_0/ (")
    assert line.endswith("make it writable or run from another directory") and hint == HINT


def test_a_checkpoint_that_could_not_be_written_stops_the_run(tmp_path, read_only_ok):
    run = tmp_path / "checkpoints" / "quickstart" / "version_0"
    # read-only after step 2 of 3: the end-of-epoch checkpoints (best, last.ckpt) cannot be written
    read_only = json.dumps([{"class_path": "stop_points.ReadOnlyAt", "init_args": {"step": 2, "directory": str(run)}}])
    try:
        [line, hint] = hummuss_error(["fit", *TINY_QUICKSTART, "--trainer.max_epochs", "1", "--trainer.callbacks", read_only], tmp_path)
    finally:
        set_read_only(run, False)
    folder = run.resolve()  # ModelCheckpoint names its files by their real path
    assert line.startswith(f"hummuss: error: checkpoint {folder}/best-epoch000-mpjpe"), line
    assert line.endswith(f".ckpt was not written (the file does not exist after saving); check that {folder}/ is writable and its disk "
                         "has space. Training stopped so that no more steps go unrecorded")  # fmt: skip
    assert hint == HINT and not list(run.glob("*.ckpt"))
