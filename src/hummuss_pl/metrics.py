"""Evaluation metrics for the paper's tasks, as plain functions and as torchmetrics `Metric`s.

Units: positions in millimetres in, errors in millimetres out; PCK, AUC and accuracies in percent.

    MPJPE      mean Euclidean joint error                               (protocol 1)
    N-MPJPE    MPJPE after the optimal per-pose scale of the prediction (a training loss in MotionBERT)
    PA-MPJPE   MPJPE after a per-pose similarity Procrustes alignment (scale, rotation, translation;
               proper rotations only: reflections are corrected)                        (protocol 2)
    PCK        100 · fraction of (pose, joint) errors strictly below 150 mm (the official 3DHP
               MATLAB code compares with `<`)
    AUC        100 · mean of the PCK over the 31 thresholds 0, 5, …, 150 mm; the threshold 0 never
               counts, so the maximum is 100 · 30/31 ≈ 96.77 (as in the official 3DHP scripts)
    MPVE       mean Euclidean vertex error (MotionBERT subtracts each mesh's regressed pelvis first)
    top-k      100 · fraction of samples whose label is among the k largest logits

Every functional form takes poses of shape (..., J, 3): any leading dimensions (batch, frames,
persons) are flattened into "poses". Two optional arguments are shared by the joint metrics:

    root    subtract this joint from prediction and target (per pose) *before* anything else;
            the root may be excluded by `joints` (the 3DPW protocol subtracts the pelvis, then drops it)
    joints  the subset of joints to score, e.g. `skeleton.H36M_EVAL_14` (3DPW) or
            `skeleton.H36M_3DHP_PCK_14` (3DHP PCK/AUC, the default of `PCK`/`AUC`)

The Metric classes keep *sums* (error sums and counts in float64, `dist_reduce_fx="sum"`), so the
value under DDP equals the single-process value over the same samples. A pose's mean over joints,
averaged over poses, equals the mean over all (pose, joint) pairs because every pose has the same
joints, so summing pairs is exact. (Lightning's DistributedSampler pads the last batch with repeated
samples; run the paper's test numbers on one device or with a non-padding sampler.)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from .skeleton import H36M_3DHP_PCK_14

__all__ = [
    "AUC",
    "AUC_THRESHOLDS_MM",
    "MPJPE",
    "MPVE",
    "NMPJPE",
    "PAMPJPE",
    "PCK",
    "PCK_THRESHOLD_MM",
    "TopKAccuracy",
    "auc",
    "joint_errors",
    "mpjpe",
    "mpve",
    "n_mpjpe",
    "optimal_scale",
    "pa_mpjpe",
    "pck",
    "procrustes_align",
    "root_relative",
    "topk_accuracy",
]

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = tuple(float(t) for t in range(0, 151, 5))  # 0, 5, …, 150: 31 thresholds

Joints = Sequence[int] | None


# ----------------------------------------------------------------------------------------------
# Functional forms
# ----------------------------------------------------------------------------------------------


def _check_pair(pred: Tensor, target: Tensor, what: str = "joints") -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape (..., {what}, 3); got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"expected 3D points of shape (..., {what}, 3); got {tuple(pred.shape)}")


def root_relative(x: Tensor, root: int = 0) -> Tensor:
    """x (..., J, C) minus its joint `root`, per pose (MotionBERT makes targets root-relative this way)."""
    if not -x.shape[-2] <= root < x.shape[-2]:
        raise ValueError(f"root={root} is not a joint index for poses with {x.shape[-2]} joints")
    return x - x[..., root : root + 1, :]


def _prepare(pred: Tensor, target: Tensor, joints: Joints, root: int | None) -> tuple[Tensor, Tensor]:
    """Checks shapes, subtracts the root, selects joints, flattens to float64 (P, J', 3)."""
    _check_pair(pred, target)
    pred, target = pred.detach().double(), target.detach().double()
    if root is not None:
        pred, target = root_relative(pred, root), root_relative(target, root)
    if joints is not None:
        index = list(joints)
        if not index or max(index) >= pred.shape[-2] or min(index) < -pred.shape[-2]:
            raise ValueError(f"joints={tuple(index)} is not a non-empty subset of the {pred.shape[-2]} joints")
        pred, target = pred[..., index, :], target[..., index, :]
    num_joints = pred.shape[-2]
    return pred.reshape(-1, num_joints, 3), target.reshape(-1, num_joints, 3)  # (P, J', 3)


def joint_errors(pred: Tensor, target: Tensor, joints: Joints = None, root: int | None = None) -> Tensor:
    """Euclidean error per (pose, joint) in float64: (P, J') with P = prod of leading dims."""
    pred, target = _prepare(pred, target, joints, root)
    return (pred - target).norm(dim=-1)


def mpjpe(pred: Tensor, target: Tensor, joints: Joints = None, root: int | None = None) -> Tensor:
    """Mean per-joint position error over all poses and joints (float64 scalar, input units)."""
    return joint_errors(pred, target, joints, root).mean()


def optimal_scale(pred: Tensor, target: Tensor) -> Tensor:
    """Per-pose scale s minimising Σ_j ||s·p_j − t_j||²: s = <p, t> / <p, p>. (..., J, 3) → (..., 1, 1).

    Differentiable and in the input dtype (also used by the N-MPJPE training loss). A pose that is
    all zeros gets s = 0."""
    _check_pair(pred, target)
    num = (pred * target).sum(dim=(-1, -2), keepdim=True)
    den = (pred * pred).sum(dim=(-1, -2), keepdim=True)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def n_mpjpe(pred: Tensor, target: Tensor, joints: Joints = None, root: int | None = None) -> Tensor:
    """MPJPE after scaling each predicted pose by its optimal scale (fitted on the scored joints)."""
    pred, target = _prepare(pred, target, joints, root)
    return (optimal_scale(pred, target) * pred - target).norm(dim=-1).mean()


def procrustes_align(pred: Tensor, target: Tensor) -> Tensor:
    """Aligns each predicted pose to its target with the best similarity transform s·R·p + t
    (least squares, R a proper rotation), computed with a batched SVD in float64.

    pred, target: (..., J, 3). Returns the aligned prediction (..., J, 3) in pred's dtype.

    With centred points P, T (rows = joints) and P^T T = U S V^T, the best orthogonal map is
    R = V U^T; when det(V U^T) < 0 that map is a reflection, and the best *rotation* flips the sign
    of the last singular direction: R = V D U^T, D = diag(1, 1, −1). The scale is then
    s = tr(D S) / ||P||², and t = mean(T) − s·R·mean(P).
    """
    _check_pair(pred, target)
    shape, dtype = pred.shape, pred.dtype
    p = pred.detach().double().reshape(-1, shape[-2], 3)  # (P, J, 3)
    q = target.detach().double().reshape(-1, shape[-2], 3)
    mu_p, mu_q = p.mean(dim=1, keepdim=True), q.mean(dim=1, keepdim=True)  # (P, 1, 3)
    p0, q0 = p - mu_p, q - mu_q
    u, s, vh = torch.linalg.svd(p0.transpose(1, 2) @ q0)  # (P, 3, 3): P^T T = U diag(s) V^T
    v = vh.transpose(1, 2)
    sign = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))  # (P,)
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    d = torch.ones_like(s)  # (P, 3)
    d[:, -1] = sign
    rot = v @ torch.diag_embed(d) @ u.transpose(1, 2)  # (P, 3, 3), det = +1
    norm_p = (p0 * p0).sum(dim=(1, 2)).clamp_min(torch.finfo(torch.float64).tiny)  # (P,)
    scale = (d * s).sum(dim=1) / norm_p  # (P,)
    aligned = scale[:, None, None] * (p0 @ rot.transpose(1, 2)) + mu_q  # rows: s·R·(p − mean p) + mean t
    return aligned.reshape(shape).to(dtype)


