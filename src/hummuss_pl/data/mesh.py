"""Mesh-recovery pickles of MotionBERT: 3DPW, COCO and H36M with SMPL parameters (+ HybrIK).

Files (DATA_ROOT/mesh/):
    mesh_det_pw3d.pkl, mesh_det_coco.pkl, mesh_det_h36m.pkl                      (main branch)
    mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl, mesh_det_coco_w_hybrik_pred.pkl,
    mesh_det_h36m_w_hybrik_pred.pkl                                             (`refine` branch)

each {"train": {...}, "test": {...}} of per-frame arrays (N frames):
    joint_2d    (N, 17, 2) H36M order, pixels        confidence (N, 17) or (N, 17, 1)
    smpl_pose   (N, 72) axis-angle                   smpl_shape (N, 10)
    source      (N,) video id (clips never cross it)
    HybrIK variants add pred_smpl_pose (N, 72), pred_smpl_shape (N, 10)
    mesh_det_h36m also has camera_name (normalised as h36m.py)

Normalisation (MotionBERT `DataReaderMesh`): x / res · 2 − [1, res_h / res_w] with res = 1920 × 1920
for 3DPW and 640 × 640 for COCO (so both offsets are 1); H36M uses its camera resolutions.
Confidence is clipped to [0, 1]. Clips (`split_clips` within `source`): 3DPW / H36M 16 frames,
stride 8 (train) or 16 (test); COCO single frames (T = 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import (
    FPS,
    HAS_3D,
    HYBRIK_POSE,
    HYBRIK_SHAPE,
    INPUT,
    SCALE_MM,
    SMPL_POSE,
    SMPL_SHAPE,
    SOURCE,
    normalize_screen,
)
from hummuss_pl.models.heads import load_mean_params
from hummuss_pl.models.smpl import (
    H36M_REGRESSOR_FILE,
    MEAN_PARAMS_FILE,
    MODEL_FILE_NAME,
    SMPL,
    load_smpl_model_file,
    smpl_files,
)

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    load_pickle,
    load_pickle_once,
    note_split,
    require_array,
    require_file,
    require_keys,
    split_clips,
)
from .h36m import H36M_FPS, load_h36m_split
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec

__all__ = ["MESH_FILES", "MESH_RESOLUTION", "MeshConfig", "MeshClips", "mesh_dataset_of"]

MeshName = Literal["pw3d", "coco", "h36m"]
ANCHOR = "mesh-3dpw-coco-h36m"
MESH_FILES: dict[str, tuple[str, str]] = {  # dataset -> (plain file, HybrIK file)
    "pw3d": ("mesh_det_pw3d.pkl", "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl"),
    "coco": ("mesh_det_coco.pkl", "mesh_det_coco_w_hybrik_pred.pkl"),
    "h36m": ("mesh_det_h36m.pkl", "mesh_det_h36m_w_hybrik_pred.pkl"),
}
MESH_RESOLUTION = {"pw3d": (1920, 1920), "coco": (640, 640)}  # (res_w, res_h)
# The splits the suite reads (MotionBERT's mesh recipe: COCO and H36M train only, 3DPW is also the test
# set). `hummuss-data check` requires these and reads any other split a file has.
MESH_SPLITS = {"pw3d": ("train", "test"), "coco": ("train",), "h36m": ("train",)}
MESH_FPS = {"pw3d": 30.0, "coco": 30.0, "h36m": H36M_FPS}  # COCO: single images, nominal rate
REQUIRED = ("joint_2d", "confidence", "smpl_pose", "smpl_shape", "source")
HYBRIK = ("pred_smpl_pose", "pred_smpl_shape")


def mesh_dataset_of(path: str | os.PathLike) -> str:
    """pw3d / coco / h36m from a MotionBERT mesh file name."""
    name = Path(path).name
    for key in MESH_FILES:
        if name.startswith(f"mesh_det_{key}"):
            return key
    raise ValueError(f"cannot tell the dataset of {name!r}: expected mesh_det_{{pw3d,coco,h36m}}*.pkl, or set MeshConfig.dataset")


@dataclass(frozen=True)
class MeshConfig:
    """path: a mesh_det_*.pkl. dataset: None = from the file name. clip_len: 16 (COCO is forced to 1).
    stride: None = 8 (train) / clip_len (test). hybrik: None = read HybrIK fields when present,
    True = require them, False = ignore them. res: override the (res_w, res_h) of 3DPW / COCO."""

    path: str
    split: str = "train"
    dataset: MeshName | None = None
    clip_len: int = 16
    stride: int | None = None
    hybrik: bool | None = None
    res: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"MeshConfig.split must be train or test; got {self.split!r}")
        if self.clip_len < 1 or (self.stride is not None and self.stride < 1):
            raise ValueError(f"MeshConfig: clip_len and stride must be >= 1; got {self.clip_len}, {self.stride}")
        if self.dataset is not None and self.dataset not in MESH_FILES:
            raise ValueError(f"MeshConfig.dataset must be one of {list(MESH_FILES)}; got {self.dataset!r}")

    @property
    def name(self) -> str:
        return self.dataset or mesh_dataset_of(self.path)

    @property
    def frames(self) -> int:
        return 1 if self.name == "coco" else self.clip_len

    @property
    def clip_stride(self) -> int:
        if self.name == "coco":
            return 1
        return self.stride if self.stride is not None else (8 if self.split == "train" else self.clip_len)


class MeshClips(Dataset):
    """Sample keys: INPUT (T, 17, 3), SMPL_POSE (T, 72), SMPL_SHAPE (T, 10), [HYBRIK_POSE (T, 72),
    HYBRIK_SHAPE (T, 10)], HAS_3D False, FPS, SCALE_MM 1.0, SOURCE "pw3d" | "coco" | "h36m_mesh"."""

    def __init__(self, config: MeshConfig, data: dict | None = None, source: str | None = None) -> None:
        """`data`: the already unpickled file (to read both splits without loading it again), or the
        same dict built in memory (synthetic data; `config.path` then only names it).
        `source`: the SOURCE label of every sample (None: the dataset's own, see above)."""
        self.config = config
        name = config.name
        path = require_file(config.path, f"mesh pickle ({name})", ANCHOR) if data is None else Path(config.path)
        data = load_pickle(path) if data is None else data
        require_keys(data, (config.split,), path)
        d, split = data[config.split], config.split
        require_keys(d, REQUIRED + (("camera_name",) if name == "h36m" else ()) + (HYBRIK if config.hybrik else ()), path, split)
        self.hybrik = all(k in d for k in HYBRIK) if config.hybrik is None else config.hybrik
        j2d = require_array(d["joint_2d"], (None, 17, None), path, f"{split}/joint_2d")
        n = len(j2d)
        conf = require_array(d["confidence"], (n, 17) if np.ndim(d["confidence"]) == 2 else (n, 17, 1), path, f"{split}/confidence")
        if name == "h36m":
            xy = load_h36m_split(data, split, path, need_label=False).input[..., :2]
        else:
            if j2d.shape[-1] < 2:
                raise DataFormatError(path, f"{split}/joint_2d: expected (N, 17, 2); got {j2d.shape}")
            res_w, res_h = config.res or MESH_RESOLUTION[name]
            xy = normalize_screen(j2d[..., :2], res_w, res_h)
        conf = np.clip(conf.reshape(n, 17, 1).astype(np.float32), 0, 1)
        self.input = np.concatenate([xy.astype(np.float32), conf], -1)  # (N, 17, 3)
        self.arrays = {
            SMPL_POSE: require_array(d["smpl_pose"], (n, 72), path, f"{split}/smpl_pose").astype(np.float32),
            SMPL_SHAPE: require_array(d["smpl_shape"], (n, 10), path, f"{split}/smpl_shape").astype(np.float32),
        }
        if self.hybrik:
            self.arrays[HYBRIK_POSE] = require_array(d["pred_smpl_pose"], (n, 72), path, f"{split}/pred_smpl_pose").astype(np.float32)
            self.arrays[HYBRIK_SHAPE] = require_array(d["pred_smpl_shape"], (n, 10), path, f"{split}/pred_smpl_shape").astype(np.float32)
        videos = require_array(d["source"], (n,), path, f"{split}/source", numeric=False)
        self.clips, rep = split_clips(videos, config.frames, config.clip_stride)
        self.source_name = source or ("h36m_mesh" if name == "h36m" else name)
        self.fps = MESH_FPS[name]
        self.report = ReadReport(self.source_name, str(path), items=len(self.clips), frames=n, frames_dropped=rep.frames_dropped)
        if rep.resampled_videos:
            self.report.notes.append(f"{rep.resampled_videos} videos shorter than {config.frames} frames resampled")
        self.report.log()

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        idx = self.clips[index]
        sample = {INPUT: self.input[idx]}  # (T, 17, 3)
        sample.update({k: v[idx] for k, v in self.arrays.items()})  # (T, 72) / (T, 10)
        sample.update({HAS_3D: False, FPS: self.fps, SCALE_MM: 1.0, SOURCE: self.source_name})
        return sample


# ------------------------------------------------------------------------------------ registry
def _source(name: MeshName, hybrik: bool) -> SourceSpec:
    """A mesh file as a source. Options: MeshConfig's (clip_len, stride, res); HybrIK files must have
    the HybrIK fields, plain files are read with whatever they hold."""

    def build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
        config = MeshConfig(str(path), split, dataset=name, hybrik=True if hybrik else None, **cfg.reader_options())
        return MeshClips(config, data=load_pickle_once(require_file(path, f"mesh pickle ({name})", ANCHOR)))

    return SourceSpec(build, _key(name, hybrik), has_3d=False, eval_split="test" if "test" in MESH_SPLITS[name] else None)


def _check_mesh(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    data = load_pickle(path)
    name = mesh_dataset_of(path)
    hybrik = True if path.name == MESH_FILES[name][1] else None  # a HybrIK file must have the HybrIK fields
    extra = [split for split in ("train", "test") if split not in MESH_SPLITS[name] and isinstance(data, dict) and split in data]
    for split in (*MESH_SPLITS[name], *extra):
        ds = MeshClips(MeshConfig(str(path), split, hybrik=hybrik), data=data)
        note_split(row, split, ds.report, "clips" + (" (+HybrIK)" if ds.hybrik else ""))
    return [row]


def _check_smpl(folder: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    """Each SMPL file that is present loaded as MeshTask would (missing ones are already listed)."""
    files = smpl_files(folder)
    if files.model.is_file():
        model = load_smpl_model_file(files.model)
        vertices, joints = np.asarray(model["v_template"]).shape[0], np.asarray(model["kintree_table"]).shape[-1]
        row.splits["model"] = f"{vertices} vertices, {joints} joints"
        if files.regressor.is_file():
            SMPL(files.model, files.regressor)  # checks the regressor's (17, vertices) shape
            row.splits["regressor"] = f"17 H36M joints × {vertices} vertices"
    if files.mean_params.is_file():
        load_mean_params(files.mean_params)
        row.splits["mean params"] = "pose (24 × 6D), shape (10)"
    return [row]


def _key(name: str, hybrik: bool) -> str:
    return f"mesh_{name}" + ("_hybrik" if hybrik else "")


_TITLES = {"pw3d": "3DPW mesh", "coco": "COCO mesh", "h36m": "H36M mesh"}
_SMPL_FILES = tuple(f"mesh/{name}" for name in (MODEL_FILE_NAME, H36M_REGRESSOR_FILE, MEAN_PARAMS_FILE))
READER = Reader(
    datasets=tuple(
        DatasetLayout(_key(name, hybrik), _TITLES[name] + (" + HybrIK" if hybrik else ""), f"mesh/{file}", (f"mesh/{file}",),
                      ANCHOR, _check_mesh)
        for hybrik in (False, True) for name, file in ((n, files[hybrik]) for n, files in MESH_FILES.items())
    ) + (DatasetLayout("smpl", "SMPL model files", "mesh", _SMPL_FILES, ANCHOR, _check_smpl),),
    sources={_key(name, hybrik): _source(name, hybrik) for hybrik in (False, True) for name in MESH_FILES},
)
