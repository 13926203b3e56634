"""Training losses: pretraining / 3D pose (L_3D, L_2D) and MotionBERT's mesh recipe.

Shapes: poses are (..., T, J, C) with time at dim −3 (usually (B, T, J, 3)); velocities are first
differences over T, v_t = x_t − x_{t−1}, so a clip of T frames has T − 1 of them (a velocity term is
0 when T < 2, e.g. COCO images in the mesh task).

Pose losses, chosen by `PoseLossConfig.kind`:

    "paper" (default; HumMUSS eq. 3 and its L_2D):
        L_3D = mean_{b,t,j} ||x̂ − x||²  +  λ · mean_{b,t,j} ||v̂ − v||²
        L_2D = mean_{b,t,j} δ · ||x̂_xy − x_2D||²             (orthographic projection: drop z)
      The paper writes sums over t and j; we divide each sum by its number of terms (B·T·J for
      positions, B·(T−1)·J for velocities, B·T·J for L_2D — not by the sum of confidences), so the
      loss does not grow with clip length, joint count or batch size. A sum is a mean times a
      constant, so the optimum is the same; only the effective learning rate differs.
    "motionbert" (lib/model/loss.py, the pose configs' non-zero terms):
        L_3D = MPJPE + scale_weight · N-MPJPE + λ · MPJPE(v̂, v)        (unsquared distances)
        L_2D = mean_{b,t,j} ||(x̂_xy − x_2D) · δ||₂

Root-relative targets: MotionBERT subtracts the root (H36M joint 0) per frame from 3D targets
(`rootrel`) and from mesh joints; `root_relative` does that. The pose losses do not subtract
anything themselves — give them the targets your protocol uses.

Mesh loss (MotionBERT `MeshLoss`, loss_type "L1", MB_ft_pw3d weights), everything in mm, joints
root-relative at H36M joint 0:
    0.5 · MPJPE(joints) + 0 · N-MPJPE + 10 · velocity MPJPE(joints)
    + 1000 · mean |R̂ − R| over the 24 joint rotation matrices  (L1; "mse": squared)
    + 1 · mean |β̂ − β|                                            (L1; "mse": squared)
    + 20 · mean over frames of ||θ̂||₂, θ̂ = (axis-angle 72, betas 10) of the prediction
    (+ vertex_weight · mean vertex error after subtracting each mesh's root joint; 0 in MotionBERT)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import roma
import torch
from torch import Tensor

from .metrics import optimal_scale, root_relative

__all__ = [
    "MeshLossConfig",
    "PoseLossConfig",
    "loss_2d",
    "loss_3d",
    "mesh_loss",
    "mpjpe_loss",
    "n_mpjpe_loss",
    "root_relative",
    "squared_error_loss",
    "velocity",
]

PoseLossKind = Literal["paper", "motionbert"]
Regression = Literal["l1", "mse"]


def _check_weights(owner: str, cfg: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"{owner}.{name} must be a non-negative number; got {value}")


@dataclass(frozen=True)
class PoseLossConfig:
    """L_3D / L_2D settings. `velocity_weight` is λ (the paper gives no value; 20 is MotionBERT's);
    `scale_weight` weighs N-MPJPE and is used by kind="motionbert" only."""

    kind: PoseLossKind = "paper"
    velocity_weight: float = 20.0
    scale_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in ("paper", "motionbert"):
            raise ValueError(f'PoseLossConfig.kind must be "paper" or "motionbert"; got {self.kind!r}')
        _check_weights("PoseLossConfig", self, ("velocity_weight", "scale_weight"))


@dataclass(frozen=True)
class MeshLossConfig:
    """Weights of MotionBERT's mesh loss (defaults: MB_ft_pw3d.yaml). `regression` is the criterion
    of the pose-rotation and shape terms; joint terms are always mean Euclidean distances (mm).
    `root` is the joint subtracted per frame from predicted and target joints (H36M pelvis)."""

    regression: Regression = "l1"
    joints_weight: float = 0.5
    scale_weight: float = 0.0
    velocity_weight: float = 10.0
    pose_weight: float = 1000.0
    shape_weight: float = 1.0
    norm_weight: float = 20.0
    vertex_weight: float = 0.0
    root: int = 0

    def __post_init__(self) -> None:
        if self.regression not in ("l1", "mse"):
            raise ValueError(f'MeshLossConfig.regression must be "l1" or "mse"; got {self.regression!r}')
        _check_weights("MeshLossConfig", self, ("joints_weight", "scale_weight", "velocity_weight", "pose_weight",
                                                "shape_weight", "norm_weight", "vertex_weight"))


# ----------------------------------------------------------------------------------------------
# Terms
# ----------------------------------------------------------------------------------------------


def _check_poses(pred: Tensor, target: Tensor, name: str = "target") -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction and {name} must have the same shape (..., T, J, C); got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.ndim < 3:
        raise ValueError(f"expected poses of shape (..., T, J, C); got {tuple(pred.shape)}")


def velocity(x: Tensor) -> Tensor:
    """First differences over time: (..., T, J, C) → (..., T−1, J, C)."""
    return x[..., 1:, :, :] - x[..., :-1, :, :]


def _mean_or_zero(x: Tensor, like: Tensor) -> Tensor:
    return x.mean() if x.numel() else like.new_zeros(())


def squared_error_loss(pred: Tensor, target: Tensor) -> Tensor:
    """mean over all (…, joint) of the squared Euclidean distance (last dim = coordinates)."""
    return _mean_or_zero(((pred - target) ** 2).sum(dim=-1), pred)


def mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """mean over all (…, joint) of the Euclidean distance (differentiable MPJPE)."""
    return _mean_or_zero((pred - target).norm(dim=-1), pred)


def n_mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MPJPE after scaling each predicted pose (over its joints) by its optimal scale."""
    return mpjpe_loss(optimal_scale(pred, target) * pred, target)


def loss_3d(pred: Tensor, target: Tensor, cfg: PoseLossConfig = PoseLossConfig()) -> dict[str, Tensor]:
    """L_3D. pred, target: (..., T, J, 3). Returns {"total", "position", "velocity"[, "scale"]},
    the terms unweighted and "total" the weighted sum."""
    _check_poses(pred, target)
    if cfg.kind == "paper":
        terms = {"position": squared_error_loss(pred, target),
                 "velocity": squared_error_loss(velocity(pred), velocity(target))}
        total = terms["position"] + cfg.velocity_weight * terms["velocity"]
    else:
        terms = {"position": mpjpe_loss(pred, target),
                 "scale": n_mpjpe_loss(pred, target),
                 "velocity": mpjpe_loss(velocity(pred), velocity(target))}
        total = terms["position"] + cfg.scale_weight * terms["scale"] + cfg.velocity_weight * terms["velocity"]
    return {"total": total, **terms}


def loss_2d(pred: Tensor, target_2d: Tensor, confidence: Tensor,
            cfg: PoseLossConfig = PoseLossConfig()) -> dict[str, Tensor]:
    """L_2D of the orthographic projection of the predicted 3D.

    pred (..., T, J, 3); target_2d (..., T, J, 2); confidence δ (..., T, J) or (..., T, J, 1), the
    2D detection confidence of the *clean* input (MotionBERT copies it before noise and masking;
    with the sample contract that is INPUT[..., 2] and the target INPUT[..., :2]).
    Returns {"total", "projection"} (equal: L_2D has one term)."""
    if pred.shape[-1] != 3 or target_2d.shape != pred.shape[:-1] + (2,):
        raise ValueError(f"expected pred (..., T, J, 3) and target_2d (..., T, J, 2) with the same leading dims; "
                         f"got {tuple(pred.shape)} and {tuple(target_2d.shape)}")
    if confidence.shape == pred.shape[:-1] + (1,):
        confidence = confidence[..., 0]
    if confidence.shape != pred.shape[:-1]:
        raise ValueError(f"confidence must have shape {tuple(pred.shape[:-1])} or {tuple(pred.shape[:-1]) + (1,)}; "
                         f"got {tuple(confidence.shape)}")
    diff = pred[..., :2] - target_2d  # orthographic projection: drop z
    if cfg.kind == "paper":
        value = _mean_or_zero(confidence * (diff**2).sum(dim=-1), pred)
    else:
        value = _mean_or_zero((diff * confidence[..., None]).norm(dim=-1), pred)
    return {"total": value, "projection": value}


def _regression(pred: Tensor, target: Tensor, kind: Regression) -> Tensor:
    diff = pred - target
    return _mean_or_zero(diff.abs() if kind == "l1" else diff**2, pred)


def mesh_loss(pred_joints: Tensor, target_joints: Tensor, pred_rotmat: Tensor, target_pose: Tensor,
              pred_betas: Tensor, target_betas: Tensor, cfg: MeshLossConfig = MeshLossConfig(),
              pred_vertices: Tensor | None = None, target_vertices: Tensor | None = None) -> dict[str, Tensor]:
    """MotionBERT's mesh loss (see the module docstring). All lengths in mm.

    pred_joints, target_joints   (N, T, 17, 3)  H36M joints regressed from the meshes
    pred_rotmat                  (N, T, 24, 3, 3)
    target_pose                  (N, T, 72) axis-angle (the pickles' smpl_pose) or (N, T, 24, 3, 3)
    pred_betas, target_betas     (N, T, 10)
    pred_vertices, target_vertices (N, T, V, 3), only needed when vertex_weight > 0
    Returns {"total", "joints", "scale", "velocity", "pose", "shape", "norm"[, "vertex"]}."""
    _check_poses(pred_joints, target_joints, "target_joints")
    lead = pred_joints.shape[:-2]  # (N, T)
    if pred_rotmat.shape != lead + (24, 3, 3):
        raise ValueError(f"pred_rotmat must have shape {tuple(lead) + (24, 3, 3)}; got {tuple(pred_rotmat.shape)}")
    if target_pose.shape == lead + (72,):
        target_rotmat = roma.rotvec_to_rotmat(target_pose.reshape(lead + (24, 3)))  # (N, T, 24, 3, 3)
    elif target_pose.shape == lead + (24, 3, 3):
        target_rotmat = target_pose
    else:
        raise ValueError(f"target_pose must be axis-angle {tuple(lead) + (72,)} or rotation matrices "
                         f"{tuple(lead) + (24, 3, 3)}; got {tuple(target_pose.shape)}")
    if pred_betas.shape != target_betas.shape or pred_betas.shape[:-1] != lead:
        raise ValueError(f"pred_betas and target_betas must both have shape {tuple(lead)} + (10,); got "
                         f"{tuple(pred_betas.shape)} and {tuple(target_betas.shape)}")

    pj, tj = root_relative(pred_joints, cfg.root), root_relative(target_joints, cfg.root)
    pred_rotvec = roma.rotmat_to_rotvec(pred_rotmat).flatten(-2)  # (N, T, 72)
    theta = torch.cat([pred_rotvec, pred_betas], dim=-1)  # (N, T, 82)
    terms = {
        "joints": mpjpe_loss(pj, tj),
        "scale": n_mpjpe_loss(pj, tj),
        "velocity": mpjpe_loss(velocity(pj), velocity(tj)),
        "pose": _regression(pred_rotmat, target_rotmat, cfg.regression),
        "shape": _regression(pred_betas, target_betas, cfg.regression),
        "norm": _mean_or_zero(theta.norm(dim=-1), theta),
    }
    total = (cfg.joints_weight * terms["joints"] + cfg.scale_weight * terms["scale"]
             + cfg.velocity_weight * terms["velocity"] + cfg.pose_weight * terms["pose"]
             + cfg.shape_weight * terms["shape"] + cfg.norm_weight * terms["norm"])
    if pred_vertices is not None or target_vertices is not None or cfg.vertex_weight > 0:
        if pred_vertices is None or target_vertices is None:
            raise ValueError("MeshLossConfig.vertex_weight > 0 (or one vertex tensor given) needs both "
                             "pred_vertices and target_vertices of shape (N, T, V, 3)")
        if pred_vertices.shape != target_vertices.shape or pred_vertices.shape[:-2] != lead:
            raise ValueError(f"pred_vertices and target_vertices must both be {tuple(lead)} + (V, 3); got "
                             f"{tuple(pred_vertices.shape)} and {tuple(target_vertices.shape)}")
        r = cfg.root
        terms["vertex"] = mpjpe_loss(pred_vertices - pred_joints[..., r : r + 1, :],
                                     target_vertices - target_joints[..., r : r + 1, :])
        total = total + cfg.vertex_weight * terms["vertex"]
    return {"total": total, **terms}
