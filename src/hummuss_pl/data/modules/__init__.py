"""LightningDataModules for pretraining and the downstream tasks."""

from .action import ActionDataModule
from .base import SOURCES, SourceConfig, register_source
from .mesh import MeshDataModule
from .pose3d import Pose3DDataModule
from .pretrain import CLEAN_INPUT, Phase, PretrainDataModule

__all__ = [
    "ActionDataModule",
    "CLEAN_INPUT",
    "MeshDataModule",
    "Phase",
    "Pose3DDataModule",
    "PretrainDataModule",
    "SOURCES",
    "SourceConfig",
    "register_source",
]
