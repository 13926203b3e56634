"""What the DataModules share: data sources by name, and batching over several of them.

All DataModules batch with `SourceBatchSampler` (one source per batch, seeded per epoch, split
across ranks without padding), so the Trainer runs with `use_distributed_sampler: false` (the
package defaults set it). Every source can be replaced by the synthetic corpus.

Seeding (data/sampling.py): batch order, per-item augmentation in datasets and per-batch
augmentation on the device all derive from the module's `seed` with the epoch (and the item, or
the batch and rank), never from global random state, so `seed_everything` does not affect the data
and a resumed run sees exactly the data an uninterrupted one would. Loader workers are seeded from
(seed, epoch, rank) through the DataLoader's generator (for any code that still draws from a
worker's global generators; the datasets here do not).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from .. import schema
from ..check import dataset_path
from ..sampling import AugmentedDataset, SourceBatchSampler, SourceConcat, derived_seed


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One data source of a DataModule.

    name: a key of `SOURCES` (e.g. "synthetic", "amass", "mpi_inf_3dhp", "posetrack").
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


SourceFactory = Callable[[SourceConfig, str | None, str], Dataset]


@dataclass(frozen=True)
class SourceSpec:
    """How to build a source's dataset for a split ("train", "val" or "test")."""

    build: SourceFactory
    has_3d: bool  # whether its samples carry 3D labels
    eval_split: str | None = "test"  # held-out split for validation; None: no held-out data
    noise: bool = True  # default of SourceConfig.noise: False for detected (already noisy) keypoints


def _path(cfg: SourceConfig, data_root: str | None, layout_key: str) -> str:
    if cfg.path:
        return cfg.path
    if data_root is None:
        raise ValueError(f"source {cfg.key!r} needs `data_root` (the layout of docs/DATA.md) or its own `path`")
    return str(dataset_path(data_root, layout_key))


def _clip_len(cfg: SourceConfig) -> dict:
    return {} if cfg.clip_len is None else {"clip_len": cfg.clip_len}


def _input_2d(cfg: SourceConfig, split: str) -> dict:
    """MotionBERT's pretraining input unless the source sets its own: training clips take the
    label's projection (lib/data/dataset_motion_3d.py with `synthetic: True`), held-out clips the
    stored 2D (`gt_2d: False`)."""
    if "input_2d" in cfg.options:
        return {}
    return {"input_2d": "projected" if split == "train" else "auto"}


