"""The motion_npz reader (your own sequences): normalisation by hand, clips, 3DHP-protocol windows,
errors that name the file and field, `hummuss-data check`, and training through Pose3DDataModule."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
from fixtures import write_motion_npz

from hummuss_pl.batch import (
    FPS,
    FRAME,
    INPUT,
    SCALE_MM,
    SEQUENCE,
    SOURCE,
    TARGET_3D,
    TARGET_INDEX,
    VALID,
)
from hummuss_pl.data.check import check_root
from hummuss_pl.data.common import DataFormatError
from hummuss_pl.data.layout import SourceConfig
from hummuss_pl.data.modules import Pose3DDataModule
from hummuss_pl.data.motion_npz import MotionNPZConfig, load_sequences, read_sequence
from hummuss_pl.data.registry import build_source
from hummuss_pl.tasks import Pose3DTask


@pytest.fixture
def data_root(tmp_path):
    write_motion_npz(tmp_path / "motion_npz" / "train" / "walk.npz", 20)
    write_motion_npz(tmp_path / "motion_npz" / "train" / "run.npz", 7)
    valid = np.zeros(6, bool)
    valid[[1, 4]] = True
    write_motion_npz(tmp_path / "motion_npz" / "test" / "dance.npz", 6, valid=valid)
    return tmp_path


def test_normalisation_by_hand(data_root):
    seq = read_sequence(data_root / "motion_npz" / "train" / "walk.npz")
    # frame 3, joint 5: pixel (108, 210) in a 1000 x 500 image → (108 / 1000 · 2 − 1, 210 / 1000 · 2 − 0.5)
    np.testing.assert_allclose(seq.input[3, 5], [-0.784, -0.08, 1.0], atol=1e-6)
    # 3D: (50 + 3, −25, 3005) − root (3, 0, 3000) = (50, −25, 5) mm, · 2 / 1000 per unit
    np.testing.assert_allclose(seq.target[3, 5], [0.1, -0.05, 0.01], atol=1e-6)
    assert seq.scale_mm == 500.0 and seq.fps == 50.0 and seq.valid is None
    np.testing.assert_allclose(seq.target[3, 5] * seq.scale_mm, [50.0, -25.0, 5.0], atol=1e-3)


def test_training_clips_and_pretraining_source(data_root):
    clips = build_source(SourceConfig("motion_npz", clip_len=8, options={"stride": 4}), data_root, "train")
    # run (7 frames) is resampled to one clip; walk (20 frames) gives clips at 0, 4, 8, 12 (16..19 left over)
    assert len(clips) == 5 and clips.report.frames == 27
    sample = clips[1]  # clips are listed by file name: run.npz, then walk.npz
    assert sample[INPUT].shape == (8, 17, 3) and sample[SOURCE] == "motion_npz"
    assert sample[FPS] == 50.0 and sample[SCALE_MM] == 500.0
    np.testing.assert_allclose(sample[TARGET_3D][0, 5] * 500.0, [50.0, -25.0, 5.0], atol=1e-3)  # walk, frame 0


def test_evaluation_windows_and_check(data_root):
    dm = Pose3DDataModule(data_root=str(data_root), source="motion_npz", clip_len=3, anchor="last", batch_size=2, num_workers=0)
    dm.setup("test")
    windows = dm.test_windows
    assert len(windows) == 2  # the two valid frames
    assert [(w[SEQUENCE], w[FRAME], w[TARGET_INDEX]) for w in windows] == [("dance", 1, 2), ("dance", 4, 2)]
    np.testing.assert_array_equal(windows[0][VALID], [False, False, True])  # frames 0 (edge, twice) and 1
    [row] = check_root(data_root)
    assert row.status == "ok" and row.splits == {"train": "2 sequences, 27 frames", "test": "1 sequences, 6 frames"}


def test_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.npz"
    write_motion_npz(path, 4)
    arrays = dict(np.load(path))
    np.savez(path, **{k: v for k, v in arrays.items() if k != "fps"})
    with pytest.raises(DataFormatError, match=r"bad\.npz: missing array\(s\) \['fps'\]"):
        read_sequence(path)
    np.savez(path, **(arrays | {"joints_3d": arrays["joints_3d"][:3]}))
    with pytest.raises(DataFormatError, match=r"bad\.npz: joints_3d: expected shape \(4, 17, 3\)"):
        read_sequence(path)
    nan = arrays["keypoints_2d"].copy()
    nan[0, 0, 0] = np.nan
    np.savez(path, **(arrays | {"keypoints_2d": nan}))
    with pytest.raises(DataFormatError, match="NaN or inf"):
        read_sequence(path)
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="holds no .npz sequences"):
        load_sequences(MotionNPZConfig(str(tmp_path / "empty")))


def test_pose3d_trains_on_it(data_root):
    dm = Pose3DDataModule(data_root=str(data_root), source="motion_npz", clip_len=8, train_stride=4, anchor="last",
                          batch_size=2, num_workers=0)  # fmt: skip
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False, accelerator="cpu")  # fmt: skip
    trainer.fit(Pose3DTask("hummuss-tiny-causal"), dm)
    assert trainer.global_step == 2 and np.isfinite(trainer.callback_metrics["val/mpjpe"].item())
