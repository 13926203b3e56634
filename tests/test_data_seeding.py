"""Seeded data, no global seeding (issue 4 §5): the training batches of a DataModule depend on its
`seed` and the epoch only — not on torch's / numpy's / Python's global random state, not on the
number of loader workers — and the per-item augmentation changes from epoch to epoch. Checked on the
two readers that augment per item: NTU (ActionDataModule: random_move and crop ratio) and
InstaVariety (PretrainDataModule: crop ratio)."""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import pytest
import torch
from fixtures import write_instavariety, write_ntu

from hummuss_pl.batch import FRAME_DIR, INPUT
from hummuss_pl.data.modules import (
    ActionDataModule,
    Phase,
    PretrainDataModule,
    SourceConfig,
)
from hummuss_pl.data.sampling import ItemKey, SourceBatchSampler, SourceConcat, item_rng


def seed_globally(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def action_module(path, num_workers: int, seed: int = 7) -> ActionDataModule:
    return ActionDataModule(path=str(path), clip_len=20, batch_size=2, num_workers=num_workers, seed=seed)


def insta_module(root, num_workers: int, seed: int = 7) -> PretrainDataModule:
    source = SourceConfig("instavariety", path=str(root))
    return PretrainDataModule(sources=[source], phases=[Phase(0, ("instavariety",))], batch_size=2, num_workers=num_workers, seed=seed)


@pytest.fixture(scope="module")
def ntu_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ntu") / "ntu60_hrnet.pkl"
    write_ntu(path)  # xsub_train: 2 samples (10 and 4 frames, resampled to 20)
    return path


@pytest.fixture(scope="module")
def insta_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("insta")
    write_instavariety(root, lengths=(100, 40, 90, 60, 120, 81))  # 6 clips of 81 frames (clip 2 is dropped)
    return root


def epoch_items(module, epoch: int) -> tuple[list[dict], dict[int, dict]]:
    """The training batches of `epoch` and every item by its index into the loader's dataset."""
    loader = module.train_dataloader()
    loader.batch_sampler.set_epoch(epoch)
    keys = list(loader.batch_sampler)
    batches = list(loader)
    assert len(batches) == len(keys)
    items = {}
    for batch_keys, batch in zip(keys, batches, strict=True):
        for row, key in enumerate(batch_keys):
            assert isinstance(key, ItemKey) and key.epoch == epoch
            items[key.index] = {k: v[row] for k, v in batch.items() if isinstance(v, torch.Tensor)}
    return batches, items


def assert_batches_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


CASES = pytest.mark.parametrize("case", ["ntu", "instavariety"])


def build(case: str, ntu_path, insta_root, num_workers: int, seed: int = 7):
    if case == "ntu":
        module = action_module(ntu_path, num_workers, seed)
    else:
        module = insta_module(insta_root, num_workers, seed)
    module.setup("fit")
    return module


@CASES
@pytest.mark.parametrize("num_workers", [0, 2])
def test_first_batch_ignores_global_random_state(case, num_workers, ntu_path, insta_root):
    firsts = []
    for global_seed in (1, 12345):
        seed_globally(global_seed)
        module = build(case, ntu_path, insta_root, num_workers)
        firsts.append(next(iter(module.train_dataloader())))
    assert_batches_equal(firsts[0], firsts[1])
    if num_workers:  # ... and the number of workers
        seed_globally(99)
        assert_batches_equal(firsts[0], next(iter(build(case, ntu_path, insta_root, 0).train_dataloader())))


@CASES
@pytest.mark.parametrize("num_workers", [0, 2])
def test_augmentation_differs_between_epochs(case, num_workers, ntu_path, insta_root):
    module = build(case, ntu_path, insta_root, num_workers)
    _, epoch0 = epoch_items(module, 0)
    _, epoch1 = epoch_items(module, 1)
    assert epoch0.keys() == epoch1.keys() and epoch0
    for index in epoch0:
        a, b = epoch0[index][INPUT], epoch1[index][INPUT]
        assert not torch.allclose(a, b), f"item {index} has the same augmentation in epochs 0 and 1"
    _, again = epoch_items(module, 0)  # epoch 0 replayed (e.g. after a resume) is epoch 0
    for index in epoch0:
        assert torch.equal(epoch0[index][INPUT], again[index][INPUT])


@CASES
def test_module_seed_changes_the_augmentation(case, ntu_path, insta_root):
    _, a = epoch_items(build(case, ntu_path, insta_root, 0, seed=7), 0)
    _, b = epoch_items(build(case, ntu_path, insta_root, 0, seed=8), 0)
    assert any(not torch.allclose(a[i][INPUT], b[i][INPUT]) for i in a)


@CASES
def test_loading_leaves_the_global_generators_alone(case, ntu_path, insta_root):
    module = build(case, ntu_path, insta_root, 0)
    seed_globally(3)
    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    for _ in module.train_dataloader():
        pass
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]


