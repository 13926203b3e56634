"""3D pose estimation on MPI-INF-3DHP (SPEC §7, paper §5.1, Table 1).

The backbone's own lifting head (the one trained in pretraining) is fine-tuned; there is no extra
head. Training: L_3D (`losses.loss_3d`) between the root-relative prediction and the
root-relative 3D target over every frame of each clip.

Evaluation (reference/datasets.md §1.4), per test window (one per valid test frame,
`Pose3DDataModule`):

1. run the backbone on the window, and with `flip_test` also on the mirrored window; the
   prediction is the mean of pred(x) and flip(pred(flip(x))) (`skeleton.flip_h36m` both ways);
2. keep the output at the window's `target_index` (its centre, or its last frame);
3. make prediction and target root-relative (H36M joint 0: the 3DHP pelvis after conversion) and
   convert both to mm with the sample's SCALE_MM;
4. count the sample only if its evaluated frame is valid (VALID at `target_index`);
5. MPJPE over all 17 joints (the root contributes 0), PCK@150 mm and AUC (31 thresholds 0..150 mm)
   over the 14 joints of the official 3DHP scripts (`skeleton.H36M_3DHP_PCK_14`), pooled over all
   evaluated frames: `val/mpjpe`, `val/pck`, `val/auc` and the same under `test/`.

Evaluation rate: with `eval_rate=None`, a backbone with a rate (HumMUSS) runs each window at rate k
when the window takes every k-th frame of its sequence (FRAME_STEP in the batch: input at fps / k,
so Δ is scaled by k); MotionBERT has no frame-rate parameter and runs at rate 1 (a warning says so
when k > 1).
"""

from __future__ import annotations

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from hummuss_pl.batch import (
    FRAME,
    FRAME_STEP,
    INPUT,
    SCALE_MM,
    SEQUENCE,
    TARGET_3D,
    TARGET_INDEX,
    VALID,
)
from hummuss_pl.losses import PoseLossConfig, loss_3d
from hummuss_pl.metrics import AUC, MPJPE, PCK, root_relative
from hummuss_pl.models import supports_rate
from hummuss_pl.skeleton import flip_h36m

from .base import BackboneConfig, BackboneTask, OptimConfig, allow_in_checkpoints

allow_in_checkpoints(PoseLossConfig)

__all__ = ["Pose3DTask"]


