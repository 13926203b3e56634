"""Plain-PyTorch model code (never imports lightning)."""

from .gdssm import Aggregate, BiGDSSM, UniGDSSM
from .hummuss import HumMUSS, HumMUSSConfig, HumMUSSState, HumMUSSStreamer, SpatioTemporalLayer
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

__all__ = [
    "Aggregate",
    "BiGDSSM",
    "DSSM",
    "HumMUSS",
    "HumMUSSConfig",
    "HumMUSSState",
    "HumMUSSStreamer",
    "MotionBERT",
    "MotionBERTCheckpointError",
    "MotionBERTConfig",
    "MotionBERTKVStreamer",
    "MotionBERTWindowStreamer",
    "SpatioTemporalLayer",
    "Streamer",
    "UniGDSSM",
    "export_motionbert_checkpoint",
    "load_motionbert_checkpoint",
    "param_groups",
]
