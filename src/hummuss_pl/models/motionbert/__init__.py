"""MotionBERT (DSTformer), state_dict-compatible with the official release: the model (`model`), its
causal streamers (`streamers`) and official checkpoint import / export (`checkpoint`)."""

from .checkpoint import (
    MotionBERTCheckpointError,
    export_motionbert_checkpoint,
    load_motionbert_checkpoint,
)
from .model import MotionBERT, MotionBERTConfig
from .streamers import MotionBERTKVStreamer, MotionBERTWindowStreamer

__all__ = [
    "MotionBERT",
    "MotionBERTCheckpointError",
    "MotionBERTConfig",
    "MotionBERTKVStreamer",
    "MotionBERTWindowStreamer",
    "export_motionbert_checkpoint",
    "load_motionbert_checkpoint",
]
