"""Pretraining: lift corrupted 2D motion to 3D (SPEC §6, paper §4.4).

Per sample: 3D-labelled clips train L_3D (root-relative 3D) and 2D-only clips train L_2D
(confidence-weighted error of the orthographic projection, root-relative). Which sources are in
play is the data module's curriculum; the loss follows each sample's HAS_3D flag. Validation
reports MPJPE (mm, root-relative) on held-out 3D clips.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hummuss_pl.batch import CLEAN_INPUT, HAS_3D, INPUT, SCALE_MM, TARGET_3D
from hummuss_pl.losses import PoseLossConfig, loss_2d, loss_3d
from hummuss_pl.metrics import MPJPE, root_relative

from .base import BackboneConfig, BackboneTask, OptimConfig, allow_in_checkpoints

allow_in_checkpoints(PoseLossConfig)


class PretrainTask(BackboneTask):
    """2D-to-3D lifting with the backbone's own linear head.

    Args:
        backbone: a HumMUSSConfig / MotionBERTConfig or a preset name (see `BACKBONE_PRESETS`).
        optim: optimiser settings (paper: lr 3e-4 for HumMUSS, MotionBERT's recipe otherwise).
        loss: L_3D / L_2D form ("paper": squared errors + λ·velocity; "motionbert": MPJPE +
            0.5·N-MPJPE + 20·velocity).
        loss_2d_weight: weight of L_2D relative to L_3D.
        reference_fps: if set, every clip runs at rate = reference_fps / its own fps, so the SSMs'
            Δ is in seconds whatever the source's frame rate (HumMUSS only). None: rate 1 for all
            clips, as the paper and MotionBERT do.
        pretrained: weights to start from (a .ckpt of ours, or an official MotionBERT .bin).
    """

    monitor = ("val/mpjpe", "min")

    def __init__(
        self,
        backbone: BackboneConfig | str = "hummuss-causal",
        optim: OptimConfig = OptimConfig(lr=3e-4),
        loss: PoseLossConfig = PoseLossConfig(),
        loss_2d_weight: float = 1.0,
        reference_fps: float | None = None,
        pretrained: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(backbone, optim, pretrained, compile)
        self.save_hyperparameters()
        self._set_reference_fps(reference_fps)
        if loss_2d_weight < 0:
            raise ValueError(f"loss_2d_weight must be >= 0; got {loss_2d_weight}")
        self.loss_cfg, self.loss_2d_weight = loss, loss_2d_weight
        self.mpjpe = torch.nn.ModuleDict({split: MPJPE() for split in ("val", "test")})

    def forward(self, x: Tensor, rate: float | Tensor = 1.0) -> Tensor:
        return self.backbone(x, rate)

    def predictions(self, batch: dict) -> dict[str, Tensor]:
        """pose_3d (B, T, 17, 3): root-relative 3D in the data's normalised units; scale_mm (B,): mm
        per unit (1.0 for sources without a metric scale)."""
        pred = root_relative(self(batch[INPUT], self.clip_rate(batch)))  # (B, T, J, 3)
        return {"pose_3d": pred, "scale_mm": batch[SCALE_MM]}

    def model_step(self, batch: dict) -> dict[str, Tensor]:
        """Forward and losses of one batch, for training and evaluation alike: pred (B, T, J, 3) and the
        3D targets of the 3D-labelled samples (b, T, J, 3), both root-relative; has_3d (B,); loss (the
        total) and, where the batch has such samples, loss_3d and loss_2d."""
        x = batch[INPUT]  # (B, T, J, 3), corrupted during training
        pred = root_relative(self(x, self.clip_rate(batch)))  # (B, T, J, 3)
        has_3d = batch[HAS_3D].bool()
        out = {"pred": pred, "has_3d": has_3d, "target_3d": root_relative(batch[TARGET_3D][has_3d]), "loss": pred.new_zeros(())}
        if has_3d.any():
            out["loss_3d"] = loss_3d(pred[has_3d], out["target_3d"], self.loss_cfg)["total"]
            out["loss"] = out["loss"] + out["loss_3d"]
        if (~has_3d).any():
            clean = batch.get(CLEAN_INPUT, x)[~has_3d]  # (b, T, J, 3) clean 2D + confidence
            target_2d = clean[..., :2] - clean[..., :1, :2]  # root-relative, as the 3D
            out["loss_2d"] = loss_2d(pred[~has_3d], target_2d, clean[..., 2], self.loss_cfg)["total"]
            out["loss"] = out["loss"] + self.loss_2d_weight * out["loss_2d"]
        return out

    def _log_losses(self, out: dict[str, Tensor], split: str) -> None:
        has_3d = out["has_3d"]
        counts = {"loss_3d": int(has_3d.sum()), "loss_2d": int((~has_3d).sum()), "loss": len(has_3d)}
        for name, count in counts.items():
            if name in out:
                self.log(f"{split}/{name}", out[name], batch_size=count, prog_bar=split == "train" and name == "loss")

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        out = self.model_step(batch)
        self._log_losses(out, "train")
        return out["loss"]

    def evaluation_step(self, batch: dict, split: str) -> None:
        out = self.model_step(batch)
        self._log_losses(out, split)
        has_3d = out["has_3d"]
        if has_3d.any():
            scale = batch[SCALE_MM][has_3d].to(out["pred"].dtype)[:, None, None, None]  # mm per unit
            self.mpjpe[split].update(out["pred"][has_3d] * scale, out["target_3d"] * scale)
            self.log(f"{split}/mpjpe", self.mpjpe[split], batch_size=int(has_3d.sum()))
