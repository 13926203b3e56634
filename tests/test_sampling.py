"""SourceBatchSampler: one source per batch, weights, epochs, exact distributed splits."""

import pytest

from hummuss_pl.data.sampling import SourceBatchSampler


def source_of(index: int, sizes: list[int]) -> int:
    start = 0
    for s, size in enumerate(sizes):
        if index < start + size:
            return s
        start += size
    raise AssertionError(index)


def test_batches_never_mix_sources_and_cover_each_source_once():
    sizes = [10, 7, 5]
    sampler = SourceBatchSampler(sizes, batch_size=3, shuffle=True, drop_last=False, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4 + 3 + 2
    for b in batches:
        assert len({source_of(i, sizes) for i in b}) == 1
    assert sorted(i for b in batches for i in b) == list(range(22))


def test_drop_last_drops_only_incomplete_batches_and_counts_them():
    sampler = SourceBatchSampler([10, 7], batch_size=3, drop_last=True)
    batches = list(sampler)
    assert all(len(b) == 3 for b in batches) and len(batches) == 3 + 2
    assert sampler.dropped == 1 + 1


def test_weights_set_passes_per_epoch():
    sampler = SourceBatchSampler([10, 8], batch_size=2, weights=[2.0, 0.5], drop_last=False)
    items = [i for b in sampler for i in b]
    first = [i for i in items if i < 10]
    second = [i for i in items if i >= 10]
    assert len(first) == 20 and sorted(set(first)) == list(range(10))  # two full passes
    assert len(second) == 4 and len(set(second)) == 4  # a random half, no repeats
    assert len(list(SourceBatchSampler([10, 8], 2, weights=[1.0, 0.0]))) == 5


def test_order_is_a_function_of_seed_and_epoch():
    a = SourceBatchSampler([20, 12], 4, seed=3)
    b = SourceBatchSampler([20, 12], 4, seed=3)
    a.set_epoch(5)
    b.set_epoch(5)
    assert list(a) == list(b)
    b.set_epoch(6)
    assert list(a) != list(b)
    assert list(SourceBatchSampler([20, 12], 4, seed=4)) != list(SourceBatchSampler([20, 12], 4, seed=3))


def test_training_split_gives_every_rank_the_same_number_of_batches():
    sizes = [23, 9]
    ranks = [SourceBatchSampler(sizes, 2, drop_last=True, seed=7, rank=r, world_size=3) for r in range(3)]
    per_rank = [list(s) for s in ranks]
    assert len({len(p) for p in per_rank}) == 1 and all(len(p) == len(s) for p, s in zip(per_rank, ranks, strict=True))
    seen = [i for p in per_rank for b in p for i in b]
    assert len(seen) == len(set(seen))  # no item on two ranks
    single = SourceBatchSampler(sizes, 2, drop_last=True, seed=7)
    assert len(seen) + ranks[0].dropped == sum(sizes)
    assert ranks[0].dropped >= single.dropped


def test_evaluation_split_covers_everything_exactly_once():
    sizes = [11, 6, 1]
    ranks = [SourceBatchSampler(sizes, 4, shuffle=False, drop_last=False, rank=r, world_size=2) for r in range(2)]
    seen = sorted(i for s in ranks for b in s for i in b)
    assert seen == list(range(18))  # no padding, no duplicates, nothing dropped


def test_per_source_batch_sizes():
    sampler = SourceBatchSampler([8, 20], batch_size=[2, 10], shuffle=True, drop_last=True)
    sizes = sorted((source_of(b[0], [8, 20]), len(b)) for b in sampler)
    assert sizes == [(0, 2)] * 4 + [(1, 10)] * 2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="batch_size"):
        SourceBatchSampler([3, 4], [2])
    with pytest.raises(ValueError, match="weights"):
        SourceBatchSampler([3, 4], 2, weights=[1.0])
    with pytest.raises(ValueError, match=">= 0"):
        SourceBatchSampler([3], 2, weights=[-1.0])
    with pytest.raises(ValueError, match="rank"):
        SourceBatchSampler([3], 2, rank=2, world_size=2)


def test_lightning_hands_the_epoch_to_the_batch_sampler():
    """Lightning calls set_epoch on `loader.sampler` and `loader.batch_sampler.sampler` only."""
    from lightning.fabric.utilities.data import _set_sampler_epoch
    from torch.utils.data import DataLoader

    sampler = SourceBatchSampler([10], 2, seed=1)
    _set_sampler_epoch(DataLoader(list(range(10)), batch_sampler=sampler), 4)
    assert sampler.epoch == 4
    fresh = SourceBatchSampler([10], 2, seed=1)
    fresh.set_epoch(4)
    assert list(sampler) == list(fresh)
