"""Task heads on a backbone's representation (B, T, J, D_rep) (plain torch).

    lifting     the backbone's own `head` (D_rep → 3): nothing here
    ActionHead  NTU: (N, M, T, J, D) → dropout → mean over T → flatten J·D → mean over persons M →
                fc1 → bn → ReLU → fc2 → logits (MotionBERT `ActionHeadClassification`, same key names)
    MeshHead    SMPL regressor (MotionBERT `SMPLRegressor`, same key names): per-frame pose branch
                → 24 rotations in 6D (+ mean pose); clip-pooled shape branch → 10 betas (+ mean shape)
    HybrIKFusionHead  refines per-frame HybrIK rotations with the representation: a residual in 6D
                from a temporal Conv1d (k = 5) over [motion features, HybrIK 6D]; causal when asked

Rotation convention (one, everywhere): the 6D of a rotation matrix R is its first two *columns*,
stored row-major, i.e. R[..., :, :2].reshape(..., 6) = (R00, R01, R10, R11, R20, R21) (Zhou et al.;
the SPIN/MotionBERT `rot6d_to_rotmat` reading, and the layout of SPIN's smpl_mean_params.npz). It is
decoded by `roma.special_gramschmidt` on the (3, 2) view, so decode(encode(R)) = R. Axis-angle ↔
matrix conversions come from roma. (MotionBERT's refine branch encodes HybrIK's pose with a different
layout than its decoder reads; here encoder and decoder are the same pair, and a test holds a zero
residual to reproduce the HybrIK rotations.)

Causality: with `causal=True` nothing at frame t depends on frames > t in eval mode — the HybrIK
temporal convolutions are left-padded (k − 1, 0) and clip pooling becomes a running mean over frames
≤ t. In training mode BatchNorm normalises with statistics of the whole batch (all frames), as in any
BatchNorm model; at inference it uses running statistics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import roma
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .smpl import NUM_SMPL_JOINTS, SMPL, SMPLOutput

__all__ = [
    "ActionHead",
    "ActionHeadConfig",
    "HybrIKFusionConfig",
    "HybrIKFusionHead",
    "MeshHead",
    "MeshHeadConfig",
    "SMPLParams",
    "load_mean_params",
    "params_to_mesh",
    "rot6d_to_rotmat",
    "rotmat_to_6d",
    "rotvec_to_6d",
]

POSE_6D = NUM_SMPL_JOINTS * 6  # 144
NUM_BETAS = 10


# ----------------------------------------------------------------------------------------------
# Rotation helpers (one 6D convention)
# ----------------------------------------------------------------------------------------------


def rotmat_to_6d(rotmat: Tensor) -> Tensor:
    """(..., 3, 3) → (..., 6): the first two columns, row-major (R00, R01, R10, R11, R20, R21)."""
    return rotmat[..., :, :2].reshape(rotmat.shape[:-2] + (6,))


def rot6d_to_rotmat(x: Tensor) -> Tensor:
    """(..., 6) → (..., 3, 3) by Gram-Schmidt on the two columns (roma.special_gramschmidt)."""
    return roma.special_gramschmidt(x.reshape(x.shape[:-1] + (3, 2)))


def rotvec_to_6d(rotvec: Tensor) -> Tensor:
    """Axis-angle (..., 3) → 6D (..., 6)."""
    return rotmat_to_6d(roma.rotvec_to_rotmat(rotvec))


class SMPLParams(NamedTuple):
    rotmat: Tensor  # (N, T, 24, 3, 3) joint rotations (joint 0 = global orientation)
    betas: Tensor  # (N, T, 10)
    pose_6d: Tensor  # (N, T, 24, 6) the raw 6D before Gram-Schmidt


def params_to_mesh(params: SMPLParams, smpl: SMPL) -> SMPLOutput:
    """Runs SMPL on a head's output: vertices (N, T, 6890, 3) mm and H36M joints (N, T, 17, 3) mm."""
    return smpl(params.rotmat, params.betas)


