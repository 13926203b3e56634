"""What every task shares: build the backbone from its config, load pretrained weights, optimise.

Tasks are thin LightningModules. Each receives a backbone *config* (HumMUSS or MotionBERT,
bidirectional or causal), builds the backbone itself and calls `backbone.representation(x)` or
`backbone(x)`; heads are separate modules. `load_from_checkpoint` rebuilds everything from the
saved hyper-parameters (the configs are frozen dataclasses, allowed in `torch.load(weights_only=True)`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from hummuss_pl.batch import FPS, SOURCE
from hummuss_pl.models import (
    BackboneConfig,
    FramewiseConfig,
    HumMUSSConfig,
    MotionBERTConfig,
    backbone_as_dict,
    build_backbone,
    load_backbone_weights,
    param_groups,
    resolve_backbone,
    supports_rate,
)


def allow_in_checkpoints(*classes: type) -> None:
    """Lets `torch.load(weights_only=True)` (Lightning's default) rebuild these config classes."""
    torch.serialization.add_safe_globals(list(classes))


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with a per-epoch learning-rate decay, as MotionBERT's recipes.

    lr: learning rate of the task heads (and of the backbone unless lr_backbone is set).
    lr_backbone: the backbone's learning rate when it differs (fine-tuning: e.g. 5e-5 vs 5e-4).
    lr_decay: multiplies every group's lr after each epoch (ExponentialLR).
    The SSM's Λ and log Δ get no weight decay and lr ≤ their cap (`models.param_groups`).
    """

    lr: float = 3e-4
    lr_backbone: float | None = None
    weight_decay: float = 0.01
    lr_decay: float = 0.99

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value < 0:
                raise ValueError(f"OptimConfig.{f.name} must be >= 0; got {value}")


allow_in_checkpoints(HumMUSSConfig, MotionBERTConfig, FramewiseConfig, OptimConfig)


class BackboneTask(L.LightningModule):
    """Base of all tasks: `self.backbone` built from its config, optional pretrained weights,
    AdamW with parameter groups for backbone and heads, per-epoch lr decay.

    Subclasses call `self.save_hyperparameters()` right after `super().__init__(...)`, implement
    `training_step(batch, batch_idx) -> loss` and `evaluation_step(batch, split)` (validation and
    test: metrics of split "val" / "test", logged as `split/metric`), and set `monitor` (the metric
    the best checkpoint is chosen by). Every parameter outside `self.backbone` is a head parameter
    for the optimiser (lr `optim.lr`), so a new head needs no registration. `compile=True` runs the
    backbone through `torch.compile` (`--model.init_args.compile true`); checkpoints are unchanged.
    """

    monitor: tuple[str, str] = ("val/loss", "min")  # metric and mode the best checkpoint is chosen by

    def __init__(
        self, backbone: BackboneConfig | str | dict, optim: OptimConfig, pretrained: str | None = None, compile: bool = False
    ) -> None:
        super().__init__()
        self.backbone_cfg = resolve_backbone(backbone)
        self.backbone = build_backbone(self.backbone_cfg)
        if compile:
            # In place (nn.Module.compile): parameter names, hence checkpoints, stay those of the eager
            # model. Static shapes: each clip length compiles once (training uses one length).
            self.backbone.compile(dynamic=False)
        self.optim_cfg = optim
        self.pretrained = pretrained
        # Set once the backbone's starting weights are settled (`pretrained` loaded, a checkpoint restored, or
        # training begun): `pretrained` is then never (re)loaded over them.
        self._backbone_initialised = False

    def _set_reference_fps(self, reference_fps: float | None) -> None:
        """Per-clip frame rates (`clip_rate`) need a model with a rate: HumMUSS."""
        if reference_fps is not None:
            if not supports_rate(self.backbone_cfg):
                raise ValueError(f"reference_fps needs a HumMUSS backbone: {type(self.backbone).__name__} has no frame-rate parameter")
            if not reference_fps > 0:
                raise ValueError(f"reference_fps must be > 0; got {reference_fps}")
        self.reference_fps = reference_fps

    def clip_rate(self, batch: dict) -> float | torch.Tensor:
        """Each clip's rate = reference_fps / its fps ((B,) tensor), or 1.0 without reference_fps."""
        if self.reference_fps is None:
            return 1.0
        return self.reference_fps / batch[FPS].to(self.device, torch.float32)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Preset names may change meaning in later versions: checkpoints keep the resolved config.
        if "backbone" in checkpoint.get("hyper_parameters", {}):
            checkpoint["hyper_parameters"]["backbone"] = backbone_as_dict(self.backbone_cfg)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # load_from_checkpoint, or a fit resumed with ckpt_path: the weights are the checkpoint's
        self._backbone_initialised = True

    def load_pretrained(self) -> None:
        """Loads `pretrained` into the backbone, once, unless the task's weights came from a checkpoint."""
        if self.pretrained and not self._backbone_initialised:
            rank_zero_info(f"Loaded {load_backbone_weights(self.backbone, self.pretrained)}")
        self._backbone_initialised = True

    def setup(self, stage: str) -> None:
        if stage == "fit" and self._trainer is None:  # set up by hand, outside a Trainer
            self.load_pretrained()

    def on_fit_start(self) -> None:
        # Not in setup: a Trainer restores `fit(ckpt_path=...)` after setup and before this hook, so a
        # resumed task keeps its weights and needs no pretrained file (neither does load_from_checkpoint).
        self.load_pretrained()

    def configure_optimizers(self):
        cfg = self.optim_cfg
        lr_backbone = cfg.lr if cfg.lr_backbone is None else cfg.lr_backbone
        groups = [dict(g, name=f"backbone/{g['name']}") for g in param_groups(self.backbone, lr_backbone, cfg.weight_decay)]
        heads = nn.ModuleList(module for name, module in self.named_children() if name != "backbone")
        groups += [dict(g, name=f"head/{g['name']}") for g in param_groups(heads, cfg.lr, cfg.weight_decay)]
        optimizer = torch.optim.AdamW(groups)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def on_train_epoch_start(self) -> None:
        optimizer = self.optimizers()
        optimizers = optimizer if isinstance(optimizer, list) else [optimizer]
        self.log_dict({f"lr/{g['name']}": g["lr"] for opt in optimizers for g in opt.param_groups}, on_step=False, on_epoch=True)

    def evaluation_step(self, batch: dict, split: str) -> None:
        """Updates and logs the metrics of `split` ("val" or "test") with one batch."""
        raise NotImplementedError

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluation_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluation_step(batch, "test")

    def predictions(self, batch: dict) -> dict[str, torch.Tensor | list]:
        """The task's outputs for a batch, per sample (each task documents its keys)."""
        raise NotImplementedError(f"{type(self).__name__} has no predictions")

    @torch.no_grad()
    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor | list]:
        """One batch of `hummuss predict`: the SOURCE label of each sample and `predictions(batch)`,
        on the CPU (`callbacks.PredictionWriter` gathers them into one file)."""
        out = {SOURCE: batch[SOURCE]} if SOURCE in batch else {}
        out.update(self.predictions(batch))
        return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()}
