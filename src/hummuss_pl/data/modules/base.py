"""What the DataModules share: batching over several sources (named in the registry, `data.registry`).

All DataModules batch with `SourceBatchSampler` (one source per batch, seeded per epoch, split
across ranks without padding), so the Trainer runs with `use_distributed_sampler: false` (the
package defaults set it).

Seeding (data/sampling.py): batch order, per-item augmentation in datasets and per-batch
augmentation on the device all derive from the module's `seed` with the epoch (and the item, or
the batch and rank), never from global random state, so `seed_everything` does not affect the data
and a resumed run sees exactly the data an uninterrupted one would. Loader workers are seeded from
(seed, epoch, rank) through the DataLoader's generator (for any code that still draws from a
worker's global generators; the datasets here do not).

Resuming (`TrainingPosition`): every checkpoint records, in the data module's state, where training
continues from it: the batch after the last one trained in the current epoch, or the first batch of
the next epoch once the epoch's training is complete. The first training loader built after a
restore starts there. It cannot take the epoch from the trainer: Lightning builds that loader (and
creates its iterator) before its epoch counter has caught up with the checkpoint, and a loader kept
from an earlier epoch would replay that epoch's order.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from ..sampling import SourceBatchSampler, SourceConcat, derived_seed

DATA_SOURCE_HPARAM = "data/source"  # logged with the run's hyper-parameters: "synthetic" or the datasets used


@dataclass(frozen=True)
class TrainingPosition:
    """A point in the training data: `batch` batches (per rank) of epoch `epoch` are trained."""

    epoch: int
    batch: int = 0


def position_after(trainer: L.Trainer) -> TrainingPosition:
    """Where training continues after the optimizer steps `trainer` has taken so far: the next batch of
    the current epoch, or the start of the next epoch when the current one has trained all its batches
    (Lightning then resumes in the next epoch too)."""
    epochs = trainer.fit_loop.epoch_progress.current
    batches = trainer.fit_loop.epoch_loop.batch_progress.current
    if epochs.started <= epochs.completed:  # between epochs: before the first, or after the last ended
        return TrainingPosition(epochs.completed)
    if epochs.processed > epochs.completed or batches.processed >= trainer.num_training_batches:
        return TrainingPosition(epochs.completed + 1)
    return TrainingPosition(epochs.completed, batches.processed)


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
        self._restored_position: TrainingPosition | None = None

    def state_dict(self) -> dict[str, int]:
        """Saved in every checkpoint written while fitting: where a run resumed from it continues."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        position = position_after(trainer)
        return {"next_epoch": position.epoch, "next_batch": position.batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if "next_epoch" in state:
            self._restored_position = TrainingPosition(state["next_epoch"], state["next_batch"])

    def _training_position(self) -> TrainingPosition:
        """Where the training loader being built starts: a restored checkpoint's position the first time
        after the restore, else the first batch of the trainer's current epoch."""
        if self._restored_position is not None:
            position, self._restored_position = self._restored_position, None
            return position
        return TrainingPosition(self.trainer.current_epoch if self.trainer is not None else 0)

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

    def _loader(self, datasets: list[Dataset], weights: list[float] | None, train: bool, batch_sizes: list[int] | None = None,
                position: TrainingPosition | None = None) -> DataLoader:  # fmt: skip
        """One loader over `datasets` (one source per batch); batch_sizes: per source (default: batch_size).
        Training batches are keyed (`ItemKey`): items draw their augmentation from (seed, epoch, index).
        A training loader starts at `position` (default: `_training_position()`)."""
        rank, world = self._rank()
        sampler = SourceBatchSampler(
            [len(d) for d in datasets], batch_sizes or self.batch_size, weights=weights, shuffle=train, drop_last=train,
            seed=self.seed, rank=rank, world_size=world, keyed=train,
        )  # fmt: skip
        if train:
            position = position or self._training_position()
            sampler.set_position(position.epoch, position.batch)
        epoch = sampler.epoch
        if train and len(sampler) == 0:
            sizes, batch = [len(d) for d in datasets], sorted(set(sampler.batch_sizes))
            per_source = f" ({' + '.join(map(str, sizes))} in {len(sizes)} sources, one source per batch)" if len(sizes) > 1 else ""
            batch_text = f"batch_size={batch[0]}" if len(batch) == 1 else f"batch sizes {sampler.batch_sizes}"
            raise ValueError(
                f"{type(self).__name__}: the training split has {sum(sizes)} items{per_source}, too few for one batch of "
                f"{batch_text} on each of {world} device(s) (incomplete training batches are dropped), so nothing "
                "would be trained: lower batch_size (--data.init_args.batch_size) or use more data"
            )
        if train and sampler.dropped:
            rank_zero_info(f"{type(self).__name__}: {sampler.dropped} clips per epoch fall in incomplete batches and are skipped")
        return DataLoader(
            SourceConcat(datasets, self.seed), batch_sampler=sampler, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(derived_seed(self.seed, epoch, rank)),
        )  # fmt: skip

    @staticmethod
    def _start_at(loader: DataLoader, position: TrainingPosition) -> DataLoader:
        """A training loader kept from an earlier epoch, set to start at `position`."""
        loader.batch_sampler.set_position(position.epoch, position.batch)
        return loader
