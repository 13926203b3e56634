"""The pretraining curriculum: phases switch sources by epoch, survive resume, and resuming an
interrupted run ends with exactly the weights of an uninterrupted one."""

import lightning as L
import pytest
import torch

from hummuss_pl.batch import HAS_3D, INPUT, NOISE
from hummuss_pl.data.modules import Phase, PretrainDataModule, SourceConfig
from hummuss_pl.tasks.base import OptimConfig
from hummuss_pl.tasks.pretrain import PretrainTask


def datamodule(phases=None, **kwargs) -> PretrainDataModule:
    sources = [
        SourceConfig("synthetic", alias="s3d", clip_len=9, options={"num_clips": 24}),
        SourceConfig("synthetic", alias="s2d", use_3d=False, clip_len=9, options={"num_clips": 16, "seed": 1}),
    ]
    return PretrainDataModule(sources=sources, phases=phases, batch_size=4, num_workers=0, **kwargs)


class SeenSources(L.Callback):
    """Records, per epoch, which HAS_3D values the training batches carried."""

    def __init__(self) -> None:
        self.per_epoch: dict[int, set[bool]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.per_epoch.setdefault(trainer.current_epoch, set()).update(batch[HAS_3D].tolist())


def trainer(tmp_path, max_epochs: int, callbacks=()) -> L.Trainer:
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0)
    return L.Trainer(
        max_epochs=max_epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
        reload_dataloaders_every_n_epochs=1, use_distributed_sampler=False, limit_val_batches=1,
        callbacks=[checkpoint, *callbacks], deterministic=True,
    )  # fmt: skip


def task() -> PretrainTask:
    L.seed_everything(0)
    return PretrainTask("hummuss-tiny-causal", OptimConfig(lr=1e-3))


def test_default_phases_are_the_paper_schedule():
    assert datamodule().phases == [Phase(0, ("s3d",)), Phase(30, ("s3d", "s2d"))]
    assert datamodule(paper_2d_epoch=5).phases[1].start_epoch == 5


def test_phases_switch_sources_at_the_configured_epoch(tmp_path):
    seen = SeenSources()
    trainer(tmp_path, 3, [seen]).fit(task(), datamodule([Phase(0, ("s3d",)), Phase(2, ("s3d", "s2d"))]))
    assert seen.per_epoch[0] == {True} and seen.per_epoch[1] == {True}
    assert seen.per_epoch[2] == {True, False}  # 2D-only clips arrive in phase 2


@pytest.mark.parametrize("interrupt_after", [1, 3], ids=["resume-in-phase-1", "resume-in-phase-2"])
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, interrupt_after):
    phases = [Phase(0, ("s3d",)), Phase(2, ("s3d", "s2d"))]
    straight = task()
    trainer(tmp_path / "straight", 4).fit(straight, datamodule(phases))

    first = task()
    trainer(tmp_path / "resumed", interrupt_after).fit(first, datamodule(phases))
    seen = SeenSources()
    resumed = task()  # a fresh process would rebuild the task like this
    dm = datamodule(phases)
    trainer(tmp_path / "resumed", 4, [seen]).fit(resumed, dm, ckpt_path=str(tmp_path / "resumed" / "last.ckpt"))

    assert min(seen.per_epoch) == interrupt_after  # it did resume, not restart
    assert seen.per_epoch[3] == {True, False} and dm.phase_index == 1
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_curriculum_needs_dataloader_reload(tmp_path):
    plain = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, use_distributed_sampler=False, enable_checkpointing=False)
    with pytest.raises(RuntimeError, match="reload_dataloaders_every_n_epochs=1"):
        plain.fit(task(), datamodule([Phase(0, ("s3d",)), Phase(1, ("s2d",))]))


def test_bad_phases_raise():
    with pytest.raises(ValueError, match="epoch 0"):
        datamodule([Phase(1, ("s3d",))])
    with pytest.raises(ValueError, match="unknown sources"):
        datamodule([Phase(0, ("s3d", "nope"))])
    with pytest.raises(ValueError, match="unique"):
        PretrainDataModule(sources=[SourceConfig("synthetic"), SourceConfig("synthetic")])
    with pytest.raises(ValueError, match="unknown data source"):
        PretrainDataModule(sources=[SourceConfig("amass3"), SourceConfig("synthetic")]).setup("fit")


class NoiseSeen(L.Callback):
    """Records, per source alias flag, whether corruption changed the input's x, y (noise only)."""

    def __init__(self) -> None:
        self.changed: dict[bool, set[bool]] = {True: set(), False: set()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        from hummuss_pl.batch import CLEAN_INPUT

        moved = (batch[INPUT][..., :2] != batch[CLEAN_INPUT][..., :2]).flatten(1).any(1)  # (B,)
        for flag, m in zip(batch[NOISE].tolist(), moved.tolist(), strict=True):
            self.changed[flag].add(m)


def test_sources_without_noise_are_only_masked_and_flipped(tmp_path):
    from hummuss_pl.data.corruption import CorruptionConfig
    from hummuss_pl.data.registry import source_noise

    assert not source_noise(SourceConfig("instavariety")) and source_noise(SourceConfig("posetrack"))
    assert source_noise(SourceConfig("instavariety", noise=True)) and not source_noise(SourceConfig("amass", noise=False))
    sources = [
        SourceConfig("synthetic", alias="noisy", clip_len=9, options={"num_clips": 16}),
        SourceConfig("synthetic", alias="clean", use_3d=False, noise=False, clip_len=9, options={"num_clips": 16, "seed": 1}),
    ]
    only_noise = CorruptionConfig(mask_joint_ratio=0.0, flip_prob=0.0)
    dm = PretrainDataModule(sources=sources, phases=[Phase(0, ("noisy", "clean"))], corruption=only_noise, batch_size=4, num_workers=0)
    seen = NoiseSeen()
    trainer(tmp_path, 1, [seen]).fit(task(), dm)
    assert seen.changed == {True: {True}, False: {False}}


def test_predict_without_held_out_data_says_so():
    only_2d = SourceConfig("synthetic", use_3d=False, clip_len=9, options={"num_clips": 8})
    dm = PretrainDataModule(sources=[only_2d], phases=[Phase(0, ("synthetic",))], batch_size=4, num_workers=0)
    dm.setup("predict")
    with pytest.raises(ValueError, match="no held-out data to predict on"):
        dm.predict_dataloader()
