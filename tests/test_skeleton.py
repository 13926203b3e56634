"""Skeleton conversions and flips on hand-made poses.

Every input joint has its own x, y and confidence, so a joint taken from the wrong source (or a
midpoint of the wrong pair) shows up as a wrong number. The expected H36M-17 poses are written out
by hand from the documented definitions (issue 4 §1; data/skeleton.py): COCO-17 root = mid-hip,
neck = mid-shoulder, belly = mid(root, neck), head = mid-eyes, nose = nose; PoseTrack18 the same
but neck = head_bottom, head = head_top; a midpoint's confidence is the minimum of the joints it
combines. Each conversion is checked on numpy and on torch, one pose and a batch of two.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hummuss_pl.skeleton import (
    H36M_FLIP_PERM,
    H36M_JOINTS,
    H36M_LEFT,
    H36M_RIGHT,
    coco_to_h36m,
    flip_h36m,
    h36m_to_mpi_3dhp,
    mpi_3dhp_to_h36m,
    posetrack_to_h36m,
)

# ------------------------------------------------------------------------------------ inputs
# Source joint k (COCO-17 / PoseTrack18 order) sits at x = k + 1, y = (k + 1)², with confidence CONF[k].
X = np.arange(1.0, 18.0)
Y = X**2
#        nose  l_eye r_eye l_ear r_ear l_sh  r_sh  l_el  r_el  l_wr  r_wr  l_hip r_hip l_kn  r_kn  l_an  r_an
CONF = [0.95, 0.21, 0.62, 0.10, 0.12, 0.83, 0.57, 0.77, 0.66, 0.35, 0.48, 0.29, 0.31, 0.88, 0.52, 0.30, 0.44]
# PoseTrack18 reads the same rows as nose, head_bottom, head_top, l_ear, r_ear, l_sh, ... (COCO from 3 on).
SOURCE = np.stack([X, Y, np.array(CONF)], -1)  # (17, 3)

# ------------------------------------------------------------------------------ expected H36M
# Rows: H36M-17 joints 0 root ... 16 r_wrist; columns x, y, confidence. Worked out by hand:
#   COCO root  = mid(l_hip (12, 144), r_hip (13, 169)) = (12.5, 156.5), conf min(0.29, 0.31) = 0.29
#   COCO neck  = mid(l_sh (6, 36), r_sh (7, 49)) = (6.5, 42.5), conf min(0.83, 0.57) = 0.57
#   COCO belly = mid(root, neck) = (9.5, 99.5), conf min(0.29, 0.57) = 0.29
#   COCO head  = mid(l_eye (2, 4), r_eye (3, 9)) = (2.5, 6.5), conf min(0.21, 0.62) = 0.21
COCO_AS_H36M = np.array([
    [12.5, 156.5, 0.29],  # 0 root
    [13.0, 169.0, 0.31],  # 1 r_hip      = COCO 12
    [15.0, 225.0, 0.52],  # 2 r_knee     = COCO 14
    [17.0, 289.0, 0.44],  # 3 r_ankle    = COCO 16
    [12.0, 144.0, 0.29],  # 4 l_hip      = COCO 11
    [14.0, 196.0, 0.88],  # 5 l_knee     = COCO 13
    [16.0, 256.0, 0.30],  # 6 l_ankle    = COCO 15
    [9.5, 99.5, 0.29],    # 7 belly
    [6.5, 42.5, 0.57],    # 8 neck
    [1.0, 1.0, 0.95],     # 9 nose       = COCO 0
    [2.5, 6.5, 0.21],     # 10 head
    [6.0, 36.0, 0.83],    # 11 l_shoulder = COCO 5
    [8.0, 64.0, 0.77],    # 12 l_elbow    = COCO 7
    [10.0, 100.0, 0.35],  # 13 l_wrist    = COCO 9
    [7.0, 49.0, 0.57],    # 14 r_shoulder = COCO 6
    [9.0, 81.0, 0.66],    # 15 r_elbow    = COCO 8
    [11.0, 121.0, 0.48],  # 16 r_wrist    = COCO 10
])  # fmt: skip
#   PoseTrack neck  = head_bottom (2, 4), conf 0.21;  head = head_top (3, 9), conf 0.62
#   PoseTrack belly = mid(root (12.5, 156.5), neck (2, 4)) = (7.25, 80.25), conf min(0.29, 0.21) = 0.21
POSETRACK_AS_H36M = COCO_AS_H36M.copy()
POSETRACK_AS_H36M[7] = [7.25, 80.25, 0.21]
POSETRACK_AS_H36M[8] = [2.0, 4.0, 0.21]
POSETRACK_AS_H36M[10] = [3.0, 9.0, 0.62]


def as_lib(x: np.ndarray, lib: str):
    return torch.from_numpy(x.copy()) if lib == "torch" else x.copy()


def to_numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


LIBS = pytest.mark.parametrize("lib", ["numpy", "torch"])


@LIBS
def test_coco_to_h36m_with_confidence(lib):
    out = coco_to_h36m(as_lib(SOURCE, lib), has_conf=True)
    assert type(out) is type(as_lib(SOURCE, lib)) and out.shape == (17, 3)
    np.testing.assert_array_equal(to_numpy(out), COCO_AS_H36M)


@LIBS
def test_coco_to_h36m_coordinates_only(lib):
    """Without has_conf every channel is a coordinate: midpoints average all of them (2 or 3)."""
    np.testing.assert_array_equal(to_numpy(coco_to_h36m(as_lib(SOURCE[:, :2], lib))), COCO_AS_H36M[:, :2])
    z = np.arange(100.0, 117.0)  # COCO joint k at depth 100 + k
    xyz = coco_to_h36m(as_lib(np.stack([X, Y, z], -1), lib))
    # depth by hand: root mid(111, 112), belly mid(111.5, mid(105, 106)), neck mid(105, 106), head mid(101, 102)
    expected_z = [111.5, 112, 114, 116, 111, 113, 115, 108.5, 105.5, 100, 101.5, 105, 107, 109, 106, 108, 110]
    np.testing.assert_array_equal(to_numpy(xyz)[:, 2], expected_z)
    np.testing.assert_array_equal(to_numpy(xyz)[:, :2], COCO_AS_H36M[:, :2])


@LIBS
def test_posetrack_to_h36m_takes_the_minimum_confidence(lib):
    out = posetrack_to_h36m(as_lib(SOURCE, lib))  # has_conf defaults to True for PoseTrack
    np.testing.assert_array_equal(to_numpy(out), POSETRACK_AS_H36M)


@LIBS
def test_conversions_keep_leading_dimensions(lib):
    """A batch of two frames: the second is the first with x, y doubled and confidences halved."""
    second = SOURCE * np.array([2.0, 2.0, 0.5])
    batch = np.stack([SOURCE, second])[None]  # (1, 2, 17, 3)
    for convert, expected in ((coco_to_h36m, COCO_AS_H36M), (posetrack_to_h36m, POSETRACK_AS_H36M)):
        out = to_numpy(convert(as_lib(batch, lib), has_conf=True))
        assert out.shape == (1, 2, 17, 3)
        np.testing.assert_array_equal(out[0, 0], expected)
        np.testing.assert_array_equal(out[0, 1], expected * np.array([2.0, 2.0, 0.5]))


# --------------------------------------------------------------------------------- MPI-INF-3DHP
# 3DHP joint m at (100 + m, 200 + m, 300 + m). For each H36M joint, the 3DHP joint of the same
# body part (3DHP order: 0 head_top 1 neck 2 r_sh 3 r_el 4 r_wr 5 l_sh 6 l_el 7 l_wr 8 r_hip
# 9 r_knee 10 r_ankle 11 l_hip 12 l_knee 13 l_ankle 14 pelvis 15 spine 16 head):
#   root←pelvis 14, r_hip←8, r_knee←9, r_ankle←10, l_hip←11, l_knee←12, l_ankle←13, belly←spine 15,
#   neck←1, nose←head 16, head←head_top 0, l_sh←5, l_el←6, l_wr←7, r_sh←2, r_el←3, r_wr←4.
MPI_POSE = np.arange(17.0)[:, None] + np.array([100.0, 200.0, 300.0])
H36M_FROM_MPI_X = [114, 108, 109, 110, 111, 112, 113, 115, 101, 116, 100, 105, 106, 107, 102, 103, 104]


@LIBS
def test_mpi_3dhp_to_h36m_and_back(lib):
    out = to_numpy(mpi_3dhp_to_h36m(as_lib(MPI_POSE, lib)))
    np.testing.assert_array_equal(out, np.array(H36M_FROM_MPI_X, float)[:, None] + np.array([0.0, 100.0, 200.0]))
    # inverse: H36M joint h at 500 + h; 3DHP joint m takes the H36M joint of its body part
    h36m = np.arange(17.0)[:, None] + np.array([500.0, 600.0, 700.0])
    mpi_from_h36m_x = [510, 508, 514, 515, 516, 511, 512, 513, 501, 502, 503, 504, 505, 506, 500, 507, 509]
    back = to_numpy(h36m_to_mpi_3dhp(as_lib(h36m, lib)))
    np.testing.assert_array_equal(back, np.array(mpi_from_h36m_x, float)[:, None] + np.array([0.0, 100.0, 200.0]))
    np.testing.assert_array_equal(to_numpy(h36m_to_mpi_3dhp(mpi_3dhp_to_h36m(as_lib(MPI_POSE, lib)))), MPI_POSE)
    np.testing.assert_array_equal(to_numpy(mpi_3dhp_to_h36m(h36m_to_mpi_3dhp(as_lib(h36m, lib)))), h36m)


# ------------------------------------------------------------------------------------- flips
# H36M joint j at (j + 1, 10 (j + 1), −(j + 1)); a flip swaps r_hip↔l_hip (1↔4), r_knee↔l_knee
# (2↔5), r_ankle↔l_ankle (3↔6), l_shoulder↔r_shoulder (11↔14), l_elbow↔r_elbow (12↔15),
# l_wrist↔r_wrist (13↔16), keeps root, belly, neck, nose, head and negates x.
H36M_POSE = np.arange(1.0, 18.0)[:, None] * np.array([1.0, 10.0, -1.0])
SWAPPED = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


def test_flip_tables_pair_left_with_right():
    assert H36M_FLIP_PERM == tuple(SWAPPED)
    assert all(H36M_JOINTS[j].startswith("l_") for j in H36M_LEFT)
    assert all(H36M_JOINTS[j].startswith("r_") for j in H36M_RIGHT)
    assert [H36M_JOINTS[j][2:] for j in H36M_LEFT] == [H36M_JOINTS[j][2:] for j in H36M_RIGHT]


@LIBS
def test_flip_swaps_sides_negates_x_and_is_an_involution(lib):
    x = as_lib(H36M_POSE, lib)
    flipped = to_numpy(flip_h36m(x))
    expected = np.array([[-(k + 1), 10.0 * (k + 1), -(k + 1.0)] for k in SWAPPED])
    np.testing.assert_array_equal(flipped, expected)
    assert flipped[1, 0] == -5.0 and flipped[4, 0] == -2.0  # r_hip now holds the old l_hip, mirrored
    np.testing.assert_array_equal(to_numpy(flip_h36m(flip_h36m(x))), H36M_POSE)
    np.testing.assert_array_equal(to_numpy(x), H36M_POSE)  # the input is not modified
    batch = np.stack([H36M_POSE, 2 * H36M_POSE])  # (2, 17, 3)
    np.testing.assert_array_equal(to_numpy(flip_h36m(as_lib(batch, lib)))[1], 2 * expected)


def test_wrong_joint_counts_raise():
    with pytest.raises(ValueError, match=r"COCO-17 keypoints of shape \(\.\.\., 17, C\)"):
        coco_to_h36m(np.zeros((16, 2)))
    with pytest.raises(ValueError, match="H36M-17"):
        flip_h36m(torch.zeros(3, 18, 3))
