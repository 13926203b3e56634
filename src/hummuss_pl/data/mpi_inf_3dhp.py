"""MPI-INF-3DHP in the P-STMO / MotionAGFormer npz format, converted to H36M-17 order.

Files (DATA_ROOT/mpi_inf_3dhp/), each one pickled dict under 'data'
(`np.load(p, allow_pickle=True)['data'].item()`), as P-STMO's `data_to_npz_3dhp(_test).py` write:

    data_train_3dhp.npz  {"S1 Seq1": [cams, fps], ...}   cams = {"0": {"data_2d": (F, 17, 2) px,
                                                                    "data_3d": (F, 17, 3) mm}, ...}
                         cameras "0","1","2","4","5","6","7","8"; fps 25 or 50; images 2048 × 2048
    data_test_3dhp.npz   {"TS1": {"data_2d", "data_3d", "valid": (F,)}, ..., "TS6": ...}
                         TS1–TS4 2048 × 2048, TS5–TS6 1920 × 1080

Joints are 3DHP's 17 "relevant" joints (root = pelvis at index 14); readers return H36M order
(`skeleton.mpi_3dhp_to_h36m`; the 3DHP PCK joints are `skeleton.H36M_3DHP_PCK_14`).

Normalisation (P-STMO / MotionAGFormer), w × h the image size of the sequence:
    2D:  x / w · 2 − 1,   y / w · 2 − h / w          (confidence 1: ground-truth 2D)
    3D:  (X − X_root) · 2 / w   (root-relative; the affine offset cancels)    SCALE_MM = w / 2

Training clips: windows of `clip_len` with `stride` per (sequence, camera) (`split_clips`; a tail
that fills no window is dropped and counted; `valid` is ignored). Test: `MPI3DHPTestWindows` gives
one sample per valid frame, a window around it whose frames beyond the sequence ends repeat the
edge frame; invalid frames stay in as context. The frame rate of the test sequences is not stored
in the npz; `test_fps` holds our values (configurable, see docs/DATA.md).

The official test set is TS1–TS6 with 603, 540, 505, 553, 276 and 452 valid frames (2929 in all;
published PCK / AUC / MPJPE pool all of them). A test file that lacks a sequence or has other valid
counts is read, but the reader warns (`ReadReport.warnings`, logged, and listed as a problem by
`hummuss-data check`), since its numbers are not comparable with published ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import (
    normalize_screen,
)
from hummuss_pl.skeleton import mpi_3dhp_to_h36m

from .common import (
    CheckResult,
    DataFormatError,
    note_split,
    report_problems,
    require_array,
    require_file,
    require_keys,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .windows import (
    Anchor,
    EvaluationWindows,
    MotionSequence,
    SequenceClips,
    WindowSpec,
)

__all__ = [
    "MPI_ROOT",
    "TRAIN_CAMERAS",
    "TEST_SEQUENCES",
    "OFFICIAL_TEST_VALID_FRAMES",
    "official_test_set_warnings",
    "image_size",
    "normalize_3dhp_2d",
    "normalize_3dhp_3d",
    "load_3dhp",
    "MPI3DHPConfig",
    "MPI3DHPClips",
    "MPI3DHPTestWindows",
]

MPI_ROOT = 14  # pelvis in 3DHP's 17-joint order
TRAIN_CAMERAS = ("0", "1", "2", "4", "5", "6", "7", "8")
TEST_SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
# Valid (evaluated) frames per test sequence of the official set (reference/datasets.md §1.1).
OFFICIAL_TEST_VALID_FRAMES = {"TS1": 603, "TS2": 540, "TS3": 505, "TS4": 553, "TS5": 276, "TS6": 452}  # 2929
SOURCE_NAME = "mpi_inf_3dhp"
ANCHOR = "mpi-inf-3dhp"
FILES = {"train": "data_train_3dhp.npz", "test": "data_test_3dhp.npz"}
# Default test frame rates: not stored in the npz (P-STMO's loaders ignore fps) [verify against the
# test set's README]; override with MPI3DHPConfig.test_fps.
DEFAULT_TEST_FPS = {"TS1": 25.0, "TS2": 25.0, "TS3": 25.0, "TS4": 25.0, "TS5": 50.0, "TS6": 50.0}

# Extra sample keys (test windows; not in batch.py).


def image_size(sequence: str) -> tuple[int, int]:
    """(w, h) of a sequence's images: 1920 × 1080 for TS5 / TS6, else 2048 × 2048."""
    return (1920, 1080) if sequence.split(" ")[0] in ("TS5", "TS6") else (2048, 2048)