def pa_mpjpe(pred: Tensor, target: Tensor, joints: Joints = None, root: int | None = None) -> Tensor:
    """MPJPE after per-pose similarity Procrustes alignment on the scored joints (float64 scalar)."""
    pred, target = _prepare(pred, target, joints, root)
    return (procrustes_align(pred, target) - target).norm(dim=-1).mean()


def pck(pred: Tensor, target: Tensor, threshold: float = PCK_THRESHOLD_MM, joints: Joints = H36M_3DHP_PCK_14,
        root: int | None = None) -> Tensor:
    """Percentage of (pose, joint) errors strictly below `threshold` (mm). Default joints: the 14 of
    the 3DHP protocol (H36M indices); pass `joints=None` for all."""
    return 100.0 * (joint_errors(pred, target, joints, root) < threshold).double().mean()


def auc(pred: Tensor, target: Tensor, thresholds: Sequence[float] = AUC_THRESHOLDS_MM,
        joints: Joints = H36M_3DHP_PCK_14, root: int | None = None) -> Tensor:
    """Mean PCK (percent) over `thresholds` (default 0, 5, …, 150 mm; strict `<` at each)."""
    err = joint_errors(pred, target, joints, root)  # (P, J')
    ts = torch.as_tensor(list(thresholds), dtype=torch.float64, device=err.device)
    return 100.0 * (err[..., None] < ts).double().mean()


