"""Pretraining data with the curriculum (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from hummuss_pl.batch import CLEAN_INPUT, NOISE

from ..corruption import CorruptionConfig, corrupt_batch
from ..layout import SourceConfig
from ..registry import (
    build_source,
    source_has_3d,
    source_label,
    source_noise,
    source_spec,
)
from .base import _SourceDataModule


@dataclass(frozen=True)
class Phase:
    """From `start_epoch` on, train on the sources named in `sources` (aliases or names)."""

    start_epoch: int
    sources: tuple[str, ...]


class PretrainDataModule(_SourceDataModule):
    """2D-to-3D pretraining data with the curriculum (SPEC §6).

    Args:
        sources: training sources (default: the synthetic corpus); 3D-labelled ones train L_3D, 2D-only ones L_2D.
        phases: the curriculum. None: the paper's schedule — the 3D-labelled sources from epoch 0,
            every source from epoch `paper_2d_epoch` (30). The active phase follows
            `trainer.current_epoch`, so resuming in either phase picks the right sources; the
            Trainer must reload loaders every epoch (`reload_dataloaders_every_n_epochs: 1`); a
            loader is reused while its phase lasts.
        val_sources: held-out 3D clips for validation MPJPE; None: each 3D-labelled training
            source's held-out split where it has one.
        data_root: the folder of the data layout in docs/DATA.md.
        corruption: masking / noise / flip applied to training batches on the device.
        batch_size: per device; num_workers: loader processes; seed: batch order, per-item augmentation
            (InstaVariety crop ratios) and corruption, by epoch (data/sampling.py; nothing global).
    """

    def __init__(
        self,
        sources: list[SourceConfig] | None = None,
        phases: list[Phase] | None = None,
        val_sources: list[SourceConfig] | None = None,
        data_root: str | None = None,
        corruption: CorruptionConfig | None = None,
        batch_size: int = 64,
        num_workers: int = 4,
        seed: int = 0,
        paper_2d_epoch: int = 30,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.sources = [SourceConfig("synthetic")] if sources is None else list(sources)
        if not self.sources:
            raise ValueError("PretrainDataModule needs at least one source")
        keys = [s.key for s in self.sources]
        if len(set(keys)) != len(keys):
            raise ValueError(f"source names/aliases must be unique; got {keys} (give repeated datasets an alias)")
        self.phases = self._default_phases(paper_2d_epoch) if phases is None else sorted(phases, key=lambda p: p.start_epoch)
        self._check_phases(keys)
        self.val_sources = val_sources
        self.data_root = data_root
        self.corruption = CorruptionConfig() if corruption is None else corruption
        self._log_sources(source_label(s) for s in self.sources + list(val_sources or []))
        self._train: dict[str, Dataset] = {}
        self._val: list[Dataset] = []
        self._loaders: dict[int, DataLoader] = {}
        self.phase_index: int | None = None

    def _default_phases(self, epoch_2d: int) -> list[Phase]:
        three_d = tuple(s.key for s in self.sources if source_has_3d(s))
        everything = tuple(s.key for s in self.sources)
        if not three_d:
            raise ValueError("the paper curriculum starts with 3D-labelled sources, but none is configured; give `phases`")
        return [Phase(0, three_d)] + ([Phase(epoch_2d, everything)] if everything != three_d else [])

    def _check_phases(self, keys: list[str]) -> None:
        if not self.phases or self.phases[0].start_epoch != 0:
            raise ValueError(f"the first phase must start at epoch 0; got {[p.start_epoch for p in self.phases]}")
        starts = [p.start_epoch for p in self.phases]
        if len(set(starts)) != len(starts):
            raise ValueError(f"two phases start at the same epoch: {starts}")
        for p in self.phases:
            unknown = [s for s in p.sources if s not in keys]
            if unknown or not p.sources:
                raise ValueError(f"phase starting at epoch {p.start_epoch} names unknown sources {unknown} (known: {keys})")

    def setup(self, stage: str) -> None:
        trainer = self.trainer
        if stage == "fit" and trainer is not None and len(self.phases) > 1 and trainer.reload_dataloaders_every_n_epochs != 1:
            raise RuntimeError(
                f"the curriculum switches sources at epochs {[p.start_epoch for p in self.phases[1:]]}: run the Trainer "
                "with reload_dataloaders_every_n_epochs=1 (--trainer.reload_dataloaders_every_n_epochs 1)"
            )
        if stage == "fit" and not self._train:
            self._train = {s.key: build_source(s, self.data_root, "train", {NOISE: source_noise(s)}) for s in self.sources}
            for s in self.sources:
                if len(self._train[s.key]) == 0:
                    raise ValueError(f"source {s.key!r} has no training clips")
                if s.name == "synthetic":
                    rank_zero_info(self._train[s.key].describe())
        if stage in ("fit", "validate", "test", "predict") and not self._val:
            self._val = [build_source(s, self.data_root, split) for s, split in self._held_out()]

    def _held_out(self) -> list[tuple[SourceConfig, str]]:
        if self.val_sources is not None:
            return [(s, source_spec(s).eval_split or "test") for s in self.val_sources]
        return [(s, source_spec(s).eval_split) for s in self.sources if source_has_3d(s) and source_spec(s).eval_split]

    def phase_at(self, epoch: int) -> int:
        return max(i for i, p in enumerate(self.phases) if p.start_epoch <= epoch)

    def train_dataloader(self) -> DataLoader:
        position = self._training_position()  # a resumed run's epoch, before the trainer's counter says it
        index = self.phase_at(position.epoch)
        if index != self.phase_index:
            phase = self.phases[index]
            rank_zero_info(f"Curriculum: epoch {position.epoch} is in phase {index + 1}/{len(self.phases)} (from epoch {phase.start_epoch}): sources {list(phase.sources)}")
            self.phase_index = index
        if index not in self._loaders:
            active = [s for s in self.sources if s.key in self.phases[index].sources]
            datasets, weights = [self._train[s.key] for s in active], [s.weight for s in active]
            self._loaders = {index: self._loader(datasets, weights, train=True, position=position)}
        return self._start_at(self._loaders[index], position)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self._val, None, train=False) if self._val else []

    def test_dataloader(self) -> DataLoader | list:
        return self.val_dataloader()

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        trainer = self.trainer
        if trainer is None or not trainer.training:
            return batch
        gen = self._batch_generator()  # corruption replays exactly on resume
        # flip, keep the clean input, corrupt (noise only where the clip's source allows it)
        return corrupt_batch(batch, self.corruption, CLEAN_INPUT, generator=gen, noisy=batch[NOISE])
