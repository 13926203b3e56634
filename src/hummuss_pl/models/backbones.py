"""The backbones as one family: named presets, building from a config, what each can do, and strict
loading of backbone weights from our checkpoints or official MotionBERT files.

Tasks (and anything else that needs "a backbone") go through here instead of testing classes:
`build_backbone(resolve_backbone("hummuss-causal"))`, `supports_rate(cfg)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from torch import nn

from .framewise import FramewiseConfig, FramewiseMLP
from .hummuss import HumMUSS, HumMUSSConfig
from .motionbert import MotionBERT, MotionBERTConfig, load_motionbert_checkpoint
from .weights import load_strict, read_checkpoint

BackboneConfig = HumMUSSConfig | MotionBERTConfig | FramewiseConfig

__all__ = [
    "BACKBONE_PRESETS",
    "BackboneConfig",
    "PretrainedWeightsError",
    "backbone_as_dict",
    "backbone_mismatch",
    "backbone_name",
    "build_backbone",
    "load_backbone_weights",
    "resolve_backbone",
    "supports_rate",
]


@dataclass(frozen=True)
class _Kind:
    config: type
    model: type[nn.Module]
    takes_rate: bool  # has a frame-rate argument (Δ multiplier): HumMUSS yes, MotionBERT no


_KINDS = (
    _Kind(HumMUSSConfig, HumMUSS, takes_rate=True),
    _Kind(MotionBERTConfig, MotionBERT, takes_rate=False),
    _Kind(FramewiseConfig, FramewiseMLP, takes_rate=False),  # the per-frame floor: no time, no rate
)


def _kind(backbone: nn.Module | BackboneConfig) -> _Kind:
    for kind in _KINDS:
        if isinstance(backbone, (kind.config, kind.model)):
            return kind
    raise TypeError(f"not a backbone or backbone config: {type(backbone).__name__} (expected one of "
                    f"{[kind.model.__name__ for kind in _KINDS]})")  # fmt: skip


def supports_rate(backbone: nn.Module | BackboneConfig) -> bool:
    """Whether the backbone (or the one a config builds) takes a frame `rate`: HumMUSS does, MotionBERT
    has no frame-rate parameter (it only accepts rate 1)."""
    return _kind(backbone).takes_rate


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
    # the per-frame floor (no temporal context), about the size of the small presets
    "framewise-small": FramewiseConfig(hidden=288, depth=2, dim_rep=64),
}


def backbone_as_dict(cfg: BackboneConfig) -> dict:
    """{class_path, init_args}: how checkpoints store the backbone (jsonargparse reads it natively)."""
    return {"class_path": f"{type(cfg).__module__}.{type(cfg).__name__}", "init_args": asdict(cfg)}


def resolve_backbone(backbone: BackboneConfig | str | dict) -> BackboneConfig:
    """A config, the name of a preset in `BACKBONE_PRESETS`, or a `backbone_as_dict` dict."""
    if isinstance(backbone, str):
        if backbone not in BACKBONE_PRESETS:
            raise ValueError(f"unknown backbone preset {backbone!r}; choose one of {sorted(BACKBONE_PRESETS)} or give a "
                             "HumMUSSConfig / MotionBERTConfig / FramewiseConfig")  # fmt: skip
        return BACKBONE_PRESETS[backbone]
    if isinstance(backbone, dict):
        name = str(backbone.get("class_path", "")).rsplit(".", 1)[-1]
        classes = {kind.config.__name__: kind.config for kind in _KINDS}
        if name not in classes:
            raise ValueError(f"backbone dict must name one of {sorted(classes)} in class_path; got {backbone.get('class_path')!r}")
        return classes[name](**backbone.get("init_args", {}))
    _kind(backbone)  # a config of a known kind
    return backbone


def build_backbone(cfg: BackboneConfig) -> nn.Module:
    return _kind(cfg).model(cfg)


def backbone_name(cfg: BackboneConfig) -> str:
    """The preset name of `cfg` when it is one, else its class with "custom"."""
    names = [name for name, preset in BACKBONE_PRESETS.items() if preset == cfg]
    return names[0] if names else f"custom {type(cfg).__name__}"


_SHAPE_FREE = {"dt_min", "dt_max", "ssm_lr"}  # initialisation and optimiser settings: weights fit either way


def backbone_mismatch(saved: BackboneConfig, own: BackboneConfig, owner: str = "the task") -> str | None:
    """Why weights of backbone `saved` (a checkpoint's) do not fit backbone `own` (what `owner` builds), as a
    phrase naming both; None when they fit (at most initialisation or optimiser fields differ)."""
    detail = ""
    if type(saved) is type(own):
        diff = {f.name: (getattr(saved, f.name), getattr(own, f.name)) for f in fields(own) if getattr(saved, f.name) != getattr(own, f.name)}
        if not set(diff) - _SHAPE_FREE:
            return None
        if backbone_name(saved).startswith("custom") or backbone_name(own).startswith("custom"):
            detail = f" (field: checkpoint vs {owner.split()[-1]}: {diff})"
    return f"holds a {backbone_name(saved)} backbone but {owner} builds a {backbone_name(own)}{detail}"


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
    ckpt = read_checkpoint(path)  # CheckpointFileError: truncated or not a checkpoint
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise PretrainedWeightsError(f"{path} is not a Lightning checkpoint (no 'state_dict'); official MotionBERT files only fit a MotionBERT backbone")
    saved_cfg = ckpt.get("hyper_parameters", {}).get("backbone")
    own_cfg = getattr(backbone, "cfg", None)
    if saved_cfg is not None and own_cfg is not None:
        mismatch = backbone_mismatch(resolve_backbone(saved_cfg), own_cfg)
        if mismatch:
            raise PretrainedWeightsError(f"{path} {mismatch}")
    state = {k[len("backbone.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("backbone.")}
    if not state:
        raise PretrainedWeightsError(f"{path} has no 'backbone.*' weights")
    load_strict(backbone, state, str(path), PretrainedWeightsError)
    return f"backbone weights from {path} (epoch {ckpt.get('epoch', '?')})"
