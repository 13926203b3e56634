"""Human3.6M with Stacked-Hourglass detections: MotionBERT's source pickle and its normalisation.

File: DATA_ROOT/motion3d/h36m_sh_conf_cam_source_final.pkl (from LCN, distributed by MotionBERT),
a dict {"train": {...}, "test": {...}} of per-frame arrays (N frames, 50 fps, 17 joints H36M order):

    joint_2d       (N, 17, 2)      detected 2D, pixels
    confidence     (N, 17) or (N, 17, 1)   detection confidence (optional: 1 when absent)
    joint3d_image  (N, 17, 3)      ground truth: pixel u, v and depth (pixels, relative)
    camera_name    (N,)            '54138969' | '55011271' | '58860488' | '60457274'
    source         (N,)            video id (clips never cross a video)
    test only: joints_2.5d_image (N, 17, 3) mm, 2.5d_factor (N,) mm per pixel, action (N,)

Normalisation (MotionBERT `DataReaderH36M`): the image is res_w × res_h = 1000 × 1002 for cameras
54138969 and 60457274, 1000 × 1000 for the other two;
    2D and label xy:  p / res_w · 2 − [1, res_h / res_w]        label z:  z / res_w · 2
so one normalised unit is res_w / 2 pixels, i.e. res_w / 2 · 2.5d_factor millimetres (SCALE_MM of a
test clip is the clip's mean of that; train frames have no factor, SCALE_MM = 1.0).

`H36MSource` slices the pickle into clips (MotionBERT: 243 frames, stride 81 train / 243 test) and
`convert_h36m` writes them as the MB3D_f243s81/H36M-SH clip store, as `tools/convert_h36m.py` does.
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
    require_keys,
    split_clips,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .motionbert_clips import InputMode, check_input_mode, pretraining_input, write_clip

__all__ = [
    "H36M_FPS",
    "H36M_CAMERA_RESOLUTION",
    "camera_resolution",
    "normalize_h36m",
    "H36MSplit",
    "load_h36m_split",
    "H36MSourceConfig",
    "H36MSource",
    "convert_h36m",
]

H36M_FPS = 50.0
# (res_w, res_h) in pixels per camera (MotionBERT DataReaderH36M).
H36M_CAMERA_RESOLUTION: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
ANCHOR = "human36m-h36m-sh"


def camera_resolution(camera_names, path: str | os.PathLike = "<array>", name: str = "camera_name") -> np.ndarray:
    """(N, 2) float32 (res_w, res_h) per frame; an unknown camera raises naming the first bad frame."""
    names = np.asarray(camera_names).astype(str)
    res = np.zeros((len(names), 2), np.float32)
    known = np.zeros(len(names), bool)
    for cam, wh in H36M_CAMERA_RESOLUTION.items():
        hit = names == cam
        res[hit] = wh
        known |= hit
    if not known.all():
        bad = int(np.flatnonzero(~known)[0])
        raise DataFormatError(
            path, f"{name}[{bad}] = {str(names[bad])!r} is not one of the H36M cameras {sorted(H36M_CAMERA_RESOLUTION)}"
        )
    return res


def normalize_h36m(points: np.ndarray, resolution: np.ndarray) -> np.ndarray:
    """points (N, J, 2|3) in pixels, resolution (N, 2) (w, h) → normalised units (float32):
    xy / w · 2 − [1, h / w], z / w · 2."""
    w = resolution[:, None, 0:1]  # (N, 1, 1)
    h = resolution[:, None, 1:2]
    out = np.asarray(points, np.float32) / w * 2
    out[..., 0] -= 1
    out[..., 1] -= (h / w)[..., 0]
    return out


@dataclass
class H36MSplit:
    """One split of the source pickle, normalised (per frame)."""

    input: np.ndarray  # (N, 17, 3) x, y, confidence
    label: np.ndarray  # (N, 17, 3)
    source: np.ndarray  # (N,) video ids
    resolution: np.ndarray  # (N, 2) res_w, res_h
    factor: np.ndarray | None  # (N,) 2.5d_factor (mm per pixel), test only
    camera: np.ndarray  # (N,) camera names


def load_h36m_split(data: dict, split: str, path: str | os.PathLike, sample_stride: int = 1, need_label: bool = True) -> H36MSplit:
    """Validates and normalises `data[split]` of an H36M-format pickle (also used by the H36M mesh
    pickle, which has the same 2D/camera fields)."""
    require_keys(data, (split,), path)
    d = data[split]
    require_keys(d, ("joint_2d", "camera_name", "source") + (("joint3d_image",) if need_label else ()), path, split)
    s = slice(None, None, sample_stride)
    j2d = require_array(d["joint_2d"], (None, NUM_JOINTS, None), path, f"{split}/joint_2d")
    n = len(j2d)
    if j2d.shape[-1] < 2:
        raise DataFormatError(path, f"{split}/joint_2d: expected (N, 17, 2); got {j2d.shape}")
    camera = require_array(d["camera_name"], (n,), path, f"{split}/camera_name", numeric=False)
    source = require_array(d["source"], (n,), path, f"{split}/source", numeric=False)
    res = camera_resolution(camera[s], path, f"{split}/camera_name")
    xy = normalize_h36m(j2d[s, :, :2], res)  # (N, 17, 2)
    if "confidence" in d:
        conf = require_array(d["confidence"], (n, NUM_JOINTS) if np.ndim(d["confidence"]) == 2 else (n, NUM_JOINTS, 1), path, f"{split}/confidence")
        conf = conf.reshape(n, NUM_JOINTS, 1)[s].astype(np.float32)
    else:
        conf = np.ones((len(xy), NUM_JOINTS, 1), np.float32)
    label = np.zeros((len(xy), NUM_JOINTS, 3), np.float32)
    if need_label:
        label = normalize_h36m(require_array(d["joint3d_image"], (n, NUM_JOINTS, 3), path, f"{split}/joint3d_image")[s], res)
    factor = None
    if "2.5d_factor" in d:
        factor = require_array(d["2.5d_factor"], (n,), path, f"{split}/2.5d_factor")[s].astype(np.float64)
    return H36MSplit(np.concatenate([xy, conf], -1), label, source[s], res, factor, camera[s])


@dataclass(frozen=True)
class H36MSourceConfig:
    """path: the source pickle. clip_len / stride: MotionBERT uses 243 / 81 (train) and 243 / 243
    (test); stride None picks those by split. sample_stride: keep every k-th frame (fps / k).
    input_2d: "auto" / "stored" give the stored detections with their confidence, "projected"
    the label's orthographic xy with confidence 1 (MotionBERT's pretraining input)."""

    path: str
    split: str = "train"
    clip_len: int = 243
    stride: int | None = None
    sample_stride: int = 1
    input_2d: InputMode = "auto"

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"H36MSourceConfig.split must be train or test; got {self.split!r}")
        if self.clip_len < 1 or (self.stride is not None and self.stride < 1) or self.sample_stride < 1:
            raise ValueError(f"H36MSourceConfig: clip_len, stride, sample_stride must be >= 1; got {self}")
        check_input_mode(self.input_2d, "H36MSourceConfig.input_2d")

    @property
    def clip_stride(self) -> int:
        return self.stride if self.stride is not None else (81 if self.split == "train" else self.clip_len)


class H36MSource(Dataset):
    """Clips of the H36M-SH source pickle. Sample keys: INPUT (T, 17, 3), TARGET_3D (T, 17, 3),
    HAS_3D True, FPS, SCALE_MM, SOURCE "h36m". `report` counts frames in no clip."""

    def __init__(self, config: H36MSourceConfig, data: dict | None = None) -> None:
        self.config = config
        path = require_file(config.path, "H36M-SH source pickle", ANCHOR)
        data = load_pickle(path) if data is None else data
        self.split = load_h36m_split(data, config.split, path, config.sample_stride)
        self.clips, rep = split_clips(self.split.source, config.clip_len, config.clip_stride)
        self.report = ReadReport("h36m", str(path), items=len(self.clips), frames=rep.frames, frames_dropped=rep.frames_dropped)
        if rep.resampled_videos:
            self.report.notes.append(f"{rep.resampled_videos} videos shorter than {config.clip_len} frames resampled")
        self.report.log()

    def __len__(self) -> int:
        return len(self.clips)

    def scale_mm(self, idx: np.ndarray) -> float:
        if self.split.factor is None:
            return 1.0
        return float(np.mean(self.split.factor[idx] * self.split.resolution[idx, 0] / 2))

    def __getitem__(self, index: int) -> dict:
        idx = self.clips[index]
        label = self.split.label[idx]  # (T, 17, 3)
        return {
            INPUT: orthographic_input(label) if self.config.input_2d == "projected" else self.split.input[idx],
            TARGET_3D: label,
            HAS_3D: True,
            FPS: H36M_FPS / self.config.sample_stride,
            SCALE_MM: self.scale_mm(idx),
            SOURCE: "h36m",
        }


def convert_h36m(source_pkl: str | os.PathLike, out_root: str | os.PathLike, clip_len: int = 243,
                 stride_train: int = 81, stride_test: int | None = None) -> dict[str, ReadReport]:
    """Writes `out_root/H36M-SH/{train,test}/%08d.pkl` from the source pickle, as MotionBERT's
    `tools/convert_h36m.py` (out_root is the MB3D_f243s81 folder; test stride None = clip_len,
    non-overlapping). Returns the reports per split."""
    data = load_pickle(require_file(source_pkl, "H36M-SH source pickle", ANCHOR))
    reports = {}
    for split, stride in (("train", stride_train), ("test", stride_test)):
        ds = H36MSource(H36MSourceConfig(str(source_pkl), split, clip_len, stride), data=data)
        out = Path(out_root) / "H36M-SH" / split
        out.mkdir(parents=True, exist_ok=True)
        for i, idx in enumerate(ds.clips):
            write_clip(out / f"{i:08d}.pkl", ds.split.input[idx], ds.split.label[idx])
        reports[split] = ds.report
    return reports


# ------------------------------------------------------------------------------------ registry
def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    return H36MSource(H36MSourceConfig(path=str(path), split=split, **cfg.reader_options(), **pretraining_input(cfg, split)))


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    data = load_pickle(path)  # once for both splits
    for split in ("train", "test"):
        note_split(row, split, H36MSource(H36MSourceConfig(str(path), split), data=data).report, "clips")
    return [row]


_PATH = "motion3d/h36m_sh_conf_cam_source_final.pkl"
READER = Reader(
    datasets=(DatasetLayout("h36m", "H36M-SH source", _PATH, (_PATH,), "human36m-h36m-sh", _check),),
    sources={"h36m_source": SourceSpec(_build, "h36m")},
)
