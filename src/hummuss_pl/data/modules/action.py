"""Action recognition data: NTU RGB+D 60/120 (pyskl pickles) or the synthetic corpus, by source name."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from ..layout import SourceConfig
from ..ntu import BENCHMARKS
from ..registry import build_source, source_spec
from ..synthetic import SOURCE_NAME as SYNTHETIC
from ..synthetic import SyntheticConfig
from .base import _SourceDataModule

__all__ = ["ActionDataModule"]


class ActionDataModule(_SourceDataModule):
    """Training and validation splits of one action source, samples (2, T, 17, 3) + LABEL + NUM_CLASSES.

    Args:
        data_root: the layout of docs/DATA.md (reads action/ntu60_hrnet.pkl or ntu120_hrnet.pkl).
        path: the pyskl pickle itself, instead of data_root.
        dataset / benchmark: the source, "ntu60" with "xsub" | "xview", or "ntu120" with "xsub" |
            "xset"; trains on `<benchmark>_train`, validates and tests on `<benchmark>_val`.
        clip_len: frames every sample is resampled to (MotionBERT: 243).
        motionbert_conf_quirk: keep confidences in COCO order as MotionBERT does (its issue #132);
            the default converts them with the joints (see data/ntu.py).
        synthetic: train and validate on the source "synthetic" (`synthetic_corpus`, action layout)
            instead of NTU; its classes are the corpus's.
        batch_size / eval_batch_size: per device (training needs >= 2: the head has BatchNorm).
        seed: batch order, the training resampling and the per-item augmentation (random_move, crop
            ratio), the latter drawn afresh every epoch (data/sampling.py; nothing global).
    """

    def __init__(
        self,
        data_root: str | None = None,
        path: str | None = None,
        dataset: Literal["ntu60", "ntu120"] = "ntu60",
        benchmark: Literal["xsub", "xview", "xset"] = "xsub",
        clip_len: int = 243,
        motionbert_conf_quirk: bool = False,
        synthetic: bool = False,
        synthetic_corpus: SyntheticConfig = SyntheticConfig(num_clips=1024, clip_len=243, fps=30.0, layout="action"),
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 for training (the action head has BatchNorm); got {batch_size}")
        if dataset not in BENCHMARKS:
            raise ValueError(f"dataset must be one of {sorted(BENCHMARKS)}; got {dataset!r}")
        if benchmark not in BENCHMARKS[dataset]:
            raise ValueError(f"{dataset} has the benchmarks {BENCHMARKS[dataset]}; got {benchmark!r}")
        if synthetic == (data_root is not None or path is not None):
            raise ValueError("give either data_root / path (NTU) or synthetic=true, not both or neither")
        if synthetic and synthetic_corpus.layout != "action":
            raise ValueError("synthetic_corpus must have layout='action' (two persons per sample)")
        self.source = SYNTHETIC if synthetic else dataset
        self.data_root, self.path, self.dataset, self.benchmark = data_root, path, dataset, benchmark
        self.clip_len, self.quirk, self.synthetic = clip_len, motionbert_conf_quirk, synthetic
        self.corpus = synthetic_corpus
        self.eval_batch_size = eval_batch_size or batch_size
        self._log_sources([self.source])
        self._train: Dataset | None = None
        self._val: Dataset | None = None

    def source_config(self) -> SourceConfig:
        """The source with the options this module's arguments stand for."""
        options: dict[str, Any]
        if self.source == SYNTHETIC:
            options = {k: v for k, v in asdict(self.corpus).items() if k not in ("split", "clip_len")}
            return SourceConfig(self.source, clip_len=self.corpus.clip_len, options=options)
        options = {"benchmark": self.benchmark, "motionbert_conf_quirk": self.quirk, "seed": self.seed}
        return SourceConfig(self.source, clip_len=self.clip_len, path=self.path, options=options)

    def setup(self, stage: str) -> None:
        if self._val is not None:
            return
        source = self.source_config()
        self._train = build_source(source, self.data_root, "train")
        self._val = build_source(source, self.data_root, source_spec(source).eval_split)
        if hasattr(self._train, "describe"):  # the synthetic corpus announces itself
            rank_zero_info(self._train.describe())

    def train_dataloader(self) -> DataLoader:
        return self._loader([self._train], None, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader([self._val], None, train=False, batch_sizes=[self.eval_batch_size])

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
