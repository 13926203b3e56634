"""MotionBERT's clip store and the helpers every reader here shares.

The clip store (`tools/convert_h36m.py`, `tools/convert_amass.py` in Walter0807/MotionBERT) is a
folder of one pickle per clip:

    DATA_ROOT/motion3d/MB3D_f243s81/<SUBSET>/<split>/%08d.pkl      SUBSET: AMASS, H36M-SH, ...
        {"data_input": (T, 17, 3) float32 (normalised x, y, confidence) or None,
         "data_label": (T, 17, 3) float32 (normalised x, y, z)}

AMASS has only `train` and stores `data_input: None` (its 2D is the orthographic xy of the label,
confidence 1, as MotionBERT's pretraining builds it); H36M-SH stores the Stacked-Hourglass 2D with
confidence. Subsets we write ourselves (`hummuss-data synth`) add a `meta.json` beside the split
folders giving fps / scale_mm / source, which MotionBERT's reader simply ignores.

Shared helpers (used by every reader in this package):

- `split_clips`: MotionBERT's slicing. Windows of `n_frames` slide by `stride` within each video
  (a run of equal ids); trailing frames that do not fill a window are dropped (and counted);
  videos shorter than `n_frames` are resampled up to `n_frames` (`resample_indices`).
- `crop_scale`: MotionBERT's bounding-box normalisation of 2D motion to [-1, 1].
- `orthographic_input`: 2D input (x, y, 1) from a 3D label.
- errors (`MissingDataError`, `DataFormatError`) that name the file and field and point to
  docs/DATA.md, file loading with those errors, and `ReadReport`, the count of what a reader read
  and dropped (nothing is skipped silently: drops are counted there and logged as a warning).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from torch.utils.data import Dataset

from . import schema
from .skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

DOCS = "docs/DATA.md"

__all__ = [
    "DOCS",
    "MissingDataError",
    "DataFormatError",
    "ReadReport",
    "SplitReport",
    "resample_indices",
    "split_clips",
    "crop_scale",
    "orthographic_input",
    "load_pickle",
    "require_file",
    "require_keys",
    "require_array",
    "KNOWN_SUBSETS",
    "SubsetInfo",
    "MotionBERTClipConfig",
    "MotionBERTClips",
    "list_clip_files",
    "read_clip",
    "write_clip",
    "write_subset_meta",
]


# ----------------------------------------------------------------------------------------- errors
class MissingDataError(FileNotFoundError):
    """A dataset file or folder is not where it is expected."""

    def __init__(self, what: str, path: str | os.PathLike, anchor: str = "") -> None:
        self.path = str(path)
        where = f"{DOCS}#{anchor}" if anchor else DOCS
        super().__init__(f"{what} not found: expected {self.path}. See {where} for where to obtain it and the expected layout.")


class DataFormatError(ValueError):
    """A dataset file exists but does not have the expected keys, shapes or values."""

    def __init__(self, path: str | os.PathLike, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message} (see {DOCS} for the expected format)")


def require_file(path: str | os.PathLike, what: str, anchor: str = "", directory: bool = False) -> Path:
    """Returns `path` as a Path, or raises MissingDataError naming it."""
    p = Path(path)
    if not (p.is_dir() if directory else p.is_file()):
        raise MissingDataError(what, p, anchor)
    return p


def load_pickle(path: str | os.PathLike) -> Any:
    """Unpickles a file written by Python 3 or (LCN's / older tools') Python 2 pickles."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except UnicodeDecodeError:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError) as e:
        raise DataFormatError(path, f"cannot be unpickled ({type(e).__name__}: {e})") from e


def require_keys(obj: Any, keys: Sequence[str], path: str | os.PathLike, where: str = "") -> None:
    """Raises DataFormatError naming the missing keys of the dict `obj` (at `where` in `path`)."""
    prefix = f"{where}: " if where else ""
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"{prefix}expected a dict with keys {list(keys)}; got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataFormatError(path, f"{prefix}missing key(s) {missing}; found {sorted(map(str, obj.keys()))}")


def require_array(
    value: Any, shape: Sequence[int | None], path: str | os.PathLike, name: str, numeric: bool = True
) -> np.ndarray:
    """`value` as an ndarray whose shape matches `shape` (None = any size), else DataFormatError."""
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise DataFormatError(path, f"{name}: cannot be read as an array ({e})") from e
    ok = arr.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, arr.shape, strict=True))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise DataFormatError(path, f"{name}: expected shape {want}; got {tuple(arr.shape)}")
    if numeric and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataFormatError(path, f"{name}: expected numbers; got dtype {arr.dtype}")
    return arr


