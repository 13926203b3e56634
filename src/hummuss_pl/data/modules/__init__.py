"""LightningDataModules for pretraining and the downstream tasks; each chooses its data by source name
(`hummuss_pl.data.registry.SOURCES`)."""

from ..layout import SourceConfig
from ..registry import SOURCES
from .action import ActionDataModule
from .mesh import MeshDataModule
from .pose3d import Pose3DDataModule
from .pretrain import Phase, PretrainDataModule

__all__ = [
    "ActionDataModule",
    "MeshDataModule",
    "Phase",
    "Pose3DDataModule",
    "PretrainDataModule",
    "SOURCES",
    "SourceConfig",
]
