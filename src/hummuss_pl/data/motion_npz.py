"""Your own motion: one `.npz` per sequence, 2D keypoints in pixels and 3D joints in millimetres.

For motion capture or any 2D + 3D recordings that are not one of the public datasets. Files
(DATA_ROOT/motion_npz/{train,test}/<name>.npz), one camera view of one sequence each:

    keypoints_2d  (F, 17, 2) or (F, 17, 3)  pixels (x right, y down) [+ confidence], H36M-17 order
    joints_3d     (F, 17, 3)                millimetres, camera coordinates, H36M-17 order
    image_size    (2,)                      width, height in pixels
    fps           ()                        frames per second
    valid         (F,) bool, optional       frames to evaluate (default: all)

Normalised as MPI-INF-3DHP is (the P-STMO convention): 2D as MotionBERT's screen coordinates
(x / w · 2 − 1, y / w · 2 − h / w), 3D root-relative in the same units ((X − X_root) · 2 / w), so
SCALE_MM = w / 2. Training splits are cut into clips (`clip_len`, `stride`); held-out splits give
3DHP-protocol evaluation windows (Pose3DDataModule) and clips for pretraining validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import normalize_screen
from hummuss_pl.skeleton import NUM_JOINTS

from .common import (
    CheckResult,
    DataFormatError,
    report_problems,
    require_array,
    require_file,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .windows import EvaluationWindows, MotionSequence, SequenceClips, WindowSpec

SOURCE_NAME = "motion_npz"
ANCHOR = "your-own-motion-motion_npz"


def read_sequence(path: Path) -> MotionSequence:
    """One .npz file as a normalised sequence; errors name the file and the field."""
    try:
        with np.load(path, allow_pickle=False) as f:
            fields = {key: f[key] for key in f.files}
    except Exception as e:  # not an npz, or holding pickled objects
        raise DataFormatError(path, f"cannot be read as an .npz of arrays ({type(e).__name__}: {e})") from e
    missing = [k for k in ("keypoints_2d", "joints_3d", "image_size", "fps") if k not in fields]
    if missing:
        raise DataFormatError(path, f"missing array(s) {missing}; found {sorted(fields)}")
    kp = require_array(fields["keypoints_2d"], (None, NUM_JOINTS, None), path, "keypoints_2d").astype(np.float32)
    if kp.shape[-1] not in (2, 3) or len(kp) == 0:
        raise DataFormatError(path, f"keypoints_2d: expected (F, 17, 2) or (F, 17, 3) with F > 0; got {kp.shape}")
    joints = require_array(fields["joints_3d"], (len(kp), NUM_JOINTS, 3), path, "joints_3d").astype(np.float32)
    w, h = require_array(fields["image_size"], (2,), path, "image_size").astype(np.float64)
    fps = float(require_array(fields["fps"], (), path, "fps"))
    if not (w > 0 and h > 0 and fps > 0):
        raise DataFormatError(path, f"image_size and fps must be positive; got {(w, h)} and {fps}")
    if not (np.isfinite(kp).all() and np.isfinite(joints).all()):
        raise DataFormatError(path, "keypoints_2d / joints_3d contain NaN or inf; mark missing 2D joints with confidence 0")
    valid = require_array(fields["valid"], (len(kp),), path, "valid").astype(bool) if "valid" in fields else None
    conf = kp[..., 2:] if kp.shape[-1] == 3 else np.ones_like(kp[..., :1])
    model_input = np.concatenate([normalize_screen(kp[..., :2], w, h), conf], -1)  # (F, 17, 3)
    target = ((joints - joints[:, :1]) * np.float32(2 / w)).astype(np.float32)  # (F, 17, 3), root-relative
    return MotionSequence(path.stem, model_input, target, fps, w / 2, valid)


@dataclass(frozen=True)
class MotionNPZConfig:
    """root: the motion_npz folder; split: its subfolder; clip_len / stride: training clips."""

    root: str
    split: str = "train"
    clip_len: int = 243
    stride: int = 81

    @property
    def folder(self) -> Path:
        return Path(self.root) / self.split


def load_sequences(config: MotionNPZConfig) -> list[MotionSequence]:
    folder = require_file(config.folder, f"motion_npz split {config.split!r}", ANCHOR, directory=True)
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise DataFormatError(folder, "holds no .npz sequences")
    return [read_sequence(path) for path in files]


# ------------------------------------------------------------------------------------ registry
def _config(cfg: SourceConfig, path: Path | None, split: str) -> MotionNPZConfig:
    return MotionNPZConfig(str(path), "train" if split == "train" else "test", **cfg.reader_options())


def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    config = _config(cfg, path, split)
    clips = SequenceClips(load_sequences(config), config.clip_len, config.stride, SOURCE_NAME, str(config.folder))
    clips.report.log()
    return clips


def _windows(cfg: SourceConfig, path: Path | None, spec: WindowSpec) -> Dataset:
    config = _config(cfg, path, "test")
    windows = EvaluationWindows(load_sequences(config), spec, SOURCE_NAME, str(config.folder))
    windows.report.log()
    return windows


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    for split in ("train", "test"):
        if (path / split).is_dir():
            clips = _build(SourceConfig(SOURCE_NAME), path, split)
            row.splits[split] = f"{len(clips.sequences)} sequences, {clips.report.frames} frames"
            report_problems(row, split, clips.report)
    return [row]


READER = Reader(
    datasets=(DatasetLayout(SOURCE_NAME, "Your own motion (npz)", "motion_npz", anchor=ANCHOR, check=_check),),
    sources={SOURCE_NAME: SourceSpec(_build, SOURCE_NAME, windows=_windows)},
)
