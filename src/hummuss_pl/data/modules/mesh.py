"""Mesh-recovery data: 3DPW + COCO (+ H36M) as MotionBERT's mesh fine-tuning (paper §5.2, Table 2).

Sources (MotionBERT `MB_ft_pw3d.yaml`; files under DATA_ROOT/mesh/, registry sources "mesh_pw3d",
"mesh_coco", "mesh_h36m" and their "_hybrik" variants):

    3DPW   mesh_det_pw3d.pkl            clips of `clip_len` (16) frames, stride `train_stride` (8)
    COCO   mesh_det_coco.pkl            single frames (T = 1)                    `use_coco`
    H36M   mesh_det_h36m.pkl            16-frame clips, only in the first `h36m_epochs` epochs
                                        (MotionBERT's `warmup_h36m` 20)          `use_h36m`
With `hybrik=True` the "+HybrIK" files of MotionBERT's refine branch are read instead
(mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl, ...), and samples carry HYBRIK_POSE / HYBRIK_SHAPE.

Every training batch holds one source: `batch_size` clips of a video source or `image_batch_size`
COCO frames (MotionBERT: 128 and 512). Validation and test: the 3DPW test split in non-overlapping
16-frame clips (MotionBERT evaluates on it every epoch; there is no separate validation split).

Samples hold SMPL parameters (SMPL_POSE (T, 72) axis-angle, SMPL_SHAPE (T, 10)), not meshes: the
task runs the neutral SMPL on the device for ground truth and prediction alike (`MeshTask`).

Training augmentation (`flip_train`): each clip is mirrored with probability 0.5 on the device: the
2D input with `corruption.random_flip` and the SMPL poses (GT and HybrIK) with
`models.smpl.flip_smpl_pose`, seeded by (seed, epoch, batch, rank) so a resumed run replays it.

SMPL files (`smpl_dir`, default DATA_ROOT/mesh, MotionBERT's data/mesh): SMPL_NEUTRAL.pkl,
J_regressor_h36m_correct.npy and smpl_mean_params.npz. This module only needs them for synthetic
data; the task needs them too (`MeshTask.smpl_dir`; the `hummuss` CLI passes this module's folder
to the task when the task's is unset).

Synthetic data (`synthetic=True`, no dataset needed, the SMPL files are): the sources
"synthetic_pw3d" and "synthetic_coco" (3DPW-like videos and COCO-like images from
`data.synthetic.mesh`, built in memory in the mesh files' format and read with the same reader as
real data). Samples say SOURCE "synthetic_pw3d" / "synthetic_coco" and the log announces the
synthetic corpus.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from hummuss_pl.batch import HYBRIK_POSE, INPUT, SMPL_POSE
from hummuss_pl.models.smpl import (
    H36M_REGRESSOR_FILE,
    MODEL_FILE_NAME,
    build_smpl,
    flip_smpl_pose,
)

from ..corruption import random_flip
from ..layout import SourceConfig
from ..registry import build_source, dataset_path
from ..synthetic import SYNTHETIC_NOTICE
from ..synthetic.mesh import SyntheticMeshConfig
from .base import _SourceDataModule

__all__ = ["MeshDataModule"]


class MeshDataModule(_SourceDataModule):
    """3DPW (+ COCO, + H36M) mesh clips with SMPL parameters, or the synthetic stand-in.

    Args:
        data_root: the data folder of docs/DATA.md (reads mesh/mesh_det_*.pkl).
        synthetic: generate synthetic 3DPW-/COCO-like data instead (then leave data_root unset and
            give smpl_dir).
        smpl_dir: folder with SMPL_NEUTRAL.pkl, J_regressor_h36m_correct.npy, smpl_mean_params.npz;
            None: DATA_ROOT/mesh. Read here only for synthetic data; the task reads it too.
        hybrik: read the "+HybrIK" files; samples then carry HybrIK's per-frame pose and shape.
        use_coco: train on COCO single frames too (MotionBERT: yes, every epoch).
        use_h36m: train on H36M mesh clips in the first `h36m_epochs` epochs (MotionBERT's
            warmup_h36m = 20; None: every epoch). A limited warm-up needs the Trainer to reload
            loaders every epoch (reload_dataloaders_every_n_epochs: 1).
        clip_len: frames per video clip (16); train_stride: frames between training clips (8).
        flip_train: mirror training clips with probability 0.5 (input and SMPL poses together).
        batch_size: video clips per device and batch (MotionBERT: 128; 64 with HybrIK);
            image_batch_size: COCO frames per device and batch (MotionBERT: 512);
            eval_batch_size: 3DPW test clips per device and batch (None: batch_size).
            Training batches need at least 2 items (the heads use BatchNorm).
        num_workers: DataLoader processes; seed: batch order and flips (nothing global).
        synthetic_mesh: size and variability of the synthetic data.
    """

    def __init__(
        self,
        data_root: str | None = None,
        synthetic: bool = False,
        smpl_dir: str | None = None,
        hybrik: bool = False,
        use_coco: bool = True,
        use_h36m: bool = False,
        h36m_epochs: int | None = 20,
        clip_len: int = 16,
        train_stride: int = 8,
        flip_train: bool = True,
        batch_size: int = 128,
        image_batch_size: int = 512,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        seed: int = 0,
        synthetic_mesh: SyntheticMeshConfig = SyntheticMeshConfig(),
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if synthetic and data_root is not None:
            raise ValueError("MeshDataModule: give either data_root (3DPW/COCO mesh pickles) or synthetic=True, not both")
        if not synthetic and data_root is None:
            raise ValueError(
                "MeshDataModule needs data_root, the folder holding mesh/mesh_det_pw3d.pkl (and mesh_det_coco.pkl; "
                "docs/DATA.md; --data.init_args.data_root /data), or synthetic=True with smpl_dir to run without a dataset"
            )
        if synthetic and smpl_dir is None:
            raise ValueError(
                "MeshDataModule(synthetic=True) builds meshes with SMPL: set smpl_dir to the folder holding "
                f"{MODEL_FILE_NAME} and {H36M_REGRESSOR_FILE} (--data.init_args.smpl_dir /path/to/mesh)"
            )
        if synthetic and use_h36m:
            raise ValueError("MeshDataModule: synthetic data has 3DPW-like and COCO-like sources only; set use_h36m false")
        for name, value in (("clip_len", clip_len), ("train_stride", train_stride)):
            if int(value) != value or value < 1:
                raise ValueError(f"MeshDataModule.{name} must be a positive integer; got {value!r}")
        for name, value in (("batch_size", batch_size), ("image_batch_size", image_batch_size)):
            if value < 2:
                raise ValueError(f"MeshDataModule.{name} must be >= 2: the mesh heads normalise training batches with "
                                 f"BatchNorm; got {value}")
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"MeshDataModule.eval_batch_size must be >= 1 or None (= batch_size); got {eval_batch_size}")
        if h36m_epochs is not None and h36m_epochs < 1:
            raise ValueError(f"MeshDataModule.h36m_epochs must be >= 1 or None (every epoch); got {h36m_epochs}")
        self.data_root, self.synthetic, self.hybrik = data_root, synthetic, hybrik
        self._smpl_dir = smpl_dir
        self.use_coco, self.use_h36m, self.h36m_epochs = use_coco, use_h36m, h36m_epochs
        self.clip_len, self.train_stride, self.flip_train = clip_len, train_stride, flip_train
        self.image_batch_size, self.eval_batch_size = image_batch_size, eval_batch_size or batch_size
        self.synthetic_mesh = synthetic_mesh
        self._log_sources(["synthetic"] if synthetic else self.sources)
        self.train_sets: dict[str, Dataset] = {}
        self.test_set: Dataset | None = None
        self._loaders: dict[bool, DataLoader] = {}

    # ------------------------------------------------------------------------------------ files
    @property
    def smpl_dir(self) -> Path | None:
        """The folder with the SMPL files: `smpl_dir`, or DATA_ROOT/mesh."""
        if self._smpl_dir is not None:
            return Path(self._smpl_dir).expanduser()
        return None if self.data_root is None else dataset_path(self.data_root, "mesh_pw3d").parent

    @property
    def sources(self) -> list[str]:
        """Training sources in loader order: pw3d, then coco, then h36m (those in use)."""
        return ["pw3d"] + (["coco"] if self.use_coco else []) + (["h36m"] if self.use_h36m else [])

    def source_config(self, name: str, split: str) -> SourceConfig:
        """The registry source of dataset `name` (pw3d, coco, h36m) with this module's options."""
        stride = self.train_stride if split == "train" else None  # test: non-overlapping clips
        if self.synthetic:
            options = {"smpl_dir": str(self.smpl_dir), "hybrik": self.hybrik, "mesh": asdict(self.synthetic_mesh), "stride": stride}
            return SourceConfig(f"synthetic_{name}", clip_len=self.clip_len, options=options)
        return SourceConfig(f"mesh_{name}" + ("_hybrik" if self.hybrik else ""), clip_len=self.clip_len, options={"stride": stride})

    def setup(self, stage: str) -> None:
        trainer = self.trainer
        limited = self.use_h36m and self.h36m_epochs is not None
        if stage == "fit" and limited and trainer is not None and trainer.reload_dataloaders_every_n_epochs != 1:
            raise RuntimeError(
                f"MeshDataModule trains on H36M in the first {self.h36m_epochs} epochs only: run the Trainer with "
                "reload_dataloaders_every_n_epochs=1 (--trainer.reload_dataloaders_every_n_epochs 1), or set "
                "h36m_epochs null to keep H36M in every epoch"
            )
        stages = {"fit"} if stage == "fit" and not self.train_sets else set()
        if self.test_set is None and stage in ("fit", "validate", "test", "predict"):
            stages.add("test")
        if not stages:
            return
        if self.synthetic:
            build_smpl(self.smpl_dir, "MeshDataModule.smpl_dir")  # the files are there and readable, before generating
            rank_zero_info(f"{SYNTHETIC_NOTICE}: synthetic 3DPW-like videos and COCO-like images, meshes from "
                           f"{self.smpl_dir} ({self.synthetic_mesh})")  # fmt: skip
        if "test" in stages:
            self.test_set = build_source(self.source_config("pw3d", "test"), self.data_root, "test")
        if "fit" in stages:
            self.train_sets = {name: build_source(self.source_config(name, "train"), self.data_root, "train") for name in self.sources}
            for name in self.sources:
                size, need = len(self.train_sets[name]), self._batch_size_of(name)
                if size < need:
                    raise ValueError(f"MeshDataModule: {name} has {size} training items, fewer than one batch of "
                                     f"{need}; lower {'image_batch_size' if name == 'coco' else 'batch_size'}")

    def _batch_size_of(self, name: str) -> int:
        return self.image_batch_size if name == "coco" else self.batch_size

    # ------------------------------------------------------------------------------------ loaders
    def train_dataloader(self) -> DataLoader:
        position = self._training_position()  # a resumed run's epoch, before the trainer's counter says it
        with_h36m = self.use_h36m and (self.h36m_epochs is None or position.epoch < self.h36m_epochs)
        if with_h36m not in self._loaders:
            names = [n for n in self.sources if n != "h36m" or with_h36m]
            rank_zero_info(f"MeshDataModule: epoch {position.epoch} trains on {names}")
            datasets = [self.train_sets[n] for n in names]
            batch_sizes = [self._batch_size_of(n) for n in names]
            self._loaders = {with_h36m: self._loader(datasets, None, train=True, batch_sizes=batch_sizes, position=position)}
        return self._start_at(self._loaders[with_h36m], position)

    def val_dataloader(self) -> DataLoader:
        return self._loader([self.test_set], None, train=False, batch_sizes=[self.eval_batch_size])

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    # ------------------------------------------------------------------------------------ augmentation
    def flip_batch(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """Mirrors each clip with probability 0.5: INPUT (x negated, left/right swapped) and the SMPL
        poses (GT and HybrIK) with `flip_smpl_pose`; shapes are unchanged by a mirror."""
        x, _, flipped = random_flip(batch[INPUT], None, 0.5, generator)
        out = {**batch, INPUT: x}
        for key in (SMPL_POSE, HYBRIK_POSE):
            if key in batch:
                pose = batch[key]  # (B, T, 72)
                out[key] = torch.where(flipped.view(-1, 1, 1), flip_smpl_pose(pose), pose)
        return out

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        trainer = self.trainer
        if not self.flip_train or trainer is None or not trainer.training:
            return batch
        return self.flip_batch(batch, self._batch_generator())  # flips replay exactly on resume
