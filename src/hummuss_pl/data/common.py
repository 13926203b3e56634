"""What every reader here shares: errors that name the file and field, loading files with those
errors, `ReadReport` (what a reader read and dropped: nothing is skipped silently), MotionBERT's
clip slicing (`split_clips`, `resample_indices`) and 2D normalisation (`crop_scale`,
`orthographic_input`), and `CheckResult`, a dataset's row in `hummuss-data check`.

- `split_clips`: MotionBERT's slicing. Windows of `n_frames` slide by `stride` within each video
  (a run of equal ids); trailing frames that do not fill a window are dropped (and counted);
  videos shorter than `n_frames` are resampled up to `n_frames` (`resample_indices`).
- `crop_scale`: MotionBERT's bounding-box normalisation of 2D motion to [-1, 1].
- `orthographic_input`: 2D input (x, y, 1) from a 3D label.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger("hummuss_pl.data")

DOCS = "docs/DATA.md"


# ----------------------------------------------------------------------------------------- errors
# Both errors can also be rebuilt from their text alone (`path` None): torch re-raises an error of a
# DataLoader worker process as `type(error)(text)`, and the CLI then still knows it for a data error.
class MissingDataError(FileNotFoundError):
    """A dataset file or folder is not where it is expected."""

    def __init__(self, what: str, path: str | os.PathLike | None = None, anchor: str = "") -> None:
        self.path = "" if path is None else str(path)
        where = f"{DOCS}#{anchor}" if anchor else DOCS
        text = what if path is None else f"{what} not found: expected {self.path}. See {where} for where to obtain it and the expected layout."
        super().__init__(text)


class DataFormatError(ValueError):
    """A dataset file exists but does not have the expected keys, shapes or values."""

    def __init__(self, path: str | os.PathLike, message: str | None = None) -> None:
        self.path = "" if message is None else str(path)
        super().__init__(str(path) if message is None else f"{self.path}: {message} (see {DOCS} for the expected format)")


def require_file(path: str | os.PathLike, what: str, anchor: str = "", directory: bool = False) -> Path:
    """Returns `path` as a Path, or raises MissingDataError naming it."""
    p = Path(path)
    if not (p.is_dir() if directory else p.is_file()):
        raise MissingDataError(what, p, anchor)
    return p


def load_pickle(path: str | os.PathLike) -> Any:
    """Unpickles a file written by Python 3 or (LCN's / older tools') Python 2 pickles; a file that is
    not a complete pickle (truncated, another format) raises DataFormatError naming it."""
    try:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except UnicodeDecodeError:
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the unpickler trips on, the file is the problem
        truncated = " (the file looks truncated: it does not end as a pickle does)" if not pickle_is_complete(path) else ""
        raise DataFormatError(path, f"cannot be unpickled{truncated} ({type(e).__name__}: {e})") from e


def pickle_is_complete(path: str | os.PathLike) -> bool:
    """A cheap check, without unpickling: the file is not empty and ends with pickle's STOP opcode, as
    every complete pickle (any protocol) does. A file cut short fails it."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == pickle.STOP


def load_pickle_once(path: str | os.PathLike) -> Any:
    """`load_pickle`, read once while the file is unchanged (size and modification time): a data
    module builds the train and test splits of one large pickle (NTU, mesh) from a single read.
    Holds the most recent file only."""
    stat = os.stat(path)
    return _load_pickle_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=1)
def _load_pickle_cached(path: str, size: int, mtime_ns: int) -> Any:
    return load_pickle(path)


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


# ------------------------------------------------------------------------------------ check rows
Status = Literal["ok", "incomplete", "malformed"]


@dataclass
class CheckResult:
    dataset: str
    files: list[str] = field(default_factory=list)
    splits: dict[str, str] = field(default_factory=dict)  # split -> "N clips / F frames"
    problems: list[str] = field(default_factory=list)
    status: Status = "ok"

    def fail(self, error: BaseException) -> None:
        self.status = "malformed"
        self.problems.append(str(error) if isinstance(error, (DataFormatError, MissingDataError, ValueError)) else f"{type(error).__name__}: {error}")


def note_split(result: CheckResult, split: str, report: ReadReport, unit: str) -> None:
    text = f"{report.items} {unit}, {report.frames} frames"
    if report.frames_dropped:
        text += f" ({report.frames_dropped} trailing frames in no clip)"
    result.splits[split] = text
    report_problems(result, split, report)


def report_problems(result: CheckResult, split: str, report: ReadReport) -> None:
    """Drops and warnings go to the problems column; they do not make the dataset malformed."""
    result.problems += [f"{split}: dropped {n} {reason}" for reason, n in report.dropped.items()]
    result.problems += [f"{split}: {w}" for w in report.warnings]