def normalize_3dhp_2d(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    """(..., 2) pixels → x / w · 2 − 1, y / w · 2 − h / w (`normalize_screen`)."""
    return normalize_screen(xy, w, h)


def normalize_3dhp_3d(xyz_mm: np.ndarray, w: int) -> np.ndarray:
    """(..., 17, 3) mm in 3DHP order → root-relative, · 2 / w."""
    xyz = np.asarray(xyz_mm, np.float32)
    return ((xyz - xyz[..., MPI_ROOT : MPI_ROOT + 1, :]) * np.float32(2 / w)).astype(np.float32)


def _sequence(name: str, entry, path, where: str, fps: float, with_valid: bool) -> MotionSequence:
    require_keys(entry, ("data_2d", "data_3d") + (("valid",) if with_valid else ()), path, where)
    d2 = require_array(entry["data_2d"], (None, 17, 2), path, f"{where}/data_2d")
    d3 = require_array(entry["data_3d"], (len(d2), 17, 3), path, f"{where}/data_3d")
    w, h = image_size(name)
    inp = np.ones((len(d2), 17, 3), np.float32)
    inp[..., :2] = normalize_3dhp_2d(d2, w, h)
    valid = require_array(entry["valid"], (len(d2),), path, f"{where}/valid").astype(bool) if with_valid else None
    return MotionSequence(name, mpi_3dhp_to_h36m(inp), mpi_3dhp_to_h36m(normalize_3dhp_3d(d3, w)), fps, w / 2, valid)


def _load_npz_dict(path) -> dict:
    try:
        with np.load(path, allow_pickle=True) as f:
            if "data" not in f.files:
                raise DataFormatError(path, f"missing array 'data'; found {f.files}")
            data = f["data"].item()
    except DataFormatError:
        raise
    except Exception as e:  # not a zip / not a pickled object
        raise DataFormatError(path, f"cannot be read as an npz holding a pickled dict under 'data' ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict):
        raise DataFormatError(path, f"'data' should hold a dict; got {type(data).__name__}")
    return data


def load_3dhp(path: str | os.PathLike, split: str, test_fps: dict[str, float] | None = None) -> list[MotionSequence]:
    """All (sequence, camera) of a train npz, or the test sequences of a test npz (sorted by name)."""
    path = require_file(path, f"MPI-INF-3DHP {split} npz", ANCHOR)
    data = _load_npz_dict(path)
    out: list[MotionSequence] = []
    if split == "train":
        for seq in sorted(data):
            value = data[seq]
            if not (isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], dict)):
                raise DataFormatError(path, f"{seq!r}: expected [camera dict, fps]; got {type(value).__name__}")
            cams, fps = value
            for cam in sorted(cams, key=str):
                out.append(_sequence(f"{seq} cam{cam}", cams[cam], path, f"{seq}/cam {cam}", float(fps), False))
    elif split == "test":
        fps_of = {**DEFAULT_TEST_FPS, **(test_fps or {})}
        for seq in sorted(data):
            if seq not in fps_of:
                raise DataFormatError(path, f"unknown test sequence {seq!r}; expected {list(TEST_SEQUENCES)}")
            out.append(_sequence(seq, data[seq], path, seq, fps_of[seq], True))
    else:
        raise ValueError(f"split must be train or test; got {split!r}")
    if not out:
        raise DataFormatError(path, "holds no sequences")
    return out


@dataclass(frozen=True)
class MPI3DHPConfig:
    """root: the folder holding data_{train,test}_3dhp.npz.

    clip_len / stride: training clips (MotionAGFormer 81 / 9; HumMUSS 243; stride default 81).
    anchor (test windows): "center" puts the evaluated frame at (clip_len − 1) // 2 (P-STMO /
        MotionAGFormer protocol), "last" at the window's end (a causal model sees no future frame).
    frame_step (test windows): take every k-th frame around the evaluated one (the paper's
        frame-rate study: the same valid frames evaluated at fps / k).
    """

    root: str
    split: str = "train"
    clip_len: int = 243
    stride: int = 81
    anchor: Anchor = "center"
    frame_step: int = 1
    test_fps: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"MPI3DHPConfig.split must be train or test; got {self.split!r}")
        if self.clip_len < 1 or self.stride < 1 or self.frame_step < 1:
            raise ValueError(f"MPI3DHPConfig: clip_len, stride, frame_step must be >= 1; got {self}")
        if self.anchor not in ("center", "last"):
            raise ValueError(f"MPI3DHPConfig.anchor must be center or last; got {self.anchor!r}")

    @property
    def path(self) -> str:
        return os.path.join(self.root, FILES[self.split])


