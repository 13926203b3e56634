"""Skeleton conventions: the H36M-17 order every model here uses, and exact conversions to it.

H36M-17 (MotionBERT's order):
     0 root (pelvis)   1 r_hip   2 r_knee   3 r_ankle   4 l_hip   5 l_knee   6 l_ankle
     7 belly (spine)   8 neck (thorax)   9 nose   10 head
    11 l_shoulder   12 l_elbow   13 l_wrist   14 r_shoulder   15 r_elbow   16 r_wrist

Conversions take arrays (..., K, C) with C = 2 or 3 (x, y[, z]) or with a trailing confidence
channel when `has_conf=True`. Joints that are midpoints of others get the midpoint of the
coordinates and the *minimum* of the confidences (a midpoint is only as reliable as its least
reliable source).
"""

from __future__ import annotations

import numpy as np
import torch

H36M_JOINTS = (
    "root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "belly", "neck", "nose", "head",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)  # fmt: skip
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M_LEFT = (4, 5, 6, 11, 12, 13)
H36M_RIGHT = (1, 2, 3, 14, 15, 16)
H36M_ROOT = 0
NUM_JOINTS = 17
# Joint permutation that swaps left and right (apply together with negating x).
H36M_FLIP_PERM = tuple(
    H36M_RIGHT[H36M_LEFT.index(j)] if j in H36M_LEFT else H36M_LEFT[H36M_RIGHT.index(j)] if j in H36M_RIGHT else j
    for j in range(NUM_JOINTS)
)
# The 14 joints of the 3DPW mesh protocol (MotionBERT `evaluate_mesh`): root, belly, nose dropped.
H36M_EVAL_14 = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)

COCO_JOINTS = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
POSETRACK_JOINTS = ("nose", "head_bottom", "head_top") + COCO_JOINTS[3:]

# MPI-INF-3DHP's 17 "relevant" joints (root at index 14 there).
MPI_3DHP_JOINTS = (
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
)  # fmt: skip
# For each H36M joint, the 3DHP joint it is (spine → belly, neck → neck, head → nose, head_top → head).
MPI_3DHP_TO_H36M = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
# The 14 joints of the official 3DHP PCK/AUC evaluation (3DHP indices 0..13), in H36M indices.
H36M_3DHP_PCK_14 = tuple(MPI_3DHP_TO_H36M.index(i) for i in range(14))

# Direct copies shared by COCO and PoseTrack (source index for each H36M joint).
_LIMBS = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}


def _convert(x, direct: dict[int, int], midpoints: dict[int, tuple[int, int]], has_conf: bool):
    """Builds H36M-17 from `direct` copies and `midpoints` (pairs of source joints, or of H36M
    joints already built when given as negative numbers -(j+1)). Works on numpy and torch."""
    lib = torch if isinstance(x, torch.Tensor) else np
    shape = tuple(x.shape[:-2]) + (NUM_JOINTS, x.shape[-1])
    out = x.new_zeros(shape) if lib is torch else np.zeros(shape, x.dtype)
    for dst, src in direct.items():
        out[..., dst, :] = x[..., src, :]
    for dst, (a, b) in midpoints.items():
        ja = out[..., -a - 1, :] if a < 0 else x[..., a, :]
        jb = out[..., -b - 1, :] if b < 0 else x[..., b, :]
        if has_conf:
            out[..., dst, :-1] = (ja[..., :-1] + jb[..., :-1]) / 2
            out[..., dst, -1] = lib.minimum(ja[..., -1], jb[..., -1])
        else:
            out[..., dst, :] = (ja + jb) / 2
    return out


def coco_to_h36m(x, has_conf: bool = False):
    """COCO-17 → H36M-17: root = mid-hip, neck = mid-shoulder, belly = mid(root, neck),
    head = mid-eyes, nose = nose. x: (..., 17, C)."""
    _check_joints(x, len(COCO_JOINTS), "COCO-17")
    mids = {0: (11, 12), 8: (5, 6), 7: (-1, -9), 10: (1, 2)}
    return _convert(x, {**_LIMBS, 9: 0}, mids, has_conf)


def posetrack_to_h36m(x, has_conf: bool = True):
    """PoseTrack18 → H36M-17: root = mid-hip, neck = head_bottom, head = head_top, belly =
    mid(root, neck), nose = nose. x: (..., 17, C)."""
    _check_joints(x, len(POSETRACK_JOINTS), "PoseTrack18")
    return _convert(x, {**_LIMBS, 8: 1, 9: 0, 10: 2}, {0: (11, 12), 7: (-1, -9)}, has_conf)


def mpi_3dhp_to_h36m(x):
    """MPI-INF-3DHP's 17-joint order → H36M-17 (a permutation). x: (..., 17, C)."""
    _check_joints(x, len(MPI_3DHP_JOINTS), "MPI-INF-3DHP-17")
    return x[..., list(MPI_3DHP_TO_H36M), :]


def h36m_to_mpi_3dhp(x):
    """Inverse of `mpi_3dhp_to_h36m`."""
    _check_joints(x, NUM_JOINTS, "H36M-17")
    inverse = [MPI_3DHP_TO_H36M.index(i) for i in range(NUM_JOINTS)]
    return x[..., inverse, :]


def flip_h36m(x):
    """Mirror a pose sequence (..., 17, C): negate x (channel 0) and swap left/right joints."""
    _check_joints(x, NUM_JOINTS, "H36M-17")
    out = x[..., list(H36M_FLIP_PERM), :]
    out = out.clone() if isinstance(out, torch.Tensor) else out.copy()
    out[..., 0] = -out[..., 0]
    return out


def _check_joints(x, expected: int, name: str) -> None:
    if x.ndim < 2 or x.shape[-2] != expected:
        raise ValueError(f"expected {name} keypoints of shape (..., {expected}, C); got {tuple(x.shape)}")
