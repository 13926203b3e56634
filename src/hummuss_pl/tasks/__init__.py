"""LightningModules: one per task, thin shells around the backbones and heads."""

from hummuss_pl.models import BACKBONE_PRESETS

from .action import ActionTask
from .base import BackboneTask, OptimConfig
from .mesh import MeshTask
from .pose3d import Pose3DTask
from .pretrain import PretrainTask

__all__ = ["ActionTask", "BACKBONE_PRESETS", "BackboneTask", "MeshTask", "OptimConfig", "Pose3DTask", "PretrainTask"]