def mpve(pred_vertices: Tensor, target_vertices: Tensor, pred_root: Tensor | None = None,
         target_root: Tensor | None = None) -> Tensor:
    """Mean per-vertex error (float64 scalar). vertices: (..., V, 3). If roots (..., 3) are given
    (MotionBERT: each mesh's regressed H36M pelvis), each mesh is translated by minus its root first."""
    pred_vertices, target_vertices = _translate(pred_vertices, target_vertices, pred_root, target_root)
    _check_pair(pred_vertices, target_vertices, "vertices")
    return (pred_vertices.double() - target_vertices.double()).norm(dim=-1).mean()


def _translate(pv: Tensor, tv: Tensor, pr: Tensor | None, tr: Tensor | None) -> tuple[Tensor, Tensor]:
    if (pr is None) != (tr is None):
        raise ValueError("give both pred_root and target_root, or neither")
    if pr is not None:
        if pr.shape != pv.shape[:-2] + (3,) or tr.shape != tv.shape[:-2] + (3,):
            raise ValueError(f"roots must have shape (..., 3) matching the vertices' leading dims "
                             f"{tuple(pv.shape[:-2])}; got {tuple(pr.shape)} and {tuple(tr.shape)}")
        pv, tv = pv - pr[..., None, :], tv - tr[..., None, :]
    return pv, tv


def _topk_hits(logits: Tensor, labels: Tensor, k: int) -> Tensor:
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, classes) and labels (N,); got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    if not 1 <= k <= logits.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the number of classes ({logits.shape[1]})")
    top = logits.detach().topk(k, dim=1).indices  # (N, k)
    return (top == labels.detach()[:, None].long()).any(dim=1)  # (N,)


def topk_accuracy(logits: Tensor, labels: Tensor, k: int = 1) -> Tensor:
    """Percentage of samples whose label is among the k highest logits. logits (N, C), labels (N,)."""
    return 100.0 * _topk_hits(logits, labels, k).double().mean()


# ----------------------------------------------------------------------------------------------
# torchmetrics Metrics (sum states: exact under DDP)
# ----------------------------------------------------------------------------------------------


class _SumMetric(Metric):
    """Shared base: float64 `total` (an error sum or a hit count) and `count`; value = total / count."""

    full_state_update = False
    is_differentiable = False
    scale = 1.0

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def _add(self, values: Tensor) -> None:
        # Out of place: states made under inference mode (e.g. by `trainer.validate` before `fit`)
        # cannot be updated in place during training.
        self.total = self.total + values.double().sum()
        self.count = self.count + values.numel()

    def compute(self) -> Tensor:
        if self.count == 0:
            raise RuntimeError(f"{type(self).__name__}.compute() called before any update()")
        return self.scale * self.total / self.count


