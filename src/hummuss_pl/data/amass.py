"""AMASS as MotionBERT pretrains on it: H36M-17 joints at 60 fps, rotated to camera axes, scaled.

File: DATA_ROOT/AMASS/amass_joints_h36m_60.pkl, written by MotionBERT's `tools/preprocess_amass.py`
(after `compress_amass.py` took every round(fps/60)-th frame): a pickled *list* of arrays, one per
motion, each (17, T, 3) = H36M joints (`J_regressor_h36m_correct` @ SMPL-H vertices) in metres,
AMASS world axes (z up).

Conversion (MotionBERT `tools/convert_amass.py`): per motion, (17, T, 3) → (T, 17, 3), row vectors
times real2cam = [[1,0,0],[0,0,1],[0,-1,0]], i.e. (x, y, z) → (x, −z, y) (y down, like an image),
times 0.298 (brings metres near H36M's normalised scale), no centring. Clips: 243 frames, stride 81
(`split_clips`). The stored clip has `data_input: None`; the 2D input is the orthographic xy of the
label with confidence 1. One unit is 1 / 0.298 m, so SCALE_MM = 1000 / 0.298.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import FPS, HAS_3D, INPUT, SCALE_MM, SOURCE, TARGET_3D
from hummuss_pl.skeleton import NUM_JOINTS

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    load_pickle,
    note_split,
    orthographic_input,
    require_array,
    require_file,
    split_clips,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .motionbert_clips import KNOWN_SUBSETS, write_clip

__all__ = ["AMASS_FPS", "AMASS_SCALE", "AMASS_REAL2CAM", "amass_to_camera", "AMASSJointsConfig", "AMASSJoints", "convert_amass"]

AMASS_FPS = 60.0
AMASS_SCALE = 0.298
AMASS_REAL2CAM = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)
ANCHOR = "amass"
assert abs(KNOWN_SUBSETS["AMASS"].scale_mm - 1000.0 / AMASS_SCALE) < 1e-9


def amass_to_camera(joints: np.ndarray) -> np.ndarray:
    """One motion (17, T, 3) in metres, z up → (T, 17, 3) float32 in MotionBERT's units."""
    motion = np.transpose(np.asarray(joints, np.float32), (1, 0, 2))  # (T, 17, 3)
    return (motion @ AMASS_REAL2CAM) * np.float32(AMASS_SCALE)


def load_amass_joints(path: str | os.PathLike) -> list[np.ndarray]:
    """The list of (17, T, 3) motions, each checked (errors name the motion index)."""
    data = load_pickle(path)
    if not isinstance(data, (list, tuple)):
        raise DataFormatError(path, f"expected a list of (17, T, 3) arrays; got {type(data).__name__}")
    return [require_array(m, (NUM_JOINTS, None, 3), path, f"motion [{i}]") for i, m in enumerate(data)]


@dataclass(frozen=True)
class AMASSJointsConfig:
    path: str
    clip_len: int = 243
    stride: int = 81

    def __post_init__(self) -> None:
        if self.clip_len < 1 or self.stride < 1:
            raise ValueError(f"AMASSJointsConfig: clip_len and stride must be >= 1; got {self.clip_len}, {self.stride}")


class AMASSJoints(Dataset):
    """Clips straight from `amass_joints_h36m_60.pkl` (the same values the converted clip store holds).

    Sample keys: INPUT (T, 17, 3) orthographic xy + conf 1, TARGET_3D (T, 17, 3), HAS_3D True,
    FPS 60, SCALE_MM 1000/0.298, SOURCE "amass". `report` counts trailing frames in no clip.
    """

    def __init__(self, config: AMASSJointsConfig) -> None:
        self.config = config
        path = require_file(config.path, "AMASS joints pickle (amass_joints_h36m_60.pkl)", ANCHOR)
        motions = load_amass_joints(path)
        if not motions:
            raise DataFormatError(path, "holds no motions")
        self.motion = np.concatenate([amass_to_camera(m) for m in motions])  # (ΣT, 17, 3)
        ids = np.concatenate([np.full(m.shape[1], i) for i, m in enumerate(motions)])
        self.clips, rep = split_clips(ids, config.clip_len, config.stride)
        self.report = ReadReport("amass", str(path), items=len(self.clips), frames=rep.frames, frames_dropped=rep.frames_dropped)
        if rep.resampled_videos:
            self.report.notes.append(f"{rep.resampled_videos} motions shorter than {config.clip_len} frames resampled")
        self.report.log()

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        label = self.motion[self.clips[index]]  # (T, 17, 3)
        return {
            INPUT: orthographic_input(label),
            TARGET_3D: label,
            HAS_3D: True,
            FPS: AMASS_FPS,
            SCALE_MM: 1000.0 / AMASS_SCALE,
            SOURCE: "amass",
        }


def convert_amass(joints_pkl: str | os.PathLike, out_root: str | os.PathLike, clip_len: int = 243, stride: int = 81) -> ReadReport:
    """Writes `out_root/AMASS/train/%08d.pkl` ({'data_input': None, 'data_label': (T, 17, 3)}) as
    MotionBERT's `tools/convert_amass.py` (out_root is the MB3D_f243s81 folder)."""
    ds = AMASSJoints(AMASSJointsConfig(str(joints_pkl), clip_len, stride))
    out = Path(out_root) / "AMASS" / "train"
    out.mkdir(parents=True, exist_ok=True)
    for i, idx in enumerate(ds.clips):
        write_clip(out / f"{i:08d}.pkl", None, ds.motion[idx])
    return ds.report


# ------------------------------------------------------------------------------------ registry
def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    return AMASSJoints(AMASSJointsConfig(path=str(path), **cfg.reader_options()))


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    note_split(row, "train", AMASSJoints(AMASSJointsConfig(str(path))).report, "clips")
    return [row]


_PATH = "AMASS/amass_joints_h36m_60.pkl"
READER = Reader(
    datasets=(DatasetLayout("amass", "AMASS joints", _PATH, (_PATH,), "amass", _check),),
    sources={"amass_joints": SourceSpec(_build, "amass", eval_split=None)},  # training data only
)
