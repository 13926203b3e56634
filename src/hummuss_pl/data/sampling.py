"""Batching over several sources: one source per batch, seeded per epoch, split across ranks.

Sources in one DataModule may have different clip lengths (AMASS 243 frames, PoseTrack 30,
InstaVariety 81), so a batch never mixes sources. The sampler also does the distributed split
itself (every DataModule here sets `use_distributed_sampler: false` on the Trainer):

- training: the batch list is cut to a multiple of the world size, so every rank takes the same
  number of optimizer steps (unequal counts would hang DDP); what is cut is counted in `dropped`.
- evaluation: nothing is dropped or padded: rank r takes batches r, r + W, ... (metrics are sums,
  so results under DDP equal a single process).
- order depends only on (seed, epoch): resuming a run at epoch k replays the same batches, and
  `set_position(epoch, start)` starts an iteration at batch `start` of that epoch (a run resumed
  from a checkpoint written mid-epoch skips the batches it has trained already).

Randomness (issue 4: "seeded workers, no global seeding"). Every random draw of the data pipeline
is seeded from the DataModule's seed and where it happens, through one function, `derived_seed`
(numpy's SeedSequence hash of a few integers); nothing reads or seeds a global generator:

- batch order: this sampler, from (seed, epoch);
- per-batch augmentation on the device (pretraining corruption, flips): the DataModule's
  `_batch_generator`, from (seed, epoch, batch, rank);
- per-item augmentation inside datasets (NTU `random_move` and crop ratio, InstaVariety crop
  ratio): training samplers are `keyed`, yielding `ItemKey(index, epoch, repeat)` instead of bare
  indices; `SourceConcat` hands an `AugmentedDataset` the generator `item_rng(seed, epoch, index,
  repeat)`. The key travels from the sampler (main process) to the worker with the index, so the
  draws do not depend on the number of workers, on which worker fetches the item, on global RNG
  state, or on whether the run was resumed, and they change from epoch to epoch.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Sampler

__all__ = ["derived_seed", "item_rng", "ItemKey", "AugmentedDataset", "SourceConcat", "SourceBatchSampler"]

_ITEM_STREAM = 1  # last entropy word of item draws: keeps them apart from batch draws


def derived_seed(*entropy: int) -> int:
    """A 63-bit seed that is a function of `entropy` (non-negative integers, e.g. seed, epoch,
    batch, rank) and of nothing else, for `torch.Generator.manual_seed` or `np.random.default_rng`."""
    if any(int(e) < 0 for e in entropy):
        raise ValueError(f"seed entropy must be non-negative integers; got {entropy}")
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1, np.uint64)[0] >> 1)


def item_rng(seed: int, epoch: int, index: int, repeat: int = 0) -> np.random.Generator:
    """The generator of one item's augmentation: (DataModule seed, epoch, index of the item in the
    loader's dataset, which pass over its source this draw is within the epoch)."""
    return np.random.default_rng(derived_seed(seed, epoch, index, repeat, _ITEM_STREAM))


class ItemKey(NamedTuple):
    """What a `keyed` SourceBatchSampler yields per item: the index into the `SourceConcat`, the
    epoch, and the pass over the item's source (0 unless the source's weight is above 1)."""

    index: int
    epoch: int
    repeat: int = 0


