"""What the DataModules train on by default: MotionBERT's pretraining input for 3D sources (the
label's orthographic xy with confidence 1 on the training split, stored detections held out), and
the `data/source` hyper-parameter and banner that tell synthetic runs from real ones."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import pytest
import torch
from fixtures import mb_label, write_h36m_source, write_mb_clip

from hummuss_pl.batch import INPUT, TARGET_3D
from hummuss_pl.data.modules import (
    ActionDataModule,
    MeshDataModule,
    Pose3DDataModule,
    PretrainDataModule,
    SourceConfig,
)
from hummuss_pl.data.modules.base import DATA_SOURCE_HPARAM
from hummuss_pl.data.registry import build_source
from hummuss_pl.data.synthetic import SYNTHETIC_NOTICE, SyntheticConfig


def detected(label: np.ndarray) -> np.ndarray:
    """A stand-in detection: the label's xy moved by (0.25, -0.125), confidence 0.5."""
    out = label.copy()
    out[..., :2] += np.array([0.25, -0.125], np.float32)
    out[..., 2] = 0.5
    return out


@pytest.fixture
def h36m_root(tmp_path):
    """DATA_ROOT with MB3D_f243s81/H36M-SH (2 train, 1 test clip whose data_input differs from the label)
    and the H36M-SH source pickle."""
    store = tmp_path / "motion3d" / "MB3D_f243s81" / "H36M-SH"
    for split, n in (("train", 2), ("test", 1)):
        for k in range(n):
            write_mb_clip(store / split / f"{k:08d}.pkl", detected(mb_label(k)), mb_label(k))
    write_h36m_source(tmp_path / "motion3d" / "h36m_sh_conf_cam_source_final.pkl")
    return tmp_path


@pytest.mark.parametrize("name", ["h36m", "h36m_source"])
def test_3d_sources_train_on_the_projected_label_like_motionbert(h36m_root, name):
    options = {"stride": 4} if name == "h36m_source" else {}
    source = SourceConfig(name, clip_len=4 if name == "h36m_source" else None, options=options)
    train = build_source(source, str(h36m_root), "train")[0]
    np.testing.assert_array_equal(train[INPUT][..., :2], train[TARGET_3D][..., :2])
    assert (train[INPUT][..., 2] == 1).all()
    held_out = build_source(source, str(h36m_root), "test")[0]  # evaluated on the stored detections
    assert (held_out[INPUT][..., 2] != 1).all()
    detections = SourceConfig(name, clip_len=source.clip_len, options={**options, "input_2d": "stored"})
    stored = build_source(detections, str(h36m_root), "train")[0]
    assert (stored[INPUT][..., 2] == 0.5).all()
    if name == "h36m":
        np.testing.assert_array_equal(stored[INPUT], detected(mb_label(0)))
        np.testing.assert_array_equal(held_out[INPUT], detected(mb_label(0)))


def test_pretrain_module_trains_on_projected_h36m_clips(h36m_root):
    dm = PretrainDataModule(sources=[SourceConfig("h36m")], data_root=str(h36m_root), batch_size=2, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    torch.testing.assert_close(batch[INPUT][..., :2], batch[TARGET_3D][..., :2], rtol=0, atol=0)
    assert (batch[INPUT][..., 2] == 1).all()
    held_out = next(iter(dm.val_dataloader()))
    assert (held_out[INPUT][..., 2] == 0.5).all()


# ------------------------------------------------------------------------------- data/source
def test_data_source_hyperparameter_names_what_the_module_reads(tmp_path):
    assert PretrainDataModule().hparams[DATA_SOURCE_HPARAM] == "synthetic"
    real = PretrainDataModule(sources=[SourceConfig("h36m"), SourceConfig("amass"), SourceConfig("instavariety")])
    assert real.hparams[DATA_SOURCE_HPARAM] == "amass+h36m+instavariety"
    store = PretrainDataModule(sources=[SourceConfig("mb3d", options={"subset": "Synthetic"})])
    assert store.hparams[DATA_SOURCE_HPARAM] == "mb3d/Synthetic"
    tiny = SyntheticConfig(num_clips=8, clip_len=9, layout="action")
    assert ActionDataModule(synthetic=True, synthetic_corpus=tiny).hparams[DATA_SOURCE_HPARAM] == "synthetic"
    assert ActionDataModule(path=str(tmp_path / "ntu60_hrnet.pkl")).hparams[DATA_SOURCE_HPARAM] == "ntu60"
    assert Pose3DDataModule(synthetic=True).hparams[DATA_SOURCE_HPARAM] == "synthetic"
    assert Pose3DDataModule(data_root=str(tmp_path)).hparams[DATA_SOURCE_HPARAM] == "mpi_inf_3dhp"
    assert MeshDataModule(synthetic=True, smpl_dir=str(tmp_path)).hparams[DATA_SOURCE_HPARAM] == "synthetic"
    assert MeshDataModule(data_root=str(tmp_path), use_h36m=True).hparams[DATA_SOURCE_HPARAM] == "coco+h36m+pw3d"


class HparamLogger(L.pytorch.loggers.Logger):
    """Keeps what the Trainer logs as hyper-parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.hparams: dict = {}

    @property
    def name(self) -> str:
        return "hparams"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        self.hparams.update(dict(params))

    def log_metrics(self, metrics, step=None) -> None:
        pass


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters({"lr": 0.0})
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.w * batch[INPUT].mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


@pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`")
@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated")
@pytest.mark.filterwarnings("ignore:The number of training batches")
def test_a_synthetic_run_logs_data_source_and_the_banner(caplog):
    dm = PretrainDataModule(sources=[SourceConfig("synthetic", clip_len=9, options={"num_clips": 8})], batch_size=4, num_workers=0)
    logger = HparamLogger()
    with caplog.at_level(logging.INFO):
        L.Trainer(max_epochs=1, logger=logger, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                  use_distributed_sampler=False, limit_val_batches=0).fit(Tiny(), dm)  # fmt: skip
    assert logger.hparams == {"lr": 0.0, DATA_SOURCE_HPARAM: "synthetic"}  # merged with the model's
    banners = [r.getMessage() for r in caplog.records if r.getMessage().startswith(SYNTHETIC_NOTICE)]
    assert len(banners) == 1 and "split=train" in banners[0]