class MPI3DHPClips(SequenceClips):
    """Clips of every (sequence, camera) (train) or test sequence (data.windows.SequenceClips), with
    SCALE_MM = w / 2 and SOURCE "mpi_inf_3dhp"; VALID is all True for training sequences."""

    def __init__(self, config: MPI3DHPConfig, sequences: list[MotionSequence] | None = None) -> None:
        self.config = config
        sequences = sequences if sequences is not None else load_3dhp(config.path, config.split, config.test_fps)
        super().__init__(sequences, config.clip_len, config.stride, SOURCE_NAME, config.path)
        self.report.log()


def official_test_set_warnings(sequences: list[MotionSequence]) -> list[str]:
    """What makes test `sequences` differ from the official test set (empty when they are it)."""
    valid = {seq.name: int(seq.valid.sum()) for seq in sequences if seq.valid is not None}
    missing = [name for name in TEST_SEQUENCES if name not in valid]
    other = [f"{name} {n} (official {OFFICIAL_TEST_VALID_FRAMES[name]})" for name, n in valid.items()
             if name in OFFICIAL_TEST_VALID_FRAMES and n != OFFICIAL_TEST_VALID_FRAMES[name]]  # fmt: skip
    if not missing and not other:
        return []
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"valid frames {', '.join(other)}"] if other else [])
    total, official = sum(valid.values()), sum(OFFICIAL_TEST_VALID_FRAMES.values())
    return [f"not the official test set ({'; '.join(parts)}): {total} valid frames instead of {official}, "
            "so PCK / AUC / MPJPE are not comparable with published numbers"]


class MPI3DHPTestWindows(EvaluationWindows):
    """The 3DHP test protocol: one sample per valid test frame (2929 in the official set), a window of
    `clip_len` frames, `frame_step` apart, around it (data.windows: keys, edge replication, anchor).

    `sequences` replace the test file (e.g. held-out synthetic sequences, labelled `source`). 3DHP
    sequences (source "mpi_inf_3dhp") are compared with the official test set (see above).
    """

    def __init__(self, config: MPI3DHPConfig, sequences: list[MotionSequence] | None = None, source: str = SOURCE_NAME) -> None:
        if config.split != "test":
            raise ValueError("MPI3DHPTestWindows reads the test split; set MPI3DHPConfig.split='test'")
        self.config = config
        origin = config.path if sequences is None else f"{len(sequences)} {source} sequences"
        sequences = sequences if sequences is not None else load_3dhp(config.path, "test", config.test_fps)
        super().__init__(sequences, WindowSpec(config.clip_len, config.anchor, config.frame_step), source, origin)
        if source == SOURCE_NAME:
            self.report.warnings += official_test_set_warnings(self.sequences)
        self.report.log()


# ------------------------------------------------------------------------------------ registry
def _config(cfg: SourceConfig, path: Path | None, split: str, **fields) -> MPI3DHPConfig:
    return MPI3DHPConfig(root=str(path), split="train" if split == "train" else "test", **cfg.reader_options() | fields)


def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    config = _config(cfg, path, split)
    return MPI3DHPClips(config) if split == "train" else MPI3DHPTestWindows(config)


def _windows(cfg: SourceConfig, path: Path | None, spec: WindowSpec) -> Dataset:
    return MPI3DHPTestWindows(_config(cfg, path, "test", clip_len=spec.clip_len, anchor=spec.anchor, frame_step=spec.frame_step))


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    if (path / FILES["train"]).exists():
        seqs = load_3dhp(path / FILES["train"], "train")
        note_split(row, "train", MPI3DHPClips(MPI3DHPConfig(str(path), "train"), seqs).report, f"clips ({len(seqs)} sequence-cameras)")
    if (path / FILES["test"]).exists():
        seqs = load_3dhp(path / FILES["test"], "test")
        rep = MPI3DHPTestWindows(MPI3DHPConfig(str(path), "test"), seqs).report
        row.splits["test"] = f"{rep.items} valid frames of {rep.frames} ({len(seqs)} sequences)"
        report_problems(row, "test", rep)
    return [row]


READER = Reader(
    datasets=(DatasetLayout("mpi_inf_3dhp", "MPI-INF-3DHP", "mpi_inf_3dhp", tuple(f"mpi_inf_3dhp/{f}" for f in FILES.values()),
                            ANCHOR, _check),),  # fmt: skip
    sources={"mpi_inf_3dhp": SourceSpec(_build, "mpi_inf_3dhp", windows=_windows)},
)
