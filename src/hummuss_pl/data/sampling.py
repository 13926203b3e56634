"""Batching over several sources: one source per batch, seeded per epoch, split across ranks.

Sources in one DataModule may have different clip lengths (AMASS 243 frames, PoseTrack 30,
InstaVariety 81), so a batch never mixes sources. The sampler also does the distributed split
itself (every DataModule here sets `use_distributed_sampler: false` on the Trainer):

- training: the batch list is cut to a multiple of the world size, so every rank takes the same
  number of optimizer steps (unequal counts would hang DDP); what is cut is counted in `dropped`.
- evaluation: nothing is dropped or padded: rank r takes batches r, r + W, ... (metrics are sums,
  so results under DDP equal a single process).
- order depends only on (seed, epoch): resuming a run at epoch k replays the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class SourceBatchSampler(Sampler[list[int]]):
    """Yields batches of indices into a `ConcatDataset` of `sizes[i]`-long sources.

    Args:
        sizes: number of items of each source, in ConcatDataset order.
        batch_size: items per batch (per device); one number, or one per source.
        weights: per source, how many passes over it an epoch makes (0.5 = a random half, 2 = two
            passes); None = 1 for all. A weight of 0 leaves the source out.
        shuffle: shuffle items within sources and the order of batches.
        drop_last: drop each source's last incomplete batch (training) or keep it (evaluation).
        seed, rank, world_size: see the module docstring.
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
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before every epoch; the order is a function of (seed, epoch)."""
        self.epoch = epoch

    def _draws(self, size: int, weight: float, gen: torch.Generator) -> torch.Tensor:
        count = round(size * weight)
        if count == 0 or size == 0:
            return torch.empty(0, dtype=torch.long)
        passes = -(-count // size)  # ceil
        if self.shuffle:
            order = torch.cat([torch.randperm(size, generator=gen) for _ in range(passes)])
        else:
            order = torch.arange(size).repeat(passes)
        return order[:count]

    def _all_batches(self) -> tuple[list[list[int]], int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        batches: list[list[int]] = []
        dropped = 0
        for size, weight, offset, batch_size in zip(self.sizes, self.weights, self.offsets, self.batch_sizes, strict=True):
            draws = (self._draws(size, weight, gen) + offset).tolist()
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

    def __iter__(self) -> Iterator[list[int]]:
        batches, _ = self._all_batches()
        return iter(batches[self.rank :: self.world_size])

    def __len__(self) -> int:
        batches, _ = self._all_batches()
        return len(range(self.rank, len(batches), self.world_size))
