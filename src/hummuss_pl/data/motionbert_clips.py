"""MotionBERT's clip store: one pickle per clip (the readers' shared toolkit is in `common`).

The clip store (`tools/convert_h36m.py`, `tools/convert_amass.py` in Walter0807/MotionBERT) is a
folder of one pickle per clip:

    DATA_ROOT/motion3d/MB3D_f243s81/<SUBSET>/<split>/%08d.pkl      SUBSET: AMASS, H36M-SH, ...
        {"data_input": (T, 17, 3) float32 (normalised x, y, confidence) or None,
         "data_label": (T, 17, 3) float32 (normalised x, y, z)}

AMASS has only `train` and stores `data_input: None` (its 2D is the orthographic xy of the label,
confidence 1, as MotionBERT's pretraining builds it); H36M-SH stores the Stacked-Hourglass 2D with
confidence. Subsets we write ourselves (`hummuss-data synth`) add a `meta.json` beside the split
folders giving fps / scale_mm / source, which MotionBERT's reader simply ignores.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import FPS, HAS_3D, INPUT, SCALE_MM, SOURCE, TARGET_3D
from hummuss_pl.skeleton import NUM_JOINTS

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    load_pickle,
    orthographic_input,
    pickle_is_complete,
    require_array,
    require_file,
    require_keys,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec

__all__ = [
    "KNOWN_SUBSETS",
    "SubsetInfo",
    "MotionBERTClipConfig",
    "MotionBERTClips",
    "list_clip_files",
    "read_clip",
    "write_clip",
    "write_subset_meta",
]


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
        # Clips are read one at a time during training; a file cut short would stop a run hours in.
        # Each file's last byte says whether it is a complete pickle: cheap enough for every file.
        truncated = [path for path in self.files if not pickle_is_complete(path)]
        if truncated:
            shown = ", ".join(p.name for p in truncated[:5]) + (", ..." if len(truncated) > 5 else "")
            raise DataFormatError(split_dir, f"{len(truncated)} of {len(self.files)} clip files are empty or truncated "
                                             f"(not a complete pickle): {shown}; restore them from the original data")  # fmt: skip
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
            INPUT: inp,  # (T, 17, 3)
            TARGET_3D: label,  # (T, 17, 3)
            HAS_3D: True,
            FPS: self.info.fps,
            SCALE_MM: self.info.scale_mm,
            SOURCE: self.info.source,
        }



# ------------------------------------------------------------------------------------ registry
def pretraining_input(cfg: SourceConfig, split: str) -> dict:
    """MotionBERT's pretraining input unless the source sets `input_2d` itself: training clips take
    the label's projection (lib/data/dataset_motion_3d.py with `synthetic: True`), held-out clips
    the stored 2D (`gt_2d: False`)."""
    if "input_2d" in cfg.options:
        return {}
    return {"input_2d": "projected" if split == "train" else "auto"}


def _store_source(subset: str | None) -> SourceSpec:
    """A source over the clip store: one subset (`subset`), or any (options {subset: ...})."""

    def build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
        if cfg.clip_len is not None:
            raise ValueError(f"source {cfg.key!r}: the clip store holds pre-sliced clips; clip_len cannot be set")
        options = {**cfg.options, **pretraining_input(cfg, split)} | ({"subset": subset} if subset else {})
        return MotionBERTClips(MotionBERTClipConfig(root=str(path), split=split, **options))

    if subset is not None:
        return SourceSpec(build, "mb3d", eval_split="test" if subset != "AMASS" else None)  # AMASS has no test split
    return SourceSpec(build, "mb3d", label=lambda cfg: f"mb3d/{cfg.options.get('subset', 'AMASS')}")


def _check_store(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    """One row per subset; every clip file read (or the first `max_files` per split)."""
    rows = []
    for subset in sorted(p for p in path.iterdir() if p.is_dir()):
        res = CheckResult(f"MB3D_f243s81/{subset.name}", files=[f"{row.files[0]}/{subset.name}"])
        splits = [s for s in ("train", "test") if (subset / s).is_dir()]
        if not splits:
            res.status, res.problems = "incomplete", [f"no train/ or test/ folder in {subset}"]
        for split in splits:
            files = list_clip_files(subset / split)
            lengths = set()
            for file in files[:max_files] if max_files else files:
                try:
                    inp, label = read_clip(file)
                    lengths.add(len(label))
                except Exception as e:  # noqa: BLE001 - every failure is reported in the table
                    res.fail(e)
                    break
            res.splits[split] = f"{len(files)} clips" + (f" × {'/'.join(map(str, sorted(lengths)))} frames" if lengths else "")
            if not files:
                res.problems.append(f"{split}: no clip files")
                res.status = "incomplete" if res.status == "ok" else res.status
            if max_files and len(files) > max_files:
                res.problems.append(f"{split}: checked the first {max_files} of {len(files)} files")
        rows.append(res)
    return rows


READER = Reader(
    datasets=(DatasetLayout("mb3d", "MotionBERT clip store", "motion3d/MB3D_f243s81", anchor="motionbert-clip-store", check=_check_store),),
    sources={"amass": _store_source("AMASS"), "h36m": _store_source("H36M-SH"), "mb3d": _store_source(None)},
)
