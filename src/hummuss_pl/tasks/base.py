"""What every task shares: build the backbone from its config, load pretrained weights, optimise.

Tasks are thin LightningModules. Each receives a backbone *config* (HumMUSS or MotionBERT,
bidirectional or causal), builds the backbone itself and calls `backbone.representation(x)` or
`backbone(x)`; heads are separate modules. `load_from_checkpoint` rebuilds everything from the
saved hyper-parameters (the configs are frozen dataclasses, allowed in `torch.load(weights_only=True)`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from hummuss_pl.data import schema
from hummuss_pl.models import HumMUSS, HumMUSSConfig, MotionBERT, MotionBERTConfig, load_motionbert_checkpoint, param_groups

BackboneConfig = HumMUSSConfig | MotionBERTConfig


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


allow_in_checkpoints(HumMUSSConfig, MotionBERTConfig, OptimConfig)


# Named backbones, so configs and sweeps can say `backbone: motionbert-lite-causal`.
BACKBONE_PRESETS: dict[str, BackboneConfig] = {
    "hummuss-causal": HumMUSSConfig.paper(causal=True),
    "hummuss-bidirectional": HumMUSSConfig.paper(causal=False),
    "hummuss-small-causal": HumMUSSConfig.small(causal=True),
    "hummuss-small-bidirectional": HumMUSSConfig.small(causal=False),
    "hummuss-tiny-causal": HumMUSSConfig.tiny(causal=True),
    "hummuss-tiny-bidirectional": HumMUSSConfig.tiny(causal=False),
    "motionbert-lite-causal": MotionBERTConfig.lite(causal=True),
    "motionbert-lite": MotionBERTConfig.lite(causal=False),
    "motionbert-base-causal": MotionBERTConfig.base(causal=True),
    "motionbert-base": MotionBERTConfig.base(causal=False),
    # tiny MotionBERTs for tests and quick runs, with the real maxlen so 243-frame clips fit
    "motionbert-tiny-causal": replace(MotionBERTConfig.tiny(causal=True), maxlen=243),
    "motionbert-tiny": replace(MotionBERTConfig.tiny(causal=False), maxlen=243),
}


def backbone_as_dict(cfg: BackboneConfig) -> dict:
    """{class_path, init_args}: how checkpoints store the backbone (jsonargparse reads it natively)."""
    return {"class_path": f"{type(cfg).__module__}.{type(cfg).__name__}", "init_args": asdict(cfg)}


def resolve_backbone(backbone: BackboneConfig | str | dict) -> BackboneConfig:
    """A config, the name of a preset in `BACKBONE_PRESETS`, or a `backbone_as_dict` dict."""
    if isinstance(backbone, str):
        if backbone not in BACKBONE_PRESETS:
            raise ValueError(f"unknown backbone preset {backbone!r}; choose one of {sorted(BACKBONE_PRESETS)} or give a HumMUSSConfig / MotionBERTConfig")
        return BACKBONE_PRESETS[backbone]
    if isinstance(backbone, dict):
        name = str(backbone.get("class_path", "")).rsplit(".", 1)[-1]
        classes = {cls.__name__: cls for cls in (HumMUSSConfig, MotionBERTConfig)}
        if name not in classes:
            raise ValueError(f"backbone dict must name HumMUSSConfig or MotionBERTConfig in class_path; got {backbone.get('class_path')!r}")
        return classes[name](**backbone.get("init_args", {}))
    return backbone


def build_backbone(cfg: BackboneConfig) -> nn.Module:
    if isinstance(cfg, HumMUSSConfig):
        return HumMUSS(cfg)
    if isinstance(cfg, MotionBERTConfig):
        return MotionBERT(cfg)
    raise TypeError(f"backbone must be a HumMUSSConfig or MotionBERTConfig; got {type(cfg).__name__}")


class PretrainedWeightsError(ValueError):
    """A pretrained file does not fit the configured backbone."""


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> str:
    """Loads backbone weights strictly from one of our Lightning checkpoints (`*.ckpt`, keys
    `backbone.*`) or an official MotionBERT file (`*.bin`). Returns a one-line description."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights not found: {path} (give a .ckpt written by `hummuss fit` or an official MotionBERT .bin)")
    if isinstance(backbone, MotionBERT) and path.suffix != ".ckpt":
        load_motionbert_checkpoint(backbone, path)
        return f"official MotionBERT weights from {path}"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise PretrainedWeightsError(f"{path} is not a Lightning checkpoint (no 'state_dict'); official MotionBERT files only fit a MotionBERT backbone")
    saved_cfg = ckpt.get("hyper_parameters", {}).get("backbone")
    saved_cfg = resolve_backbone(saved_cfg) if saved_cfg is not None else None
    own_cfg = getattr(backbone, "cfg", None)
    if saved_cfg is not None and own_cfg is not None and saved_cfg != own_cfg:
        if type(saved_cfg) is not type(own_cfg):
            raise PretrainedWeightsError(f"{path} holds a {type(saved_cfg).__name__} backbone but the task builds a {type(own_cfg).__name__}")
        diff = {f.name: (getattr(saved_cfg, f.name), getattr(own_cfg, f.name)) for f in fields(own_cfg) if getattr(saved_cfg, f.name) != getattr(own_cfg, f.name)}
        shape_free = {"dt_min", "dt_max", "ssm_lr"}  # initialisation / optimiser only
        if set(diff) - shape_free:
            raise PretrainedWeightsError(f"{path}: backbone config differs from the task's (field: checkpoint vs task): {diff}")
    state = {k[len("backbone.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("backbone.")}
    if not state:
        raise PretrainedWeightsError(f"{path} has no 'backbone.*' weights")
    _load_strict(backbone, state, str(path))
    return f"backbone weights from {path} (epoch {ckpt.get('epoch', '?')})"


def _load_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise PretrainedWeightsError(f"cannot load {source} strictly: missing keys {missing}; unexpected keys {unexpected}; mis-shaped {shapes}")
    module.load_state_dict(state, strict=True)


class BackboneTask(L.LightningModule):
    """Base of all tasks: `self.backbone` built from its config, optional pretrained weights,
    AdamW with parameter groups for backbone and heads, per-epoch lr decay.

    Subclasses call `self.save_hyperparameters()` right after `super().__init__(...)`, implement `_step(batch, split) -> loss` (one shared step for train/val/test), list their
    heads in `head_modules()`, and set `monitor` (the metric the best checkpoint is chosen by).
    """

    monitor: tuple[str, str] = ("val/loss", "min")  # metric and mode the best checkpoint is chosen by

    def __init__(self, backbone: BackboneConfig | str | dict, optim: OptimConfig, pretrained: str | None = None) -> None:
        super().__init__()
        self.backbone_cfg = resolve_backbone(backbone)
        self.backbone = build_backbone(self.backbone_cfg)
        self.optim_cfg = optim
        self.pretrained = pretrained
        # Set once the backbone's starting weights are settled (`pretrained` loaded, a checkpoint restored, or
        # training begun): `pretrained` is then never (re)loaded over them.
        self._backbone_initialised = False

    def _set_reference_fps(self, reference_fps: float | None) -> None:
        """Per-clip frame rates (`clip_rate`) need a model with a rate: HumMUSS."""
        if reference_fps is not None:
            if not isinstance(self.backbone, HumMUSS):
                raise ValueError("reference_fps needs a HumMUSS backbone: MotionBERT has no frame-rate parameter")
            if not reference_fps > 0:
                raise ValueError(f"reference_fps must be > 0; got {reference_fps}")
        self.reference_fps = reference_fps

    def clip_rate(self, batch: dict) -> float | torch.Tensor:
        """Each clip's rate = reference_fps / its fps ((B,) tensor), or 1.0 without reference_fps."""
        if self.reference_fps is None:
            return 1.0
        return self.reference_fps / batch[schema.FPS].to(self.device, torch.float32)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Preset names may change meaning in later versions: checkpoints keep the resolved config.
        if "backbone" in checkpoint.get("hyper_parameters", {}):
            checkpoint["hyper_parameters"]["backbone"] = backbone_as_dict(self.backbone_cfg)

    def head_modules(self) -> list[nn.Module]:
        return []

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
        heads = nn.ModuleList(self.head_modules())
        groups += [dict(g, name=f"head/{g['name']}") for g in param_groups(heads, cfg.lr, cfg.weight_decay)]
        optimizer = torch.optim.AdamW(groups)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def on_train_epoch_start(self) -> None:
        optimizer = self.optimizers()
        optimizers = optimizer if isinstance(optimizer, list) else [optimizer]
        self.log_dict({f"lr/{g['name']}": g["lr"] for opt in optimizers for g in opt.param_groups}, on_step=False, on_epoch=True)

    def _step(self, batch: dict, split: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")

    def predictions(self, batch: dict) -> dict[str, torch.Tensor | list]:
        """The task's outputs for a batch, per sample (each task documents its keys)."""
        raise NotImplementedError(f"{type(self).__name__} has no predictions")

    @torch.no_grad()
    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor | list]:
        """One batch of `hummuss predict`: the SOURCE label of each sample and `predictions(batch)`,
        on the CPU (`callbacks.PredictionWriter` gathers them into one file)."""
        out = {schema.SOURCE: batch[schema.SOURCE]} if schema.SOURCE in batch else {}
        out.update(self.predictions(batch))
        return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()}
