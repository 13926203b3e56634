"""What a reader declares about itself, in one `Reader` value at the end of its module: the datasets
it reads (where each lives under DATA_ROOT and how `hummuss-data check` reads it) and the sources
DataModules can name (how to build a split of one). `registry` collects every reader's declaration.

DATA_ROOT mirrors MotionBERT's `data/` folder, so a MotionBERT checkout's data folder works as it
is (docs/DATA.md draws the whole tree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from .common import CheckResult
from .windows import WindowSpec


@dataclass(frozen=True)
class SourceConfig:
    """One data source of a DataModule.

    name: a source of the registry (e.g. "synthetic", "amass", "mpi_inf_3dhp", "posetrack";
        `hummuss_pl.data.registry.SOURCES` lists them).
    alias: how phases refer to it (default: name); needed when a dataset is used twice.
    weight: passes over the source per epoch (0.5: a random half; 2: twice).
    clip_len: frames per clip where the reader cuts clips (None: the reader's default).
    use_3d: False turns a 3D-labelled source into a 2D-only one (it then trains L_2D).
    noise: whether pretraining corruption adds keypoint noise to its clips (masking and flipping
        apply regardless); None: the source's default (all but InstaVariety, whose keypoints are
        detections already: MotionBERT's `has_gt=False`).
    path: file or folder overriding the default location under the data root.
    options: further keyword arguments for the reader (see its config class). For the clip store
        ("amass", "h36m", "mb3d") and "h36m_source", `input_2d` defaults to "projected" on the
        training split, as MotionBERT pretrains (`synthetic: True`): the label's orthographic xy
        with confidence 1, even where detections are stored (H36M-SH); held-out splits keep the
        stored detections, which MotionBERT evaluates on. Set `input_2d: auto` (or `stored`) to
        train on the detections instead.
    """

    name: str
    alias: str | None = None
    weight: float = 1.0
    clip_len: int | None = None
    use_3d: bool = True
    noise: bool | None = None
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.alias or self.name

    def reader_options(self) -> dict[str, Any]:
        """Keyword arguments for the reader's config: `clip_len` where set, and `options`."""
        return ({} if self.clip_len is None else {"clip_len": self.clip_len}) | self.options


# (the source's config, the path of the dataset it reads (None: it reads no files), split) → dataset
SourceFactory = Callable[[SourceConfig, Path | None, str], Dataset]
# the same for evaluation windows over the source's held-out whole sequences (data.windows)
WindowFactory = Callable[[SourceConfig, Path | None, WindowSpec], Dataset]


@dataclass(frozen=True)
class SourceSpec:
    """A source DataModules can name: how to build a split ("train", "val", "test") of it.

    dataset: the DatasetLayout key whose path `build` gets (None: it reads no files, e.g. synthetic).
    has_3d: its samples carry 3D labels. eval_split: its held-out split (None: it has none).
    noise: default of SourceConfig.noise (False for detected, already noisy keypoints).
    windows: builds evaluation windows over held-out whole sequences (the 3DHP protocol), where the
        source has such sequences.
    label: what `data/source` calls it (default: its name; the clip store adds its subset).
    """

    build: SourceFactory
    dataset: str | None
    has_3d: bool = True
    eval_split: str | None = "test"
    noise: bool = True
    windows: WindowFactory | None = None
    label: Callable[[SourceConfig], str] | None = None


# (the dataset's path, its CheckResult row (files and missing files already filled in), at most this
# many files per split, where a dataset has one file per clip) → the rows to show (usually [row])
Checker = Callable[[Path, CheckResult, int | None], list[CheckResult]]


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset under DATA_ROOT.

    key: its name in the registry; title: what `hummuss-data check` calls it.
    path: what its reader is given (a file or a folder), relative to DATA_ROOT.
    files: the files that must exist for it to be complete (relative to DATA_ROOT).
    anchor: its section of docs/DATA.md.
    check: reads it fully for `hummuss-data check` (None: only its files are checked).
    """

    key: str
    title: str
    path: str
    files: tuple[str, ...] = ()
    anchor: str = ""
    check: Checker | None = None


@dataclass(frozen=True)
class Reader:
    """What one reader module declares: its datasets and the sources that read them."""

    datasets: tuple[DatasetLayout, ...] = ()
    sources: dict[str, SourceSpec] = field(default_factory=dict)
