"""InstaVariety 2D clips for pretraining (L_2D), as MotionBERT's `InstaVDataset2D` reads them.

Files (MotionBERT's preprocessed release, DATA_ROOT/motion2d/InstaVariety/):
    motion_all.npy  (ΣF, 17, 3)  H36M order, x, y, confidence; each source clip was already
                                 `crop_scale`d and moved so its first-frame root is at the origin
                                 (`tools/convert_insta.py`); belly and head are 0 (not detected)
    id_all.npy      (ΣF,)        the source-clip id of every frame

Processing: `split_clips(id_all, 81, 27)`; keep clips whose first-frame root confidence is above
`valid_threshold` (0; the others are counted as dropped); per item, `crop_scale` with a ratio from
U(scale_range) and joints with confidence 0 set to 0. The ratio is drawn from the generator
`item(index, rng)` is given (an `AugmentedDataset`): in PretrainDataModule that of (module seed,
epoch, index), a fresh draw every epoch; `dataset[i]` uses the epoch-0 generator of `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import sample_2d_only

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    check_scale_range,
    crop_scale,
    note_split,
    require_array,
    require_file,
    split_clips,
    uniform_ratio,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .sampling import AugmentedDataset

__all__ = ["InstaVarietyConfig", "InstaVariety2D", "load_instavariety"]

ANCHOR = "instavariety"
FILES = ("motion_all.npy", "id_all.npy")


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataFormatError(path, f"cannot be read as an .npy array ({type(e).__name__}: {e})") from e


def load_instavariety(root: str) -> tuple[np.ndarray, np.ndarray]:
    """(motion (ΣF, 17, 3) float32, ids (ΣF,)) checked against each other."""
    mpath = require_file(Path(root) / FILES[0], "InstaVariety motion_all.npy", ANCHOR)
    ipath = require_file(Path(root) / FILES[1], "InstaVariety id_all.npy", ANCHOR)
    motion = require_array(_load_npy(mpath), (None, 17, 3), mpath, "motion_all").astype(np.float32)
    ids = require_array(_load_npy(ipath), (len(motion),), ipath, f"id_all (one id per frame of motion_all, {len(motion)})")
    return motion, ids


@dataclass(frozen=True)
class InstaVarietyConfig:
    """root: the folder holding motion_all.npy and id_all.npy.
    seed: the crop ratios of `dataset[i]` (DataModules draw them per (module seed, epoch, index)
    instead). fps: not in the files (Instagram videos)."""

    root: str
    clip_len: int = 81
    stride: int = 27
    valid_threshold: float = 0.0
    scale_range: tuple[float, float] = (0.25, 1.0)
    seed: int = 0
    fps: float = 30.0

    def __post_init__(self) -> None:
        if self.clip_len < 1 or self.stride < 1:
            raise ValueError(f"InstaVarietyConfig: clip_len and stride must be >= 1; got {self.clip_len}, {self.stride}")
        check_scale_range(self.scale_range, "InstaVarietyConfig.scale_range")


class InstaVariety2D(AugmentedDataset):
    """Sample keys: INPUT (T, 17, 3) in [-1, 1], TARGET_3D zeros, HAS_3D False, FPS, SCALE_MM 1.0,
    SOURCE "instavariety"."""

    def __init__(self, config: InstaVarietyConfig) -> None:
        self.config, self.seed = config, config.seed
        self.motion, ids = load_instavariety(config.root)
        clips, rep = split_clips(ids, config.clip_len, config.stride)
        self.report = ReadReport("instavariety", config.root, frames=rep.frames, frames_dropped=rep.frames_dropped)
        keep = [idx for idx in clips if self.motion[idx[0], 0, 2] > config.valid_threshold]
        self.report.drop(f"clips with first-frame root confidence <= {config.valid_threshold:g}", len(clips) - len(keep))
        if rep.resampled_videos:
            self.report.notes.append(f"{rep.resampled_videos} clips shorter than {config.clip_len} frames resampled")
        self.clips = keep
        self.report.items = len(keep)
        self.report.log()

    def __len__(self) -> int:
        return len(self.clips)

    def item(self, index: int, rng: np.random.Generator) -> dict:
        """Clip `index`, crop_scale'd with a ratio drawn from `rng`."""
        motion = crop_scale(self.motion[self.clips[index]], uniform_ratio(self.config.scale_range, rng))
        motion[motion[..., 2] == 0] = 0  # (T, 17, 3)
        return sample_2d_only(motion, self.config.fps, "instavariety")


# ------------------------------------------------------------------------------------ registry
def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    return InstaVariety2D(InstaVarietyConfig(root=str(path), **cfg.reader_options()))


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    note_split(row, "train", InstaVariety2D(InstaVarietyConfig(str(path))).report, "clips")
    return [row]


_FOLDER = "motion2d/InstaVariety"
READER = Reader(
    datasets=(DatasetLayout("instavariety", "InstaVariety", _FOLDER, (f"{_FOLDER}/motion_all.npy", f"{_FOLDER}/id_all.npy"),
                            "instavariety", _check),),  # fmt: skip
    # detections, not ground truth: pretraining adds no keypoint noise (MotionBERT's has_gt=False)
    sources={"instavariety": SourceSpec(_build, "instavariety", has_3d=False, eval_split=None, noise=False)},
)