class AugmentedDataset(Dataset):
    """A dataset whose items carry random augmentation, drawn only from the generator it is given.

    Subclasses implement `item(index, rng)` and set `seed`. `dataset[i]` is `item(i, item_rng(seed,
    0, i))`: deterministic, the epoch-0 draw. In DataModules, `SourceConcat` calls `item` with the
    generator of (module seed, epoch, index, repeat) instead.
    """

    seed: int

    def item(self, index: int, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        return self.item(index, item_rng(self.seed, 0, index))


class SourceConcat(ConcatDataset):
    """The sources of a DataModule as one dataset, indexed by int (like ConcatDataset) or by
    `ItemKey`: an `AugmentedDataset` source then draws from `item_rng(seed, epoch, index, repeat)`."""

    def __init__(self, datasets: Sequence[Dataset], seed: int) -> None:
        super().__init__(datasets)
        self.seed = seed

    def __getitem__(self, key: int | ItemKey) -> dict:
        if not isinstance(key, ItemKey):
            return super().__getitem__(key)
        source = bisect.bisect_right(self.cumulative_sizes, key.index)
        dataset = self.datasets[source]
        local = key.index - (self.cumulative_sizes[source - 1] if source else 0)
        if isinstance(dataset, AugmentedDataset):
            return dataset.item(local, item_rng(self.seed, key.epoch, key.index, key.repeat))
        return dataset[local]


class SourceBatchSampler(Sampler[list]):
    """Yields batches of indices into a `SourceConcat` of `sizes[i]`-long sources.

    Args:
        sizes: number of items of each source, in ConcatDataset order.
        batch_size: items per batch (per device); one number, or one per source.
        weights: per source, how many passes over it an epoch makes (0.5 = a random half, 2 = two
            passes); None = 1 for all. A weight of 0 leaves the source out.
        shuffle: shuffle items within sources and the order of batches.
        drop_last: drop each source's last incomplete batch (training) or keep it (evaluation).
        seed, rank, world_size: see the module docstring.
        keyed: yield `ItemKey(index, epoch, repeat)` instead of bare indices (training loaders,
            so that items draw their augmentation per epoch; see the module docstring).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int | Sequence[int],
        weights: Sequence[float] | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        keyed: bool = False,
    ) -> None:
        batch_sizes = [batch_size] * len(sizes) if isinstance(batch_size, int) else list(batch_size)
        if len(batch_sizes) != len(sizes) or any(b < 1 for b in batch_sizes):
            raise ValueError(f"batch_size must be >= 1, one value or one per source ({len(sizes)}); got {batch_size}")
        weights = [1.0] * len(sizes) if weights is None else list(weights)
        if len(weights) != len(sizes):
            raise ValueError(f"got {len(weights)} weights for {len(sizes)} sources")
        if any(w < 0 for w in weights):
            raise ValueError(f"source weights must be >= 0; got {weights}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.sizes, self.weights = list(sizes), weights
        self.batch_sizes, self.shuffle, self.drop_last = batch_sizes, shuffle, drop_last
        self.seed, self.rank, self.world_size, self.keyed = seed, rank, world_size, keyed
        self.epoch, self.start = 0, 0
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before every epoch (through `sampler`): the next iteration yields the
        batches of `epoch`, from its first; the order is a function of (seed, epoch)."""
        self.set_position(epoch, 0)

    def set_position(self, epoch: int, start: int) -> None:
        """The next iteration yields the batches of `epoch` from this rank's batch `start` on. The
        length stays the whole epoch's, as Lightning counts a resumed epoch's batches from its start."""
        if epoch < 0 or start < 0:
            raise ValueError(f"epoch and start batch must be >= 0; got epoch {epoch}, start {start}")
        self.epoch, self.start = epoch, start

    @property
    def sampler(self) -> "SourceBatchSampler":
        """This sampler itself. Lightning calls `set_epoch` on `dataloader.sampler` and on
        `dataloader.batch_sampler.sampler`, never on the batch sampler, so without this attribute
        every epoch would replay epoch 0."""
        return self

    def _draws(self, size: int, weight: float, offset: int, gen: torch.Generator) -> list[tuple[int, int]]:
        """(index + offset, pass) of each draw from one source this epoch."""
        count = round(size * weight)
        if count == 0 or size == 0:
            return []
        passes = -(-count // size)  # ceil
        if self.shuffle:
            order = torch.cat([torch.randperm(size, generator=gen) for _ in range(passes)])
        else:
            order = torch.arange(size).repeat(passes)
        return [(i + offset, k // size) for k, i in enumerate(order[:count].tolist())]

    def _all_batches(self) -> tuple[list[list[tuple[int, int]]], int]:
        gen = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch))
        batches: list[list[tuple[int, int]]] = []
        dropped = 0
        for size, weight, offset, batch_size in zip(self.sizes, self.weights, self.offsets, self.batch_sizes, strict=True):
            draws = self._draws(size, weight, offset, gen)
            for start in range(0, len(draws), batch_size):
                chunk = draws[start : start + batch_size]
                if len(chunk) < batch_size and self.drop_last:
                    dropped += len(chunk)
                    continue
                batches.append(chunk)
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
        if self.drop_last and self.world_size > 1:
            keep = len(batches) - len(batches) % self.world_size
            dropped += sum(len(b) for b in batches[keep:])
            batches = batches[:keep]
        return batches, dropped

    @property
    def dropped(self) -> int:
        """Items this epoch leaves out (incomplete batches in training); 0 in evaluation."""
        return self._all_batches()[1]

    def __iter__(self) -> Iterator[list]:
        batches, _ = self._all_batches()
        mine = batches[self.rank :: self.world_size][self.start :]
        if self.keyed:
            return iter([[ItemKey(i, self.epoch, r) for i, r in batch] for batch in mine])
        return iter([[i for i, _ in batch] for batch in mine])

    def __len__(self) -> int:
        batches, _ = self._all_batches()
        return len(range(self.rank, len(batches), self.world_size))