def _synthetic(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..synthetic import SyntheticConfig, SyntheticMotion

    options = dict(cfg.options)
    if split != "train" and "num_clips" in options:
        options["num_clips"] = max(1, options["num_clips"] // 8)  # held-out splits are smaller
    return SyntheticMotion(SyntheticConfig(split=split, **_clip_len(cfg), **options))


def _clip_store(subset: str | None) -> SourceFactory:
    """MotionBERT's pre-sliced clip store (MB3D_f243s81/<subset>/<split>/*.pkl)."""

    def build(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
        from ..motionbert_clips import MotionBERTClipConfig, MotionBERTClips

        if cfg.clip_len is not None:
            raise ValueError(f"source {cfg.key!r}: the clip store holds pre-sliced clips; clip_len cannot be set")
        options = {**cfg.options, **_input_2d(cfg, split)}
        if subset is not None:
            options["subset"] = subset
        return MotionBERTClips(MotionBERTClipConfig(root=_path(cfg, data_root, "mb3d"), split=split, **options))

    return build


def _amass_joints(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..amass import AMASSJoints, AMASSJointsConfig

    return AMASSJoints(AMASSJointsConfig(path=_path(cfg, data_root, "amass"), **_clip_len(cfg), **cfg.options))


def _h36m_source(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..h36m import H36MSource, H36MSourceConfig

    config = H36MSourceConfig(path=_path(cfg, data_root, "h36m"), split=split, **_clip_len(cfg), **cfg.options, **_input_2d(cfg, split))
    return H36MSource(config)


def _mpi_inf_3dhp(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..mpi_inf_3dhp import MPI3DHPClips, MPI3DHPConfig, MPI3DHPTestWindows

    config = MPI3DHPConfig(root=_path(cfg, data_root, "mpi_inf_3dhp"), split=split, **_clip_len(cfg), **cfg.options)
    return MPI3DHPClips(config) if split == "train" else MPI3DHPTestWindows(config)


def _posetrack(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..posetrack import PoseTrack2D, PoseTrackConfig

    return PoseTrack2D(PoseTrackConfig(root=_path(cfg, data_root, "posetrack"), **_clip_len(cfg), **cfg.options))


def _instavariety(cfg: SourceConfig, data_root: str | None, split: str) -> Dataset:
    from ..instavariety import InstaVariety2D, InstaVarietyConfig

    return InstaVariety2D(InstaVarietyConfig(root=_path(cfg, data_root, "instavariety"), **_clip_len(cfg), **cfg.options))


SOURCES: dict[str, SourceSpec] = {
    "synthetic": SourceSpec(_synthetic, has_3d=True, eval_split="val"),
    "amass": SourceSpec(_clip_store("AMASS"), has_3d=True, eval_split=None),  # MB3D_f243s81/AMASS (no test split)
    "h36m": SourceSpec(_clip_store("H36M-SH"), has_3d=True, eval_split="test"),  # MB3D_f243s81/H36M-SH
    "mb3d": SourceSpec(_clip_store(None), has_3d=True, eval_split="test"),  # any subset: options {subset: ...}
    "amass_joints": SourceSpec(_amass_joints, has_3d=True, eval_split=None),  # amass_joints_h36m_60.pkl
    "h36m_source": SourceSpec(_h36m_source, has_3d=True, eval_split="test"),  # h36m_sh_conf_cam_source_final.pkl
    "mpi_inf_3dhp": SourceSpec(_mpi_inf_3dhp, has_3d=True, eval_split="test"),
    "posetrack": SourceSpec(_posetrack, has_3d=False, eval_split=None),
    "instavariety": SourceSpec(_instavariety, has_3d=False, eval_split=None, noise=False),
}


def register_source(name: str, spec: SourceSpec) -> None:
    """Makes `name` usable in SourceConfig (readers register themselves on import)."""
    SOURCES[name] = spec


def _spec(cfg: SourceConfig) -> SourceSpec:
    if cfg.name not in SOURCES:
        raise ValueError(f"unknown data source {cfg.name!r}; known sources: {sorted(SOURCES)}")
    return SOURCES[cfg.name]


class SourceView(AugmentedDataset):
    """`inner` as its SourceConfig asks: 2D-only (HAS_3D False, TARGET_3D zeroed) and/or with fixed
    extra entries in every sample (e.g. schema.NOISE). Passes the item generator on to `inner`."""

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
            item[schema.HAS_3D] = False
            item[schema.TARGET_3D] = np.zeros_like(item[schema.TARGET_3D])
        return item


def build_source(cfg: SourceConfig, data_root: str | None, split: str, extra: dict | None = None) -> Dataset:
    """The dataset of source `cfg` for `split`; `extra`: entries added to every sample."""
    dataset = _spec(cfg).build(cfg, data_root, split)
    return dataset if cfg.use_3d and not extra else SourceView(dataset, only_2d=not cfg.use_3d, extra=extra)


def source_noise(cfg: SourceConfig) -> bool:
    return _spec(cfg).noise if cfg.noise is None else cfg.noise


def source_has_3d(cfg: SourceConfig) -> bool:
    return _spec(cfg).has_3d and cfg.use_3d


# ----------------------------------------------------------------------------------------------
# Shared loader logic
# ----------------------------------------------------------------------------------------------

DATA_SOURCE_HPARAM = "data/source"  # logged with the run's hyper-parameters: "synthetic" or the datasets used


def source_label(cfg: SourceConfig) -> str:
    """The dataset a source reads, for DATA_SOURCE_HPARAM (clip store: with its subset)."""
    return f"mb3d/{cfg.options.get('subset', 'AMASS')}" if cfg.name == "mb3d" else cfg.name


class _SourceDataModule(L.LightningDataModule):
    """Batching shared by all DataModules: one source per batch, split across ranks."""

    def __init__(self, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (per device); got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0; got {num_workers}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0; got {seed}")
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed

    def _log_sources(self, names: Iterable[str]) -> None:
        """Records DATA_SOURCE_HPARAM (`data/source`: the sorted dataset names joined by "+",
        "synthetic" for the synthetic corpus) as this module's hyper-parameter; the Trainer logs it
        with the model's, so a run on synthetic data cannot pass for one on real data."""
        self.save_hyperparameters({DATA_SOURCE_HPARAM: "+".join(sorted(set(names)))})

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        if trainer.world_size > 1 and trainer._accelerator_connector.use_distributed_sampler:
            raise RuntimeError(
                "hummuss data modules split data across ranks themselves; run the Trainer with "
                "use_distributed_sampler=False (the package defaults do; --trainer.use_distributed_sampler false)"
            )
        return trainer.global_rank, trainer.world_size

    def predict_dataloader(self) -> DataLoader | list:
        """`hummuss predict` runs on the held-out split the module tests on. (Lightning cannot tell
        that SourceBatchSampler's evaluation mode returns every item and would warn about it.)"""
        warnings.filterwarnings("ignore", "You are using a custom batch sampler `SourceBatchSampler` for prediction")
        loader = self.test_dataloader()
        if isinstance(loader, list) and not loader:
            raise ValueError(f"{type(self).__name__} has no held-out data to predict on: none of its sources has a "
                             "test split (PretrainDataModule: name them in val_sources)")
        return loader

    def _batch_generator(self) -> torch.Generator:
        """A CPU generator for this training batch's augmentation, a function of (seed, epoch, batch,
        rank) only: a resumed run replays exactly what an uninterrupted one would have drawn."""
        trainer = self.trainer
        step = trainer.fit_loop.epoch_loop.batch_progress.current.ready
        return torch.Generator().manual_seed(derived_seed(self.seed, trainer.current_epoch, step, trainer.global_rank))

    def _loader(self, datasets: list[Dataset], weights: list[float] | None, train: bool, batch_sizes: list[int] | None = None) -> DataLoader:
        """One loader over `datasets` (one source per batch); batch_sizes: per source (default: batch_size).
        Training batches are keyed (`ItemKey`): items draw their augmentation from (seed, epoch, index)."""
        rank, world = self._rank()
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        sampler = SourceBatchSampler(
            [len(d) for d in datasets], batch_sizes or self.batch_size, weights=weights, shuffle=train, drop_last=train,
            seed=self.seed, rank=rank, world_size=world, keyed=train,
        )  # fmt: skip
        sampler.set_epoch(epoch)
        if train and sampler.dropped:
            rank_zero_info(f"{type(self).__name__}: {sampler.dropped} clips per epoch fall in incomplete batches and are skipped")
        return DataLoader(
            SourceConcat(datasets, self.seed), batch_sampler=sampler, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(derived_seed(self.seed, epoch, rank)),
        )  # fmt: skip
