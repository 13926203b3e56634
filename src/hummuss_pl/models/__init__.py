"""Plain-PyTorch model code (never imports lightning; nothing of the package outside models/ but
`hummuss_pl.skeleton` and `hummuss_pl.batch`)."""

from .backbones import (
    BACKBONE_PRESETS,
    BackboneConfig,
    PretrainedWeightsError,
    backbone_as_dict,
    backbone_mismatch,
    backbone_name,
    build_backbone,
    load_backbone_weights,
    resolve_backbone,
    supports_rate,
)
from .framewise import FramewiseConfig, FramewiseMLP
from .gdssm import Aggregate, BiGDSSM, UniGDSSM
from .hummuss import (
    HumMUSS,
    HumMUSSConfig,
    HumMUSSState,
    HumMUSSStreamer,
    SpatioTemporalLayer,
)
from .motionbert import (
    MotionBERT,
    MotionBERTCheckpointError,
    MotionBERTConfig,
    MotionBERTKVStreamer,
    MotionBERTWindowStreamer,
    export_motionbert_checkpoint,
    load_motionbert_checkpoint,
)
from .ssm import DSSM, param_groups
from .streaming import Streamer
from .weights import CheckpointFileError, load_strict, read_checkpoint

__all__ = [
    "Aggregate",
    "BACKBONE_PRESETS",
    "BackboneConfig",
    "BiGDSSM",
    "CheckpointFileError",
    "DSSM",
    "FramewiseConfig",
    "FramewiseMLP",
    "HumMUSS",
    "HumMUSSConfig",
    "HumMUSSState",
    "HumMUSSStreamer",
    "MotionBERT",
    "MotionBERTCheckpointError",
    "MotionBERTConfig",
    "MotionBERTKVStreamer",
    "MotionBERTWindowStreamer",
    "PretrainedWeightsError",
    "SpatioTemporalLayer",
    "Streamer",
    "UniGDSSM",
    "backbone_as_dict",
    "backbone_mismatch",
    "backbone_name",
    "build_backbone",
    "export_motionbert_checkpoint",
    "load_backbone_weights",
    "load_motionbert_checkpoint",
    "load_strict",
    "param_groups",
    "read_checkpoint",
    "resolve_backbone",
    "supports_rate",
]
