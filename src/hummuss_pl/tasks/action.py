"""Action recognition (NTU RGB+D, SPEC §7): representation of each person, pooled, then an MLP."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hummuss_pl.batch import INPUT, LABEL, NUM_CLASSES
from hummuss_pl.metrics import TopKAccuracy
from hummuss_pl.models.heads import ActionHead, ActionHeadConfig

from .base import BackboneConfig, BackboneTask, OptimConfig, allow_in_checkpoints

allow_in_checkpoints(ActionHeadConfig)


class ActionTask(BackboneTask):
    """Cross-entropy over `head.num_classes` actions; top-1 / top-5 accuracy.

    Every person of a (N, M, T, J, 3) sample goes through the backbone separately; the head averages
    the representation over time and persons (dropout, Linear → BatchNorm → ReLU → Linear). The
    backbone's lifting head is unused here and frozen.

    Args:
        head: the classifier (num_classes must equal the data's: samples carry NUM_CLASSES, checked
            on every batch). Its joint count and input width are taken from the backbone.
        label_smoothing: of the cross-entropy.
        reference_fps: if set, a clip runs at rate = reference_fps / its fps (NTU clips resampled to
            a fixed length have fps = 30 · T / frames), HumMUSS only. None: rate 1 (the paper).
        optim: MotionBERT's recipe by default (head lr 1e-3, backbone lr 1e-4, decay 0.99).
    """

    monitor = ("val/top1", "max")

    def __init__(
        self,
        backbone: BackboneConfig | str = "hummuss-bidirectional",
        optim: OptimConfig = OptimConfig(lr=1e-3, lr_backbone=1e-4, weight_decay=0.01, lr_decay=0.99),
        head: ActionHeadConfig = ActionHeadConfig(),
        label_smoothing: float = 0.0,
        reference_fps: float | None = None,
        pretrained: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(backbone, optim, pretrained, compile)
        self.save_hyperparameters()
        self._set_reference_fps(reference_fps)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}")
        self.head_cfg = replace(head, num_joints=self.backbone_cfg.num_joints, dim_rep=self.backbone_cfg.dim_rep)
        self.head = ActionHead(self.head_cfg)
        self.label_smoothing = label_smoothing
        self.backbone.head.requires_grad_(False)  # the lifting head takes no part (DDP needs every grad)
        k5 = min(5, self.head_cfg.num_classes)  # top-5 (top-k with k = classes when fewer)
        self.accuracy = nn.ModuleDict({"train_top1": TopKAccuracy(1)})  # ("train" itself is taken by Module.train)
        self.accuracy.update({f"{s}_{name}": TopKAccuracy(k) for s in ("val", "test") for name, k in (("top1", 1), ("top5", k5))})

    def forward(self, x: Tensor, rate: float | Tensor = 1.0) -> Tensor:
        """x: (N, M, T, J, 3) → logits (N, classes); rate: float or (N,)."""
        n, m = x.shape[:2]
        if isinstance(rate, Tensor):
            rate = rate.repeat_interleave(m)  # (N·M,): each person runs at its clip's rate
        rep = self.backbone.representation(x.flatten(0, 1), rate)  # (N·M, T, J, D)
        return self.head(rep.unflatten(0, (n, m)))  # (N, M, T, J, D) → (N, classes)

    def predictions(self, batch: dict) -> dict[str, Tensor]:
        """logits (N, classes), predicted (N,) top-1 class, and label (N,) where the data has labels."""
        logits = self(batch[INPUT], self.clip_rate(batch))
        out = {"logits": logits, "predicted": logits.argmax(-1)}
        return out | ({"label": batch[LABEL]} if LABEL in batch else {})

    def model_step(self, batch: dict) -> tuple[Tensor, Tensor, Tensor]:
        """Logits (N, classes), labels (N,) and the cross-entropy of one batch."""
        classes = batch.get(NUM_CLASSES)
        if classes is not None and bool((torch.as_tensor(classes) != self.head_cfg.num_classes).any()):
            found = sorted({int(c) for c in torch.as_tensor(classes).reshape(-1)})
            raise ValueError(f"the data has {found[0] if len(found) == 1 else found} classes but the head has "
                             f"{self.head_cfg.num_classes}: set --model.init_args.head.num_classes {found[0]}")  # fmt: skip
        labels = batch[LABEL].long()
        logits = self(batch[INPUT], self.clip_rate(batch))
        return logits, labels, F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def _log_accuracy(self, logits: Tensor, labels: Tensor, split: str) -> None:
        for name in ("top1", "top5"):
            if f"{split}_{name}" in self.accuracy:
                metric = self.accuracy[f"{split}_{name}"]
                metric.update(logits, labels)
                self.log(f"{split}/{name}", metric, batch_size=len(labels), prog_bar=split != "train" and name == "top1")

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        logits, labels, loss = self.model_step(batch)
        self.log("train/loss", loss, batch_size=len(labels), prog_bar=True)
        self._log_accuracy(logits, labels, "train")
        return loss

    def evaluation_step(self, batch: dict, split: str) -> None:
        logits, labels, loss = self.model_step(batch)
        self.log(f"{split}/loss", loss, batch_size=len(labels))
        self._log_accuracy(logits, labels, split)