# ----------------------------------------------------------------------------------------- report
@dataclass
class ReadReport:
    """What a reader read and what it left out (with reasons), for logs and `hummuss-data check`."""

    source: str
    path: str
    items: int = 0  # clips / tracks / samples the dataset yields
    frames: int = 0  # frames read from the file(s)
    frames_dropped: int = 0  # frames in no clip (trailing frames of videos)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count of dropped items
    notes: list[str] = field(default_factory=list)  # information (e.g. resampled clips)
    warnings: list[str] = field(default_factory=list)  # readable, but maybe not what was meant (e.g. a partial test set)

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def summary(self) -> str:
        text = f"{self.source}: {self.items} items from {self.frames} frames ({self.path})"
        if self.frames_dropped:
            text += f"; {self.frames_dropped} trailing frames in no clip"
        if self.dropped:
            text += "; dropped " + ", ".join(f"{n} {reason}" for reason, n in self.dropped.items())
        return text + "".join(f"; WARNING: {w}" for w in self.warnings)

    def log(self) -> None:
        """Logs the summary: a warning when anything was dropped or looks wrong, info otherwise."""
        (log.warning if (self.dropped or self.frames_dropped or self.warnings) else log.info)(self.summary())


# --------------------------------------------------------------------------------- clip slicing
def resample_indices(ori_len: int, target_len: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame indices that stretch (or squeeze) `ori_len` frames to `target_len` (MotionBERT `resample`).

    rng None: deterministic, floor(linspace(0, ori_len, target_len, endpoint=False)).
    rng given (MotionBERT's `randomness=True`): when upsampling each index is randomly the floor or
    the ceiling of the even grid (then sorted); when downsampling a uniform jitter within each
    interval. Indices are clipped to [0, ori_len - 1].
    """
    if ori_len < 1 or target_len < 1:
        raise ValueError(f"resample_indices needs positive lengths; got ori_len={ori_len}, target_len={target_len}")
    even = np.linspace(0, ori_len, num=target_len, endpoint=False)
    if rng is None:
        out = np.floor(even)
    elif ori_len < target_len:
        pick = rng.integers(0, 2, size=even.shape)
        out = np.sort(np.where(pick == 1, np.floor(even), np.ceil(even)))
    else:
        out = even + rng.random(even.shape) * (ori_len / target_len)
    return np.clip(out, 0, ori_len - 1).astype(np.int64)


@dataclass
class SplitReport:
    videos: int = 0
    clips: int = 0
    frames: int = 0
    frames_dropped: int = 0  # frames of long videos that fall in no window
    resampled_videos: int = 0  # videos shorter than a clip, stretched to one clip


def split_clips(
    video_ids: Sequence | np.ndarray,
    n_frames: int,
    stride: int,
    rng: np.random.Generator | None = None,
) -> tuple[list[np.ndarray], SplitReport]:
    """MotionBERT's `split_clips`: clips of `n_frames` frame indices into the per-frame `video_ids`.

    A video is a maximal run of consecutive equal ids. Within each video windows start at 0,
    stride, 2·stride, ... while they fit; trailing frames that fill no window are dropped (counted
    in the report). A video shorter than `n_frames` becomes one clip, resampled up to `n_frames`
    with `resample_indices(len, n_frames, rng)`.

    Differences from MotionBERT's code, on purpose: its loop never resamples the *last* video when
    that video is short (it leaves the loop first) — here every short video gives one clip; and it
    treats a video id that reappears later as already seen — here each run is its own video.
    Returns (list of (n_frames,) int64 index arrays, SplitReport).
    """
    if n_frames < 1 or stride < 1:
        raise ValueError(f"split_clips needs n_frames >= 1 and stride >= 1; got {n_frames}, {stride}")
    ids = np.asarray(video_ids)
    report = SplitReport(frames=int(len(ids)))
    if len(ids) == 0:
        return [], report
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(ids)]])
    clips: list[np.ndarray] = []
    window = np.arange(n_frames, dtype=np.int64)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        length = e - s
        report.videos += 1
        if length < n_frames:
            clips.append(resample_indices(length, n_frames, rng) + s)
            report.resampled_videos += 1
            continue
        covered = np.zeros(length, dtype=bool)
        for w in range(0, length - n_frames + 1, stride):
            clips.append(window + (s + w))
            covered[w : w + n_frames] = True
        report.frames_dropped += int((~covered).sum())
    report.clips = len(clips)
    return clips, report


# ------------------------------------------------------------------------------ 2D normalisation
def crop_scale(motion: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    """MotionBERT's `crop_scale` with a given ratio: motion (..., J, 3) = (x, y, conf) in pixels.

    The box of all joints with conf != 0 (over every frame and person) is grown to a square of
    side max(w, h) · ratio around its centre and mapped to [-1, 1]; then everything (confidence
    included) is clipped to [-1, 1]. Fewer than 4 valid joints, or a box of size 0: all zeros.
    """
    motion = np.asarray(motion, dtype=np.float32)
    out = motion.copy()
    valid = motion[motion[..., 2] != 0][:, :2]
    if len(valid) < 4:
        return np.zeros_like(motion)
    (xmin, ymin), (xmax, ymax) = valid.min(axis=0), valid.max(axis=0)
    scale = max(xmax - xmin, ymax - ymin) * ratio
    if scale == 0:
        return np.zeros_like(motion)
    corner = np.array([(xmin + xmax - scale) / 2, (ymin + ymax - scale) / 2], dtype=np.float32)
    out[..., :2] = ((motion[..., :2] - corner) / scale - 0.5) * 2
    return np.clip(out, -1, 1)


def orthographic_input(label: np.ndarray) -> np.ndarray:
    """2D input (x, y, conf = 1) from a 3D label (..., J, 3): MotionBERT's `synthetic` pretraining input."""
    out = np.ones_like(label, dtype=np.float32)
    out[..., :2] = label[..., :2]
    return out


def uniform_ratio(scale_range: tuple[float, float], rng: np.random.Generator) -> float:
    """A crop ratio drawn uniformly from `scale_range` with `rng` (no draw when the range is a point)."""
    lo, hi = scale_range
    if lo == hi:
        return float(lo)
    return float(lo + (hi - lo) * rng.random())


def check_scale_range(scale_range: tuple[float, float], name: str) -> None:
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise ValueError(f"{name} must be (low, high) with 0 < low <= high; got {scale_range}")


# ------------------------------------------------------------------------------------ clip store
@dataclass(frozen=True)
class SubsetInfo:
    """What a clip file alone does not say: the frame rate and the millimetres per unit."""

    fps: float
    scale_mm: float
    source: str


# AMASS: metres · 0.298 (tools/convert_amass.py) → 1000 / 0.298 mm per unit. H36M-SH: the
# millimetre scale needs the per-frame 2.5d_factor of the source pickle (h36m.py), so 1.0 here.
KNOWN_SUBSETS: dict[str, SubsetInfo] = {
    "AMASS": SubsetInfo(fps=60.0, scale_mm=1000.0 / 0.298, source="amass"),
    "H36M-SH": SubsetInfo(fps=50.0, scale_mm=1.0, source="h36m"),
}
META_FILE = "meta.json"


def write_subset_meta(subset_dir: str | os.PathLike, info: SubsetInfo) -> None:
    Path(subset_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(subset_dir) / META_FILE, "w") as f:
        json.dump({"fps": info.fps, "scale_mm": info.scale_mm, "source": info.source}, f, indent=1)


def subset_info(subset_dir: Path, name: str, fps: float | None = None, scale_mm: float | None = None) -> SubsetInfo:
    """Known subsets, else `meta.json` in the subset folder; `fps` / `scale_mm` override both."""
    if name in KNOWN_SUBSETS:
        info = KNOWN_SUBSETS[name]
    elif (subset_dir / META_FILE).is_file():
        try:
            with open(subset_dir / META_FILE) as f:
                meta = json.load(f)
            info = SubsetInfo(float(meta["fps"]), float(meta["scale_mm"]), str(meta.get("source", name.lower())))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataFormatError(subset_dir / META_FILE, f"expected {{'fps', 'scale_mm', 'source'}} ({e})") from e
    elif fps is not None and scale_mm is not None:
        info = SubsetInfo(fps, scale_mm, name.lower())
    else:
        raise ValueError(
            f"clip subset {name!r} is not one of {sorted(KNOWN_SUBSETS)} and {subset_dir / META_FILE} does not exist: "
            "pass fps and scale_mm in MotionBERTClipConfig"
        )
    return SubsetInfo(fps if fps is not None else info.fps, scale_mm if scale_mm is not None else info.scale_mm, info.source)


def list_clip_files(split_dir: str | os.PathLike) -> list[Path]:
    """The clip pickles of one split folder, sorted by name (MotionBERT sorts `os.listdir`)."""
    return sorted(Path(e.path) for e in os.scandir(split_dir) if e.name.endswith(".pkl") and e.is_file())


def read_clip(path: str | os.PathLike) -> tuple[np.ndarray | None, np.ndarray]:
    """(data_input (T, 17, 3) or None, data_label (T, 17, 3)) of one clip file, as float32; errors
    name the file and the key."""
    d = load_pickle(path)
    require_keys(d, ("data_input", "data_label"), path)
    label = require_array(d["data_label"], (None, NUM_JOINTS, 3), path, "data_label").astype(np.float32)
    inp = d["data_input"]
    if inp is not None:
        inp = require_array(inp, (label.shape[0], NUM_JOINTS, 3), path, "data_input").astype(np.float32)
    return inp, label


def write_clip(path: str | os.PathLike, data_input: np.ndarray | None, data_label: np.ndarray) -> None:
    """Writes one clip exactly as MotionBERT's converters do (a pickled dict of two keys)."""
    with open(path, "wb") as f:
        pickle.dump({"data_input": data_input, "data_label": data_label}, f)


InputMode = Literal["auto", "stored", "projected"]


def check_input_mode(value: str, field_name: str) -> None:
    """Raises a ValueError naming `field_name` unless `value` is an InputMode."""
    if value not in get_args(InputMode):
        raise ValueError(f"{field_name} must be auto, stored or projected; got {value!r}")


@dataclass(frozen=True)
class MotionBERTClipConfig:
    """One subset/split of the clip store.

    root: the `MB3D_f243s81` folder (DATA_ROOT/motion3d/MB3D_f243s81).
    input_2d: "stored" uses `data_input` (error when it is None), "projected" uses the label's
        orthographic xy with confidence 1 (MotionBERT's pretraining, `synthetic: True`), "auto"
        uses `data_input` when the file has one and the projection otherwise.
    fps, scale_mm: override the subset's values (needed for subsets without `meta.json` that are
        not AMASS / H36M-SH).
    """

    root: str
    subset: str = "AMASS"
    split: str = "train"
    input_2d: InputMode = "auto"
    fps: float | None = None
    scale_mm: float | None = None

    def __post_init__(self) -> None:
        check_input_mode(self.input_2d, "MotionBERTClipConfig.input_2d")


class MotionBERTClips(Dataset):
    """Map-style dataset over one subset/split of the clip store; files are read per item.

    Sample keys: INPUT (T, 17, 3), TARGET_3D (T, 17, 3), HAS_3D True, FPS, SCALE_MM, SOURCE.
    """

    def __init__(self, config: MotionBERTClipConfig) -> None:
        self.config = config
        subset_dir = require_file(Path(config.root) / config.subset, f"clip subset {config.subset!r}", "motionbert-clip-store", True)
        split_dir = require_file(subset_dir / config.split, f"clip split {config.subset}/{config.split}", "motionbert-clip-store", True)
        self.info = subset_info(subset_dir, config.subset, config.fps, config.scale_mm)
        self.files = list_clip_files(split_dir)
        self.report = ReadReport(self.info.source, str(split_dir), items=len(self.files))
        if not self.files:
            raise DataFormatError(split_dir, "holds no clip files (%08d.pkl)")
        self.report.log()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        inp, label = read_clip(path)
        mode = self.config.input_2d
        if mode == "stored" and inp is None:
            raise DataFormatError(path, "data_input is None but input_2d='stored'; use input_2d='projected' or 'auto'")
        if mode == "projected" or inp is None:
            inp = orthographic_input(label)
        return {
            schema.INPUT: inp,  # (T, 17, 3)
            schema.TARGET_3D: label,  # (T, 17, 3)
            schema.HAS_3D: True,
            schema.FPS: self.info.fps,
            schema.SCALE_MM: self.info.scale_mm,
            schema.SOURCE: self.info.source,
        }