class Pose3DTask(BackboneTask):
    """2D-to-3D pose lifting on 3DHP, fine-tuned from pretraining or trained from scratch.

    Args:
        backbone: a HumMUSSConfig / MotionBERTConfig or a preset name (see `BACKBONE_PRESETS`).
        optim: optimiser settings (MotionBERT's pose3d recipe: lr 2e-4, decay 0.99).
        loss: L_3D form ("paper": squared errors + λ·velocity; "motionbert": MPJPE + 0.5·N-MPJPE
            + 20·velocity).
        flip_test: average the prediction with the mirrored prediction of the mirrored input.
        eval_rate: the backbone's rate at evaluation; None: each window's FRAME_STEP for HumMUSS, 1
            for MotionBERT (which accepts no other value).
        pretrained: weights to start from (a .ckpt of ours, e.g. from PretrainTask, or an official
            MotionBERT .bin); loaded when fitting starts.
    """

    monitor = ("val/mpjpe", "min")

    def __init__(
        self,
        backbone: BackboneConfig | str = "hummuss-bidirectional",
        optim: OptimConfig = OptimConfig(lr=2e-4, weight_decay=0.01, lr_decay=0.99),
        loss: PoseLossConfig = PoseLossConfig(),
        flip_test: bool = True,
        eval_rate: float | None = None,
        pretrained: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(backbone, optim, pretrained, compile)
        self.save_hyperparameters()
        self.has_rate = supports_rate(self.backbone_cfg)
        if eval_rate is not None:
            if not eval_rate > 0:
                raise ValueError(f"Pose3DTask.eval_rate must be > 0 (fps_train / fps_test) or None; got {eval_rate}")
            if not self.has_rate and eval_rate != 1:
                raise ValueError(
                    f"Pose3DTask.eval_rate={eval_rate}: {type(self.backbone).__name__} has no frame-rate parameter; leave eval_rate unset "
                    "(or 1.0) for a MotionBERT backbone"
                )
        self.loss_cfg, self.flip_test, self.eval_rate = loss, flip_test, eval_rate
        splits = ("val", "test")
        self.mpjpe = torch.nn.ModuleDict({s: MPJPE() for s in splits})  # all 17 joints
        self.pck = torch.nn.ModuleDict({s: PCK() for s in splits})  # 3DHP's 14 joints, 150 mm
        self.auc = torch.nn.ModuleDict({s: AUC() for s in splits})
        self._warned: set[str] = set()

    def forward(self, x: Tensor, rate: float | Tensor = 1.0) -> Tensor:
        return self.backbone(x, rate)

    # ------------------------------------------------------------------------------------ rate
    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            rank_zero_warn(message)

    def evaluation_rate(self, batch: dict) -> float | Tensor:
        """The rate the backbone runs at on a batch of test windows (see the module docstring): a
        float, or one rate per window (B,)."""
        if self.eval_rate is not None:
            return float(self.eval_rate)
        steps = torch.as_tensor(batch.get(FRAME_STEP, 1), device=self.device).float().reshape(-1)  # (B,) or (1,)
        if self.has_rate:  # one float when the windows agree (the usual case): kernels are cached per rate
            return float(steps[0]) if bool((steps == steps[0]).all()) else steps
        if bool((steps != 1).any()):
            self._warn_once("rate", f"the test windows take every k-th frame (k > 1) but {type(self.backbone).__name__} "
                                    "has no frame-rate parameter: evaluating at rate 1 (as trained)")  # fmt: skip
        return 1.0

    # ------------------------------------------------------------------------------------ evaluation
    def predict_windows(self, batch: dict) -> tuple[Tensor, Tensor, Tensor]:
        """The evaluation protocol on a batch of test windows.

        Returns the prediction and target at each window's `target_index`, root-relative, in mm,
        both (B, 17, 3), and which of them count (B,) bool: those whose evaluated frame is valid.
        """
        for key in (INPUT, TARGET_3D, VALID, SCALE_MM, TARGET_INDEX):
            if key not in batch:
                raise KeyError(f"Pose3DTask evaluates test windows; the batch lacks {key!r} (use Pose3DDataModule's "
                               f"val/test loaders, whose samples have {TARGET_INDEX!r} and {VALID!r})")  # fmt: skip
        x = batch[INPUT]  # (B, T, J, 3)
        B, T = x.shape[:2]
        index = torch.as_tensor(batch[TARGET_INDEX], device=x.device).long()  # (B,)
        if self.backbone_cfg.causal and bool((index < T - 1).any()):
            self._warn_once("anchor", "a causal backbone evaluated with the target frame inside the window (anchor "
                                      "'center'): the prediction sees only the past half of each window and the future "
                                      "half is unused (the model stays causal). Use anchor 'last' "
                                      "(--data.init_args.anchor last) to give it a full window of past frames.")  # fmt: skip
        rate = self.evaluation_rate(batch)
        if self.flip_test:
            both_rate = torch.cat([rate, rate]) if isinstance(rate, Tensor) else rate  # one per window of both halves
            both = self(torch.cat([x, flip_h36m(x)]), both_rate)  # (2B, T, J, 3): x, then its mirror image
            pred = 0.5 * (both[:B] + flip_h36m(both[B:]))  # (B, T, J, 3)
        else:
            pred = self(x, rate)  # (B, T, J, 3)
        rows = torch.arange(B, device=x.device)
        pred = root_relative(pred[rows, index])  # (B, J, 3) at the evaluated frame
        target = root_relative(batch[TARGET_3D][rows, index].to(pred.dtype))  # (B, J, 3)
        scale = torch.as_tensor(batch[SCALE_MM], device=x.device).to(pred.dtype)[:, None, None]  # (B, 1, 1) mm per unit
        keep = torch.as_tensor(batch[VALID], device=x.device).bool()[rows, index]  # (B,)
        return pred * scale, target * scale, keep

    def predictions(self, batch: dict) -> dict[str, Tensor | list]:
        """Per test window, as evaluated: pose_3d_mm (B, 17, 3) root-relative at the evaluated frame
        (flip-averaged with flip_test), valid (B,) whether that frame counts, sequence and frame
        (its index in the sequence)."""
        pred, _, keep = self.predict_windows(batch)
        return {"pose_3d_mm": pred, "valid": keep, SEQUENCE: batch[SEQUENCE], FRAME: batch[FRAME]}

    # ------------------------------------------------------------------------------------ steps
    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        x = batch[INPUT]  # (B, T, J, 3), flipped at random by the data module
        pred = root_relative(self(x))  # (B, T, J, 3); training clips run at rate 1
        terms = loss_3d(pred, root_relative(batch[TARGET_3D].to(pred.dtype)), self.loss_cfg)
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/loss_{name}", value, batch_size=x.shape[0])
        self.log("train/loss", terms["total"], batch_size=x.shape[0], prog_bar=True)
        return terms["total"]

    def evaluation_step(self, batch: dict, split: str) -> None:
        pred, target, keep = self.predict_windows(batch)
        count = int(keep.sum())
        if count:
            for name, metrics in (("mpjpe", self.mpjpe), ("pck", self.pck), ("auc", self.auc)):
                metrics[split].update(pred[keep], target[keep])
                self.log(f"{split}/{name}", metrics[split], batch_size=count, prog_bar=name == "mpjpe")