def load_mean_params(path: str | Path | None) -> tuple[Tensor, Tensor]:
    """Initial pose (1, 144) in 6D and shape (1, 10) from SPIN's smpl_mean_params.npz ('pose', 'shape').

    With path=None: identity rotations for all 24 joints and zero betas. Note that SPIN's mean pose has
    the global orientation turned 180° about x (camera frame, y down); the identity starts the body
    upright in SMPL's own frame instead, so give the file when fine-tuning MotionBERT-style."""
    if path is None:
        pose = rotmat_to_6d(torch.eye(3).expand(NUM_SMPL_JOINTS, 3, 3)).reshape(1, POSE_6D)
        return pose, torch.zeros(1, NUM_BETAS)
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"SMPL mean parameters not found: {file}. Use MotionBERT's "
                                "data/mesh/smpl_mean_params.npz (SPIN's data download), or set mean_params to "
                                "null for identity pose / zero shape.")
    with np.load(file) as data:
        if "pose" not in data or "shape" not in data:
            raise ValueError(f"{file}: expected arrays 'pose' (144,) and 'shape' (10,); has {list(data.keys())}")
        pose, shape = np.asarray(data["pose"], np.float32), np.asarray(data["shape"], np.float32)
    if pose.size != POSE_6D or shape.size != NUM_BETAS:
        raise ValueError(f"{file}: 'pose' must have 144 values (24 × 6D) and 'shape' 10; "
                         f"got {pose.shape} and {shape.shape}")
    return torch.from_numpy(pose).reshape(1, POSE_6D), torch.from_numpy(shape).reshape(1, NUM_BETAS)


def _check_config(owner: str, cfg: object) -> None:
    for name in ("num_joints", "dim_rep", "hidden"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{owner}.{name} must be positive; got {getattr(cfg, name)}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"{owner}.dropout must be in [0, 1); got {cfg.dropout}")


def _check_rep(owner: str, rep: Tensor, num_joints: int, dim_rep: int, ndim: int = 4) -> None:
    names = "(N, M, T, J, D)" if ndim == 5 else "(N, T, J, D)"
    if rep.ndim != ndim or rep.shape[-2:] != (num_joints, dim_rep):
        raise ValueError(f"{owner} expects a representation {names} with J={num_joints}, D={dim_rep}; "
                         f"got {tuple(rep.shape)} (check num_joints / dim_rep against the backbone's dim_rep)")


def _running_mean(x: Tensor, dim: int) -> Tensor:
    """Mean over positions 0..t along `dim`, for every t (no look-ahead)."""
    steps = torch.arange(1, x.shape[dim] + 1, device=x.device, dtype=x.dtype)
    shape = [1] * x.ndim
    shape[dim] = -1
    return x.cumsum(dim) / steps.reshape(shape)


# ----------------------------------------------------------------------------------------------
# Action head
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionHeadConfig:
    """MotionBERT's action head: hidden 2048, dropout 0.5; 60 classes for NTU-60."""

    num_classes: int = 60
    num_joints: int = 17
    dim_rep: int = 512
    hidden: int = 2048
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"ActionHeadConfig.num_classes must be at least 2; got {self.num_classes}")
        _check_config("ActionHeadConfig", self)

    def as_dict(self) -> dict:
        return asdict(self)


