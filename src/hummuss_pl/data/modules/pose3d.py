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
test sequence around the same valid frames, i.e. the test videos at fps / k. The task reads
`frame_step` to pick its evaluation rate (HumMUSS: rate k).

Synthetic data (`synthetic=True`, no dataset needed): training clips from `SyntheticMotion`; for
evaluation, held-out synthetic sequences (split "test", disjoint subjects) are cut into windows by
the *same* `MPI3DHPTestWindows` code (every frame valid), so the task's evaluation path is the one
used for 3DHP. Samples say SOURCE == "synthetic" and the corpus is announced in the log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from .. import schema
from ..corruption import random_flip
from ..mpi_inf_3dhp import MPI3DHPConfig, MPI3DHPTestWindows, MPISequence
from ..synthetic import SOURCE_NAME, SyntheticConfig, SyntheticMotion
from .base import SourceConfig, _SourceDataModule, build_source

__all__ = ["Pose3DDataModule"]

Anchor = Literal["center", "last"]


class Pose3DDataModule(_SourceDataModule):
    """MPI-INF-3DHP training clips and test windows (or the synthetic stand-in).

    Args:
        data_root: the data folder of docs/DATA.md (reads mpi_inf_3dhp/data_{train,test}_3dhp.npz).
        synthetic: use the synthetic corpus instead of 3DHP (then leave data_root unset).
        clip_len: frames per training clip and per test window (paper: 243; 81 and 27 also studied).
        train_stride: frames between the starts of consecutive training clips (MotionBERT: 81).
        anchor: where the evaluated frame sits in its test window: "center" (the published protocol)
            or "last" (the window holds only past frames: the setting for a causal backbone).
        frame_step: build test windows from every k-th frame (the frame-rate study); 1 = as recorded.
        flip_train: mirror each training clip with probability 0.5 (input and target together).
        batch_size: training batch per device; eval_batch_size: per device for the test windows
            (None: batch_size).
        num_workers: DataLoader processes; seed: batch order and training flips (nothing global).
        synthetic_corpus: the synthetic training corpus (clip_len and split are set from here; the
            default: 2048 clips seen by perspective cameras, as 3DHP's 2D is).
        synthetic_test_sequences, synthetic_test_frames: the held-out synthetic sequences cut into
            test windows (one window per frame: sequences × frames samples).
    """

    def __init__(
        self,
        data_root: str | None = None,
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
        if synthetic and data_root is not None:
            raise ValueError("Pose3DDataModule: give either data_root (MPI-INF-3DHP) or synthetic=True, not both")
        if not synthetic and data_root is None:
            raise ValueError(
                "Pose3DDataModule needs data_root, the folder holding mpi_inf_3dhp/data_train_3dhp.npz and "
                "data_test_3dhp.npz (docs/DATA.md; --data.init_args.data_root /data), or synthetic=True to run "
                "without a dataset"
            )
        for name, value in (("clip_len", clip_len), ("train_stride", train_stride), ("frame_step", frame_step),
                            ("synthetic_test_sequences", synthetic_test_sequences),
                            ("synthetic_test_frames", synthetic_test_frames)):  # fmt: skip
            if int(value) != value or value < 1:
                raise ValueError(f"Pose3DDataModule.{name} must be a positive integer; got {value!r}")
        if anchor not in ("center", "last"):
            raise ValueError(f'Pose3DDataModule.anchor must be "center" or "last"; got {anchor!r}')
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"Pose3DDataModule.eval_batch_size must be >= 1 or None (= batch_size); got {eval_batch_size}")
        self.data_root, self.synthetic = data_root, synthetic
        self.clip_len, self.train_stride, self.anchor, self.frame_step = clip_len, train_stride, anchor, frame_step
        self.flip_train, self.eval_batch_size = flip_train, eval_batch_size or batch_size
        self.synthetic_corpus = synthetic_corpus
        self._log_sources(["synthetic" if synthetic else "mpi_inf_3dhp"])
        self.synthetic_test_sequences, self.synthetic_test_frames = synthetic_test_sequences, synthetic_test_frames
        self.train_set: Dataset | None = None
        self.test_windows: Dataset | None = None

    # ------------------------------------------------------------------------------------ datasets
    def _build_train(self) -> Dataset:
        if self.synthetic:
            corpus = SyntheticMotion(replace(self.synthetic_corpus, split="train", clip_len=self.clip_len))
            rank_zero_info(corpus.describe())
            return corpus
        source = SourceConfig("mpi_inf_3dhp", clip_len=self.clip_len, options={"stride": self.train_stride})
        return build_source(source, self.data_root, "train")

    def _build_test(self) -> Dataset:
        if not self.synthetic:
            options = {"anchor": self.anchor, "frame_step": self.frame_step}
            return build_source(SourceConfig("mpi_inf_3dhp", clip_len=self.clip_len, options=options), self.data_root, "test")
        held_out = replace(self.synthetic_corpus, split="test", num_clips=self.synthetic_test_sequences,
                           clip_len=self.synthetic_test_frames)  # fmt: skip
        corpus = SyntheticMotion(held_out)
        rank_zero_info(f"test windows from {corpus.describe()}")
        sequences = []
        for i in range(len(corpus)):
            item = corpus[i]
            frames = len(item[schema.INPUT])
            sequences.append(MPISequence(f"synthetic test {i}", item[schema.INPUT], item[schema.TARGET_3D],
                                         float(item[schema.FPS]), float(item[schema.SCALE_MM]), np.ones(frames, bool)))  # fmt: skip
        config = MPI3DHPConfig(root="<synthetic>", split="test", clip_len=self.clip_len, anchor=self.anchor, frame_step=self.frame_step)
        return MPI3DHPTestWindows(config, sequences, source=SOURCE_NAME)

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_set is None:
            self.train_set = self._build_train()
            if len(self.train_set) < self.batch_size:
                raise ValueError(
                    f"Pose3DDataModule: {len(self.train_set)} training clips make no full batch of batch_size={self.batch_size}; "
                    "lower batch_size or train_stride"
                )
        if stage in ("fit", "validate", "test", "predict") and self.test_windows is None:
            self.test_windows = self._build_test()

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
        x, target, _ = random_flip(batch[schema.INPUT], batch[schema.TARGET_3D], 0.5, generator)
        return {**batch, schema.INPUT: x, schema.TARGET_3D: target}

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        trainer = self.trainer
        if not self.flip_train or trainer is None or not trainer.training:
            return batch
        generator = self._batch_generator()  # flips replay exactly on resume
        return self.flip_batch(batch, generator)
