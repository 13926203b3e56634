"""Plain-PyTorch model code (never imports lightning)."""

from .gdssm import Aggregate, BiGDSSM, UniGDSSM
from .hummuss import HumMUSS, HumMUSSConfig, HumMUSSState, HumMUSSStreamer, SpatioTemporalLayer
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
    "SpatioTemporalLayer",
    "Streamer",
    "UniGDSSM",
    "param_groups",
]