class MPJPE(_SumMetric):
    """Mean per-joint position error (mm). update(pred, target): (..., J, 3) each."""

    higher_is_better = False

    def __init__(self, joints: Joints = None, root: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.joints, self.root = None if joints is None else tuple(joints), root

    def update(self, pred: Tensor, target: Tensor) -> None:
        self._add(joint_errors(pred, target, self.joints, self.root))


class NMPJPE(MPJPE):
    """MPJPE after the optimal per-pose scale (mm)."""

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _prepare(pred, target, self.joints, self.root)
        self._add((optimal_scale(pred, target) * pred - target).norm(dim=-1))


class PAMPJPE(MPJPE):
    """MPJPE after per-pose similarity Procrustes alignment on the scored joints (mm)."""

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = _prepare(pred, target, self.joints, self.root)
        self._add((procrustes_align(pred, target) - target).norm(dim=-1))


class PCK(_SumMetric):
    """Percentage of (pose, joint) errors strictly below `threshold` mm (default: 3DHP's 14 joints)."""

    higher_is_better = True
    scale = 100.0

    def __init__(self, threshold: float = PCK_THRESHOLD_MM, joints: Joints = H36M_3DHP_PCK_14,
                 root: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.threshold = float(threshold)
        self.joints, self.root = None if joints is None else tuple(joints), root

    def update(self, pred: Tensor, target: Tensor) -> None:
        self._add(joint_errors(pred, target, self.joints, self.root) < self.threshold)


class AUC(Metric):
    """Mean PCK (percent) over thresholds 0, 5, …, 150 mm (default: 3DHP's 14 joints). States: hit
    counts per threshold (float64 vector) and the number of (pose, joint) pairs."""

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, thresholds: Sequence[float] = AUC_THRESHOLDS_MM, joints: Joints = H36M_3DHP_PCK_14,
                 root: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if len(thresholds) == 0:
            raise ValueError("AUC needs at least one threshold")
        self.thresholds = tuple(float(t) for t in thresholds)
        self.joints, self.root = None if joints is None else tuple(joints), root
        self.add_state("hits", torch.zeros(len(self.thresholds), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        err = joint_errors(pred, target, self.joints, self.root).reshape(-1)  # (P·J',)
        ts = torch.tensor(self.thresholds, dtype=torch.float64, device=err.device)
        self.hits = self.hits + (err[:, None] < ts).double().sum(dim=0)  # out of place, see _SumMetric._add
        self.count = self.count + err.numel()

    def compute(self) -> Tensor:
        if self.count == 0:
            raise RuntimeError("AUC.compute() called before any update()")
        return 100.0 * (self.hits / self.count).mean()


class MPVE(_SumMetric):
    """Mean per-vertex error (mm). update(pred_vertices, target_vertices, pred_root=None, target_root=None)."""

    higher_is_better = False

    def update(self, pred_vertices: Tensor, target_vertices: Tensor, pred_root: Tensor | None = None,
               target_root: Tensor | None = None) -> None:
        pv, tv = _translate(pred_vertices.detach(), target_vertices.detach(), pred_root, target_root)
        _check_pair(pv, tv, "vertices")
        self._add((pv.double() - tv.double()).norm(dim=-1))


class TopKAccuracy(_SumMetric):
    """Top-k accuracy in percent. update(logits (N, C), labels (N,))."""

    higher_is_better = True
    scale = 100.0

    def __init__(self, k: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"TopKAccuracy: k must be >= 1; got {k}")
        self.k = k

    def update(self, logits: Tensor, labels: Tensor) -> None:
        self._add(_topk_hits(logits, labels, self.k))
