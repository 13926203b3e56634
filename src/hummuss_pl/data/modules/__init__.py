"""LightningDataModules for pretraining and the downstream tasks."""

from .base import SOURCES, SourceConfig, register_source
from .pretrain import CLEAN_INPUT, Phase, PretrainDataModule

__all__ = ["CLEAN_INPUT", "SOURCES", "Phase", "PretrainDataModule", "SourceConfig", "register_source"]