def test_ntu_items_in_the_loader_are_the_dataset_items_with_their_epoch_generator(ntu_path):
    module = build("ntu", ntu_path, None, 0)
    _, items = epoch_items(module, 3)
    dataset = module.train_dataloader().dataset
    assert isinstance(dataset, SourceConcat)
    for index, sample in items.items():
        expected = module._train.item(index, item_rng(7, 3, index))[INPUT]
        np.testing.assert_array_equal(sample[INPUT].numpy(), expected)
    frame_dirs = {dataset[ItemKey(i, 3)][FRAME_DIR] for i in items}
    assert frame_dirs == {"S001C001P001R001A001", "S001C003P001R001A003"}


def test_keyed_sampler_yields_the_same_batches_with_epoch_and_pass():
    plain = SourceBatchSampler([5, 3], 2, weights=[2.0, 1.0], drop_last=False, seed=4)
    keyed = SourceBatchSampler([5, 3], 2, weights=[2.0, 1.0], drop_last=False, seed=4, keyed=True)
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        keyed.set_epoch(epoch)
        keys = list(keyed)
        assert [[k.index for k in b] for b in keys] == list(plain)
        flat = [k for b in keys for k in b]
        assert all(k.epoch == epoch for k in flat)
        # weight 2: every item of source 0 is drawn twice, once in each pass, so the two draws augment differently
        assert sorted((k.index, k.repeat) for k in flat if k.index < 5) == [(i, r) for i in range(5) for r in (0, 1)]
        assert all(k.repeat == 0 for k in flat if k.index >= 5)


# --------------------------------------------------------------------------- through the Trainer
class Recorder(L.LightningModule):
    """Records the INPUT of every training batch (after the DataModule's device-side augmentation)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen: dict[int, list[torch.Tensor]] = {}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self.seen.setdefault(self.current_epoch, []).append(batch[INPUT].clone())
        return self.w * batch[INPUT].float().mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


NO_VALIDATION_STEP = pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`")
LIGHTNING_PYTREE = pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated")  # inside Lightning


def fit(module, epochs: int = 2) -> dict[int, torch.Tensor]:
    recorder = Recorder()
    L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
              use_distributed_sampler=False, limit_val_batches=0).fit(recorder, module)  # fmt: skip
    return {epoch: torch.cat(batches) for epoch, batches in recorder.seen.items()}


@pytest.mark.parametrize("num_workers", [0, 2])
@NO_VALIDATION_STEP
@LIGHTNING_PYTREE
def test_pretraining_batches_with_corruption_ignore_global_state_and_change_per_epoch(insta_root, num_workers):
    runs = []
    for global_seed in (1, 12345):
        seed_globally(global_seed)
        runs.append(fit(insta_module(insta_root, num_workers)))  # default corruption: flips, noise off (InstaVariety), masking
    for epoch in (0, 1):
        assert torch.equal(runs[0][epoch], runs[1][epoch]), epoch
    # the Trainer's epoch reaches the sampler and the items: no clip of epoch 1 repeats one of epoch 0
    first, second = runs[0][0].flatten(1), runs[0][1].flatten(1)
    assert first.shape == second.shape == (6, 81 * 17 * 3)
    assert not (first[:, None] == second[None]).all(-1).any()


@NO_VALIDATION_STEP
@LIGHTNING_PYTREE
def test_action_batches_change_per_epoch_in_a_fit(ntu_path):
    seen = fit(action_module(ntu_path, 0), epochs=3)
    assert all(seen[e].shape == (2, 2, 20, 17, 3) for e in range(3))
    assert not torch.equal(seen[0], seen[1]) and not torch.equal(seen[1], seen[2])
