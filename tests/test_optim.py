"""The tasks' optimiser: parameter groups from `models.param_groups` (SSM parameters without weight
decay and with a capped lr), separate backbone and head learning rates, every trainable parameter in
exactly one group, and the learning rate decayed once per epoch by `lr_decay`."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from hummuss_pl.data.modules import PretrainDataModule, SourceConfig
from hummuss_pl.models import HumMUSS
from hummuss_pl.tasks.action import ActionTask
from hummuss_pl.tasks.base import OptimConfig
from hummuss_pl.tasks.pretrain import PretrainTask

BACKBONES = ["hummuss-tiny-causal", "motionbert-tiny-causal"]
OPTIM = OptimConfig(lr=2e-3, lr_backbone=4e-4, weight_decay=0.05, lr_decay=0.8)
SSM_NAMES = ("log_dt", "lambda_re", "lambda_im")  # the parameters `GDSSM.optim_hints` names


def configured(task: L.LightningModule) -> tuple[torch.optim.Optimizer, dict]:
    out = task.configure_optimizers()
    return out["optimizer"], out["lr_scheduler"]


@pytest.mark.parametrize("backbone", BACKBONES)
def test_groups_split_backbone_heads_and_ssm_parameters(backbone):
    task = ActionTask(backbone, optim=OPTIM)
    optimizer, _ = configured(task)
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = {g["name"]: g for g in optimizer.param_groups}

    # every trainable parameter in exactly one group, frozen ones (the unused lifting head) in none
    grouped = [id(p) for g in optimizer.param_groups for p in g["params"]]
    assert len(grouped) == len(set(grouped))
    trainable = {id(p) for p in task.parameters() if p.requires_grad}
    assert set(grouped) == trainable
    assert not any(id(p) in trainable for p in task.backbone.head.parameters())

    head = {id(p) for p in task.head.parameters()}
    assert {id(p) for p in groups["head/main"]["params"]} == head
    assert (groups["head/main"]["lr"], groups["head/main"]["weight_decay"]) == (OPTIM.lr, OPTIM.weight_decay)
    assert (groups["backbone/main"]["lr"], groups["backbone/main"]["weight_decay"]) == (OPTIM.lr_backbone, OPTIM.weight_decay)

    names = {id(p): n for n, p in task.backbone.named_parameters()}
    ssm = [g for name, g in groups.items() if name.startswith("backbone/ssm")]
    if isinstance(task.backbone, HumMUSS):
        assert [g["name"] for g in ssm] == ["backbone/ssm"]
        [group] = ssm
        assert group["weight_decay"] == 0.0
        assert group["lr"] == min(OPTIM.lr_backbone, task.backbone_cfg.ssm_lr)
        assert {names[id(p)].rsplit(".", 1)[-1] for p in group["params"]} == set(SSM_NAMES)
        assert not any(names[id(p)].endswith(SSM_NAMES) for p in groups["backbone/main"]["params"])
    else:
        assert ssm == []  # MotionBERT has no SSM: one backbone group


def test_ssm_lr_above_the_backbone_lr_leaves_the_backbone_lr():
    task = ActionTask("hummuss-tiny-causal", optim=OptimConfig(lr=1e-3, lr_backbone=1e-5))
    optimizer, _ = configured(task)
    [group] = [g for g in optimizer.param_groups if g["name"] == "backbone/ssm"]
    assert task.backbone_cfg.ssm_lr > 1e-5 and group["lr"] == 1e-5


def test_backbone_lr_defaults_to_the_head_lr():
    task = ActionTask("motionbert-tiny-causal", optim=OptimConfig(lr=1e-3, lr_backbone=None))
    optimizer, _ = configured(task)
    assert {g["name"]: g["lr"] for g in optimizer.param_groups} == {"backbone/main": 1e-3, "head/main": 1e-3}


@pytest.mark.parametrize("backbone", BACKBONES)
def test_learning_rates_decay_once_per_epoch_by_lr_decay(backbone):
    task = PretrainTask(backbone, optim=OPTIM)
    optimizer, scheduler = configured(task)
    assert scheduler["interval"] == "epoch"
    assert isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ExponentialLR)

    # trained for 3 epochs of 2 steps each: decayed 3 times (per epoch, not per step)
    start = {g["name"]: g["lr"] for g in optimizer.param_groups}
    data = PretrainDataModule(sources=[SourceConfig("synthetic", clip_len=9, options={"num_clips": 16})], batch_size=4, num_workers=0)
    trainer = L.Trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        accelerator="cpu", enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(task, data)
    assert trainer.global_step == 6
    [trained] = trainer.optimizers
    for group in trained.param_groups:
        assert group["lr"] == pytest.approx(start[group["name"]] * OPTIM.lr_decay**3, rel=1e-12), group["name"]


def test_a_new_head_needs_no_registration():
    """Every trainable parameter outside the backbone trains at the head lr, whatever it is called."""
    task = ActionTask("hummuss-tiny-causal", optim=OPTIM)
    task.extra_head = torch.nn.Linear(3, 2)  # e.g. a second head a subclass adds
    optimizer, _ = configured(task)
    head_params = {id(p) for g in optimizer.param_groups if g["name"].startswith("head/") for p in g["params"]}
    assert {id(p) for p in task.extra_head.parameters()} <= head_params
    assert {id(p) for p in task.head.parameters()} <= head_params
    assert all(g["lr"] == OPTIM.lr for g in optimizer.param_groups if g["name"].startswith("head/"))
