"""Every dataset and source the suite knows, collected from the readers' declarations (`Reader`, at
the end of each reader module). DataModules choose data by source name through here, and
`hummuss-data check` walks `LAYOUT`; adding a dataset is one reader file plus one line in
`READERS` (docs/ADDING_A_DATASET.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import HAS_3D, TARGET_3D

from . import (
    amass,
    h36m,
    instavariety,
    mesh,
    motion_npz,
    motionbert_clips,
    mpi_inf_3dhp,
    ntu,
    posetrack,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .sampling import AugmentedDataset
from .synthetic import sources as synthetic
from .windows import WindowSpec

__all__ = [
    "LAYOUT",
    "READERS",
    "SOURCES",
    "SourceView",
    "build_source",
    "build_windows",
    "dataset_path",
    "register",
    "source_has_3d",
    "source_label",
    "source_noise",
    "source_spec",
]

LAYOUT: dict[str, DatasetLayout] = {}  # dataset key → where it lives under DATA_ROOT, how it is checked
SOURCES: dict[str, SourceSpec] = {}  # source name → how to build it


def register(reader: Reader) -> None:
    """Adds a reader's datasets and sources; each name may be taken once."""
    for layout in reader.datasets:
        if layout.key in LAYOUT:
            raise ValueError(f"dataset {layout.key!r} is declared twice")
        LAYOUT[layout.key] = layout
    for name, spec in reader.sources.items():
        if name in SOURCES:
            raise ValueError(f"source {name!r} is declared twice")
        if spec.dataset is not None and spec.dataset not in LAYOUT:
            raise ValueError(f"source {name!r} reads dataset {spec.dataset!r}, which no reader declares")
        SOURCES[name] = spec


# In the order `hummuss-data check` lists them.
READERS: tuple[Reader, ...] = (
    motionbert_clips.READER,
    h36m.READER,
    amass.READER,
    mpi_inf_3dhp.READER,
    posetrack.READER,
    instavariety.READER,
    mesh.READER,
    ntu.READER,
    motion_npz.READER,
    synthetic.READER,
)
for _reader in READERS:
    register(_reader)


def dataset_path(root: str | os.PathLike, key: str) -> Path:
    """Where dataset `key` lives under `root` (the path its reader takes)."""
    if key not in LAYOUT:
        raise KeyError(f"unknown dataset {key!r}; known: {sorted(LAYOUT)}")
    return Path(root) / LAYOUT[key].path


def source_spec(cfg: SourceConfig) -> SourceSpec:
    if cfg.name not in SOURCES:
        raise ValueError(f"unknown data source {cfg.name!r}; known sources: {sorted(SOURCES)}")
    return SOURCES[cfg.name]


def _path(cfg: SourceConfig, spec: SourceSpec, data_root: str | os.PathLike | None) -> Path | None:
    if cfg.path:
        return Path(cfg.path)
    if spec.dataset is None:
        return None
    if data_root is None:
        raise ValueError(f"source {cfg.key!r} needs `data_root` (the layout of docs/DATA.md) or its own `path`")
    return dataset_path(data_root, spec.dataset)


class SourceView(AugmentedDataset):
    """`inner` as its SourceConfig asks: 2D-only (HAS_3D False, TARGET_3D zeroed) and/or with fixed
    extra entries in every sample (e.g. NOISE). Passes the item generator on to `inner`."""

    def __init__(self, inner: Dataset, only_2d: bool = False, extra: dict | None = None) -> None:
        self.inner, self.only_2d, self.extra = inner, only_2d, dict(extra or {})

    def __len__(self) -> int:
        return len(self.inner)

    def describe(self) -> str:
        return self.inner.describe() + (" (used as 2D-only)" if self.only_2d else "")

    def __getitem__(self, index: int) -> dict:
        return self._view(self.inner[index])

    def item(self, index: int, rng: np.random.Generator) -> dict:
        return self._view(self.inner.item(index, rng) if isinstance(self.inner, AugmentedDataset) else self.inner[index])

    def _view(self, sample: dict) -> dict:
        item = {**sample, **self.extra}
        if self.only_2d:
            item[HAS_3D] = False
            item[TARGET_3D] = np.zeros_like(item[TARGET_3D])
        return item


def build_source(cfg: SourceConfig, data_root: str | os.PathLike | None, split: str, extra: dict | None = None) -> Dataset:
    """Split `split` ("train", "val", "test") of source `cfg`, read from under `data_root`, as the
    config asks (`use_3d: false`: 2D-only); `extra`: entries added to every sample."""
    spec = source_spec(cfg)
    dataset = spec.build(cfg, _path(cfg, spec, data_root), split)
    return dataset if cfg.use_3d and not extra else SourceView(dataset, only_2d=not cfg.use_3d, extra=extra)


def source_noise(cfg: SourceConfig) -> bool:
    """Whether pretraining corruption adds keypoint noise to the source's clips."""
    return source_spec(cfg).noise if cfg.noise is None else cfg.noise


def source_has_3d(cfg: SourceConfig) -> bool:
    """Whether the source's samples train with 3D labels."""
    return source_spec(cfg).has_3d and cfg.use_3d


def build_windows(cfg: SourceConfig, data_root: str | os.PathLike | None, spec: WindowSpec) -> Dataset:
    """Evaluation windows (data.windows) over the held-out sequences of source `cfg`."""
    source = source_spec(cfg)
    if source.windows is None:
        with_windows = sorted(name for name, s in SOURCES.items() if s.windows is not None)
        raise ValueError(f"source {cfg.name!r} has no held-out sequences to cut evaluation windows from; sources that "
                         f"have them: {with_windows}")  # fmt: skip
    return source.windows(cfg, _path(cfg, source, data_root), spec)


def source_label(cfg: SourceConfig) -> str:
    """The dataset a source reads, for the `data/source` hyper-parameter."""
    spec = source_spec(cfg)
    return spec.label(cfg) if spec.label is not None else cfg.name
