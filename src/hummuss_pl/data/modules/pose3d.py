"""3D pose fine-tuning data: MPI-INF-3DHP (paper §5.1, Table 1), or the synthetic corpus.

Training: clips of `clip_len` frames every `train_stride` frames of each (sequence, camera) of the
3DHP training set (`MPI3DHPClips`; the `valid` flags are ignored, as in P-STMO / MotionAGFormer),
mirrored at random on the device (input and 3D target together, `corruption.random_flip`).

Validation and test: the 3DHP test protocol (reference/datasets.md §1.4) — one window of
`clip_len` frames per *valid* test frame, centred on it (`anchor="center"`) or ending at it
(`anchor="last"`), frames past the sequence ends repeating the edge frame (`MPI3DHPTestWindows`).
The task scores the output at each window's `target_index`. Validation and test use the same
windows (there is no separate 3DHP validation split; P-STMO and MotionBERT evaluate on the test set
every epoch).

Frame-rate study (paper Fig. 5): `frame_step=k` builds every window from every k-th frame of the
test sequence around the same valid frames, i.e. the test videos at fps / k. Each window says so
in the batch (FRAME_STEP), and the task picks its evaluation rate from it (HumMUSS: rate k).

Data is chosen by source name (`data.registry`): "mpi_inf_3dhp" (default) or "synthetic" (no
dataset needed: training clips from `SyntheticMotion`; for evaluation, held-out synthetic sequences,
split "test", disjoint subjects, cut into windows by the same `data.windows` code as 3DHP, every
frame valid), or any other source that has held-out sequences. Samples say their SOURCE, and the
synthetic corpus is announced in the log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from hummuss_pl.batch import INPUT, TARGET_3D

from ..corruption import random_flip
from ..layout import SourceConfig
from ..registry import build_source, build_windows, source_spec
from ..synthetic import SOURCE_NAME as SYNTHETIC
from ..synthetic import SyntheticConfig
from ..windows import Anchor, WindowSpec
from .base import _SourceDataModule

__all__ = ["Pose3DDataModule"]


class Pose3DDataModule(_SourceDataModule):
    """Training clips and evaluation windows of one source: MPI-INF-3DHP or the synthetic stand-in.

    Args:
        data_root: the data folder of docs/DATA.md (3DHP: mpi_inf_3dhp/data_{train,test}_3dhp.npz).
        source: the source to train and evaluate on (`data.registry.SOURCES`; it must have held-out
            sequences to cut test windows from): "mpi_inf_3dhp" (default) or "synthetic".
        source_options: further options of that source's reader (e.g. {"test_fps": {...}} for 3DHP).
        synthetic: shorthand for source "synthetic" (then leave data_root unset).
        clip_len: frames per training clip and per test window (paper: 243; 81 and 27 also studied).
        train_stride: frames between the starts of consecutive training clips cut from sequences
            (3DHP; MotionBERT: 81). The synthetic corpus renders whole clips and has no stride.
        anchor: where the evaluated frame sits in its test window: "center" (the published protocol)
            or "last" (the window holds only past frames: the setting for a causal backbone).
        frame_step: build test windows from every k-th frame (the frame-rate study); 1 = as recorded.
        flip_train: mirror each training clip with probability 0.5 (input and target together).
        batch_size: training batch per device; eval_batch_size: per device for the test windows
            (None: batch_size).
        num_workers: DataLoader processes; seed: batch order and training flips (nothing global).
        synthetic_corpus: the synthetic source's corpus (clip_len and split are set from here; the
            default: 2048 clips seen by perspective cameras, as 3DHP's 2D is).
        synthetic_test_sequences, synthetic_test_frames: the held-out synthetic sequences cut into
            test windows (one window per frame: sequences × frames samples).
    """

    def __init__(
        self,
        data_root: str | None = None,
        source: str | None = None,
        source_options: dict[str, Any] | None = None,
        synthetic: bool = False,
        clip_len: int = 243,
        train_stride: int = 81,
        anchor: Anchor = "center",
        frame_step: int = 1,
        flip_train: bool = True,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        seed: int = 0,
        synthetic_corpus: SyntheticConfig = SyntheticConfig(num_clips=2048, camera="perspective"),
        synthetic_test_sequences: int = 8,
        synthetic_test_frames: int = 256,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if synthetic and source not in (None, SYNTHETIC):
            raise ValueError(f"Pose3DDataModule: synthetic=True means source {SYNTHETIC!r}; got source={source!r}")
        self.source = source or (SYNTHETIC if synthetic else "mpi_inf_3dhp")
        reads_files = source_spec(SourceConfig(self.source)).dataset is not None
        if not reads_files and data_root is not None:
            raise ValueError(f"Pose3DDataModule: source {self.source!r} reads no files: give either data_root (for a "
                             "dataset such as mpi_inf_3dhp) or synthetic=True, not both")  # fmt: skip
        if reads_files and data_root is None:
            raise ValueError(
                f"Pose3DDataModule needs data_root for source {self.source!r}: for 3DHP the folder holding "
                "mpi_inf_3dhp/data_train_3dhp.npz and data_test_3dhp.npz (docs/DATA.md; --data.init_args.data_root "
                "/data), or synthetic=True to run without a dataset"
            )
        for name, value in (("clip_len", clip_len), ("train_stride", train_stride), ("frame_step", frame_step),
                            ("synthetic_test_sequences", synthetic_test_sequences),
                            ("synthetic_test_frames", synthetic_test_frames)):  # fmt: skip
            if int(value) != value or value < 1:
                raise ValueError(f"Pose3DDataModule.{name} must be a positive integer; got {value!r}")
        self.windows = WindowSpec(clip_len, anchor, frame_step)
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"Pose3DDataModule.eval_batch_size must be >= 1 or None (= batch_size); got {eval_batch_size}")
        self.data_root, self.source_options = data_root, dict(source_options or {})
        self.clip_len, self.train_stride, self.anchor, self.frame_step = clip_len, train_stride, anchor, frame_step
        self.flip_train, self.eval_batch_size = flip_train, eval_batch_size or batch_size
        self.synthetic_corpus = synthetic_corpus
        self.synthetic_test_sequences, self.synthetic_test_frames = synthetic_test_sequences, synthetic_test_frames
        self._log_sources([self.source])
        self.train_set: Dataset | None = None
        self.test_windows: Dataset | None = None

    # ------------------------------------------------------------------------------------ datasets
    def source_config(self) -> SourceConfig:
        """The source as this module configures it: its clip length, and the options this module's
        arguments stand for (the synthetic corpus and its held-out sequences; 3DHP's stride)."""
        if self.source == SYNTHETIC:
            corpus = {k: v for k, v in asdict(self.synthetic_corpus).items() if k not in ("split", "clip_len")}
            options = corpus | {"test_sequences": self.synthetic_test_sequences, "test_frames": self.synthetic_test_frames}
        else:
            options = {"stride": self.train_stride}
        return SourceConfig(self.source, clip_len=self.clip_len, options=options | self.source_options)

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_set is None:
            self.train_set = build_source(self.source_config(), self.data_root, "train")
            if hasattr(self.train_set, "describe"):  # the synthetic corpus announces itself
                rank_zero_info(self.train_set.describe())
            if len(self.train_set) < self.batch_size:
                raise ValueError(
                    f"Pose3DDataModule: {len(self.train_set)} training clips make no full batch of batch_size={self.batch_size}; "
                    "lower batch_size or train_stride, or use more data"
                )
        if stage in ("fit", "validate", "test", "predict") and self.test_windows is None:
            self.test_windows = build_windows(self.source_config(), self.data_root, self.windows)
            rank_zero_info(f"{type(self).__name__}: {len(self.test_windows)} test windows from {self.test_windows.report.path}")

    # ------------------------------------------------------------------------------------ loaders
    def train_dataloader(self) -> DataLoader:
        return self._loader([self.train_set], None, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader([self.test_windows], None, train=False, batch_sizes=[self.eval_batch_size])

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    # ------------------------------------------------------------------------------------ augmentation
    def flip_batch(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """Mirrors each clip of a training batch with probability 0.5, INPUT and TARGET_3D together."""
        x, target, _ = random_flip(batch[INPUT], batch[TARGET_3D], 0.5, generator)
        return {**batch, INPUT: x, TARGET_3D: target}

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        trainer = self.trainer
        if not self.flip_train or trainer is None or not trainer.training:
            return batch
        generator = self._batch_generator()  # flips replay exactly on resume
        return self.flip_batch(batch, generator)