class ActionHead(nn.Module):
    """(N, M, T, J, D) representation of M persons → logits (N, num_classes).

    Pooling is a mean over time and over persons, so the logits do not depend on the order of the
    persons. A missing person (all-zero input) is averaged in like MotionBERT does."""

    def __init__(self, cfg: ActionHeadConfig = ActionHeadConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc1 = nn.Linear(cfg.num_joints * cfg.dim_rep, cfg.hidden)
        self.bn = nn.BatchNorm1d(cfg.hidden, momentum=0.1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward(self, rep: Tensor) -> Tensor:
        _check_rep("ActionHead", rep, self.cfg.num_joints, self.cfg.dim_rep, ndim=5)
        n, m, _, j, d = rep.shape
        x = self.dropout(rep).mean(dim=2)  # (N, M, J, D): mean over T
        x = x.reshape(n, m, j * d).mean(dim=1)  # (N, J·D): mean over persons
        return self.fc2(self.relu(self.bn(self.fc1(x))))  # (N, classes)


# ----------------------------------------------------------------------------------------------
# Mesh head (SMPL regressor)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeshHeadConfig:
    """MotionBERT's SMPL regressor (MB_ft_pw3d: hidden 1024, dropout 0.1). `mean_params` is the path of
    smpl_mean_params.npz (initial pose/shape; None: identity rotations, zero betas). `causal`: the
    shape branch averages frames ≤ t (a running mean) instead of the whole clip, so betas may vary
    over frames; use it with causal backbones."""

    num_joints: int = 17
    dim_rep: int = 512
    hidden: int = 1024
    dropout: float = 0.1
    mean_params: str | None = None
    causal: bool = False

    def __post_init__(self) -> None:
        _check_config("MeshHeadConfig", self)

    def as_dict(self) -> dict:
        return asdict(self)


class MeshHead(nn.Module):
    """(N, T, J, D) → SMPLParams: per-frame rotations (N, T, 24, 3, 3) and clip betas (N, T, 10).

    Pose (per frame): (N·T, J·D) → dropout → fc1 → bn1 → ReLU → head_pose (→ 144) + init_pose.
    Shape (per clip): mean over T (running mean if causal) → dropout → fc2 → bn2 → ReLU → head_shape
    (→ 10) + init_shape. Output layers start small (xavier, gain 0.01), so the first prediction is the
    mean pose/shape. Key names follow MotionBERT's SMPLRegressor (fc1, bn1, head_pose, fc2, bn2,
    head_shape, init_pose, init_shape)."""

    def __init__(self, cfg: MeshHeadConfig = MeshHeadConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.num_joints * cfg.dim_rep
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc1, self.bn1 = nn.Linear(width, cfg.hidden), nn.BatchNorm1d(cfg.hidden, momentum=0.1)
        self.fc2, self.bn2 = nn.Linear(width, cfg.hidden), nn.BatchNorm1d(cfg.hidden, momentum=0.1)
        self.head_pose = nn.Linear(cfg.hidden, POSE_6D)
        self.head_shape = nn.Linear(cfg.hidden, NUM_BETAS)
        nn.init.xavier_uniform_(self.head_pose.weight, gain=0.01)
        nn.init.xavier_uniform_(self.head_shape.weight, gain=0.01)
        init_pose, init_shape = load_mean_params(cfg.mean_params)
        self.register_buffer("init_pose", init_pose)  # (1, 144)
        self.register_buffer("init_shape", init_shape)  # (1, 10)

    def forward(self, rep: Tensor) -> SMPLParams:
        _check_rep("MeshHead", rep, self.cfg.num_joints, self.cfg.dim_rep)
        n, t, j, d = rep.shape
        feat = rep.reshape(n, t, j * d)  # (N, T, J·D)
        pose = F.relu(self.bn1(self.fc1(self.dropout(feat.reshape(n * t, j * d)))))  # (N·T, H)
        pose_6d = self.head_pose(pose) + self.init_pose  # (N·T, 144)
        if self.cfg.causal:
            pooled = _running_mean(feat, dim=1).reshape(n * t, j * d)  # (N·T, J·D): frames ≤ t
            shape = F.relu(self.bn2(self.fc2(self.dropout(pooled))))
            betas = (self.head_shape(shape) + self.init_shape).reshape(n, t, NUM_BETAS)
        else:
            pooled = feat.mean(dim=1)  # (N, J·D): the whole clip
            shape = F.relu(self.bn2(self.fc2(self.dropout(pooled))))
            betas = (self.head_shape(shape) + self.init_shape)[:, None].expand(n, t, NUM_BETAS)  # (N, T, 10)
        pose_6d = pose_6d.reshape(n, t, NUM_SMPL_JOINTS, 6)
        return SMPLParams(rot6d_to_rotmat(pose_6d), betas, pose_6d)


# ----------------------------------------------------------------------------------------------
# HybrIK fusion head
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HybrIKFusionConfig:
    """MotionBERT's "+HybrIK" refiner (MB_ft_pw3d_refine_hybrik: hidden 512, dropout 0.5, k = 5).

    causal: temporal convolutions see frames ≤ t only (left padding kernel_size − 1), and so does
        the shape branch; set it for causal backbones.
    shape: "hybrik" takes HybrIK's betas unchanged (MotionBERT); "refine" adds a residual predicted
        from the (clip- or running-mean-) pooled representation."""

    num_joints: int = 17
    dim_rep: int = 512
    hidden: int = 512
    dropout: float = 0.5
    kernel_size: int = 5
    causal: bool = False
    shape: Literal["hybrik", "refine"] = "hybrik"

    def __post_init__(self) -> None:
        _check_config("HybrIKFusionConfig", self)
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"HybrIKFusionConfig.kernel_size must be a positive odd number; got {self.kernel_size}")
        if self.shape not in ("hybrik", "refine"):
            raise ValueError(f'HybrIKFusionConfig.shape must be "hybrik" or "refine"; got {self.shape!r}')

    def as_dict(self) -> dict:
        return asdict(self)


class _TemporalConv(nn.Conv1d):
    """Conv1d over time (N, C, T) → (N, C', T): centred zero padding, or causal left padding."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, causal: bool) -> None:
        super().__init__(c_in, c_out, kernel_size, padding=0)
        k = kernel_size - 1
        self.pad = (k, 0) if causal else (k // 2, k // 2)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, self.pad))


class HybrIKFusionHead(nn.Module):
    """(rep (N, T, J, D), HybrIK pose (N, T, 72) axis-angle, HybrIK betas (N, T, 10)) → SMPLParams.

        motion: rep → dropout → fc1 → bn1 → ReLU                          (N, H, T), per frame
        prior:  HybrIK 6D (N, 144, T) → fc2 = Conv1d k → bn2 → ReLU        (N, H, T)
        6D = head_pose(Conv1d k over [motion; prior]) + HybrIK 6D          residual in 6D
    The output convolution starts small (xavier, gain 0.01; zero bias), so an untrained head returns
    (almost) HybrIK's rotations. Key names follow MotionBERT's refiner (fc1, bn1, fc2, bn2, head_pose)."""

    def __init__(self, cfg: HybrIKFusionConfig = HybrIKFusionConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.num_joints * cfg.dim_rep
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc1, self.bn1 = nn.Linear(width, cfg.hidden), nn.BatchNorm1d(cfg.hidden, momentum=0.1)
        self.fc2 = _TemporalConv(POSE_6D, cfg.hidden, cfg.kernel_size, cfg.causal)
        self.bn2 = nn.BatchNorm1d(cfg.hidden, momentum=0.1)
        self.head_pose = _TemporalConv(2 * cfg.hidden, POSE_6D, cfg.kernel_size, cfg.causal)
        nn.init.xavier_uniform_(self.head_pose.weight, gain=0.01)
        nn.init.zeros_(self.head_pose.bias)
        if cfg.shape == "refine":
            self.fc3, self.bn3 = nn.Linear(width, cfg.hidden), nn.BatchNorm1d(cfg.hidden, momentum=0.1)
            self.head_shape = nn.Linear(cfg.hidden, NUM_BETAS)
            nn.init.xavier_uniform_(self.head_shape.weight, gain=0.01)
            nn.init.zeros_(self.head_shape.bias)

    def forward(self, rep: Tensor, hybrik_pose: Tensor, hybrik_shape: Tensor) -> SMPLParams:
        _check_rep("HybrIKFusionHead", rep, self.cfg.num_joints, self.cfg.dim_rep)
        n, t, j, d = rep.shape
        if hybrik_pose.shape != (n, t, NUM_SMPL_JOINTS * 3):
            raise ValueError(f"hybrik_pose must be axis-angle of shape ({n}, {t}, 72); got {tuple(hybrik_pose.shape)}")
        if hybrik_shape.shape != (n, t, NUM_BETAS):
            raise ValueError(f"hybrik_shape must have shape ({n}, {t}, 10); got {tuple(hybrik_shape.shape)}")
        feat = self.dropout(rep.reshape(n, t, j * d))  # (N, T, J·D)
        motion = F.relu(self.bn1(self.fc1(feat.reshape(n * t, j * d))))  # (N·T, H)
        motion = motion.reshape(n, t, -1).transpose(1, 2)  # (N, H, T)
        init_6d = rotvec_to_6d(hybrik_pose.reshape(n, t, NUM_SMPL_JOINTS, 3))  # (N, T, 24, 6)
        init_6d = init_6d.reshape(n, t, POSE_6D).transpose(1, 2)  # (N, 144, T)
        prior = F.relu(self.bn2(self.fc2(init_6d)))  # (N, H, T)
        pose_6d = self.head_pose(torch.cat([motion, prior], dim=1)) + init_6d  # (N, 144, T)
        pose_6d = pose_6d.transpose(1, 2).reshape(n, t, NUM_SMPL_JOINTS, 6)
        betas = hybrik_shape
        if self.cfg.shape == "refine":
            pooled = _running_mean(feat, 1) if self.cfg.causal else feat.mean(1, keepdim=True).expand(n, t, j * d)
            shape = F.relu(self.bn3(self.fc3(pooled.reshape(n * t, j * d))))  # (N·T, H)
            betas = hybrik_shape + self.head_shape(shape).reshape(n, t, NUM_BETAS)
        return SMPLParams(rot6d_to_rotmat(pose_6d), betas, pose_6d)
