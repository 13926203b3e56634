"""Losses against hand-computed values: paper and MotionBERT L_3D / L_2D, the mesh recipe."""

import math

import pytest
import torch

from hummuss_pl.losses import (
    MeshLossConfig,
    PoseLossConfig,
    loss_2d,
    loss_3d,
    mesh_loss,
    root_relative,
    velocity,
)

# One clip, two frames, one joint. Target (2, 0, 0) in both frames; prediction (1, 0, 0) then (1, 2, 0).
TARGET = torch.tensor([[[[2.0, 0, 0]], [[2.0, 0, 0]]]])  # (B=1, T=2, J=1, 3)
PRED = torch.tensor([[[[1.0, 0, 0]], [[1.0, 2, 0]]]])


def test_paper_l3d_hand_computed():
    # squared position errors 1 and 5 → mean 3; velocity error (0, 2, 0) → squared 4 (one term)
    out = loss_3d(PRED, TARGET, PoseLossConfig(kind="paper", velocity_weight=20.0))
    assert out["position"].item() == pytest.approx(3.0)
    assert out["velocity"].item() == pytest.approx(4.0)
    assert out["total"].item() == pytest.approx(3.0 + 20 * 4.0)
    assert loss_3d(PRED, TARGET, PoseLossConfig(velocity_weight=0.5))["total"].item() == pytest.approx(5.0)


def test_paper_l3d_is_a_mean_not_a_sum():
    # repeating the clip along batch and joints leaves the value unchanged
    big_p, big_t = PRED.repeat(3, 1, 4, 1), TARGET.repeat(3, 1, 4, 1)
    assert loss_3d(big_p, big_t)["total"].item() == pytest.approx(loss_3d(PRED, TARGET)["total"].item())


def test_motionbert_l3d_hand_computed():
    out = loss_3d(PRED, TARGET, PoseLossConfig(kind="motionbert"))
    # MPJPE: 1 and √5. N-MPJPE: frame 0 scale 2 → exact; frame 1 scale <p,t>/<p,p> = 2/5 →
    # (0.4, 0.8, 0) vs (2, 0, 0) → √3.2. Velocity MPJPE: |(0, 2, 0)| = 2.
    assert out["position"].item() == pytest.approx((1 + math.sqrt(5)) / 2)
    assert out["scale"].item() == pytest.approx(math.sqrt(3.2) / 2)
    assert out["velocity"].item() == pytest.approx(2.0)
    want = (1 + math.sqrt(5)) / 2 + 0.5 * math.sqrt(3.2) / 2 + 20 * 2.0
    assert out["total"].item() == pytest.approx(want)


def test_single_frame_has_zero_velocity_term():
    out = loss_3d(PRED[:, :1], TARGET[:, :1])
    assert out["velocity"].item() == 0.0 and out["total"].item() == pytest.approx(1.0)


def test_l2d_hand_computed_both_kinds():
    pred = torch.tensor([[[[1.0, 2, 5], [0, 0, -3]]]])  # (1, 1, 2, 3); z must be ignored
    target = torch.tensor([[[[0.0, 0], [3, 4]]]])
    conf = torch.tensor([[[0.5, 1.0]]])
    # paper: 0.5·|(1, 2)|² + 1·|(−3, −4)|² = 2.5 + 25 over 2 terms
    assert loss_2d(pred, target, conf)["total"].item() == pytest.approx(13.75)
    assert loss_2d(pred, target, conf[..., None])["total"].item() == pytest.approx(13.75)
    # MotionBERT: |(1, 2)·0.5| + |(−3, −4)·1| over 2 terms
    mb = loss_2d(pred, target, conf, PoseLossConfig(kind="motionbert"))["total"].item()
    assert mb == pytest.approx((0.5 * math.sqrt(5) + 5) / 2)
    pred_z = pred.clone()
    pred_z[..., 2] = 100.0
    assert loss_2d(pred_z, target, conf)["total"].item() == pytest.approx(13.75)
    assert loss_2d(pred, target, torch.zeros_like(conf))["total"].item() == 0.0


def test_pose_loss_gradients():
    cfg = PoseLossConfig(kind="motionbert")
    pred = TARGET.clone().requires_grad_(True)  # zero error: norms at 0 must not give NaN gradients
    (loss_3d(pred, TARGET, cfg)["total"] + loss_2d(pred, TARGET[..., :2], torch.ones(1, 2, 1), cfg)["total"]).backward()
    assert torch.isfinite(pred.grad).all()
    pred = PRED.clone().requires_grad_(True)
    loss_3d(pred, TARGET)["total"].backward()
    # d/dx̂ of mean squared position (2 terms) + 20·velocity (1 term): frame 1, y: 2·2/2 + 20·2·2 = 82
    assert pred.grad[0, 1, 0, 1].item() == pytest.approx(82.0)


def test_root_relative_and_velocity():
    x = torch.tensor([[[1.0, 2, 3], [4, 6, 8]], [[0.0, 0, 0], [1, 1, 1]]])  # (T=2, J=2, 3)
    assert root_relative(x).tolist() == [[[0, 0, 0], [3, 4, 5]], [[0, 0, 0], [1, 1, 1]]]
    assert root_relative(x, root=1)[0, 0].tolist() == [-3, -4, -5]
    assert velocity(x).tolist() == [[[-1, -2, -3], [-3, -5, -7]]]


def _rot_z90() -> torch.Tensor:
    return torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])


def _mesh_case():
    """N=1, T=2, two joints (root 0). Returns the mesh_loss arguments."""
    pred_joints = torch.tensor([[[[0.0, 0, 0], [1, 0, 0]], [[5.0, 5, 5], [5, 5, 6]]]])
    target_joints = torch.tensor([[[[0.0, 0, 0], [0, 1, 0]], [[1.0, 1, 1], [1, 1, 2]]]])
    pred_rot = torch.eye(3).repeat(1, 2, 24, 1, 1)  # (1, 2, 24, 3, 3)
    pred_rot[0, 1, 5] = _rot_z90()  # frame 1, joint 5: rotated in the prediction
    target_aa = torch.zeros(1, 2, 72)
    target_aa[0, 0, 3 * 7 + 2] = math.pi / 2  # frame 0, joint 7: rotated in the target
    pred_betas = torch.zeros(1, 2, 10)
    pred_betas[..., 0], pred_betas[..., 1] = 3.0, 4.0
    target_betas = torch.full((1, 2, 10), 0.5)
    return pred_joints, target_joints, pred_rot, target_aa, pred_betas, target_betas


def test_mesh_loss_hand_computed_motionbert_weights():
    out = mesh_loss(*_mesh_case(), cfg=MeshLossConfig(scale_weight=2.0))
    # root-relative joints: pred (0,0,0),(1,0,0) | (0,0,0),(0,0,1); target (0,0,0),(0,1,0) | (0,0,0),(0,0,1)
    assert out["joints"].item() == pytest.approx(math.sqrt(2) / 4)
    # joint-1 velocities (−1, 0, 1) vs (0, −1, 1): |(−1, 1, 0)| = √2, joint 0: 0
    assert out["velocity"].item() == pytest.approx(math.sqrt(2) / 2)
    # N-MPJPE: frame 0 <p, t> = 0 → scale 0 → error 1 at joint 1; frame 1 exact
    assert out["scale"].item() == pytest.approx(1 / 4)
    # two rotations differ from identity by a 90° turn about z: 4 entries of magnitude 1 each
    assert out["pose"].item() == pytest.approx(8 / (2 * 24 * 9))
    # |3 − 0.5| + |4 − 0.5| + 8·0.5 = 10 per frame, over 10 betas
    assert out["shape"].item() == pytest.approx(1.0)
    # ||θ||: frame 0 |(3, 4)| = 5; frame 1 also π/2 from the rotated joint
    assert out["norm"].item() == pytest.approx((5 + math.sqrt(25 + math.pi**2 / 4)) / 2, rel=1e-6)
    want = (0.5 * math.sqrt(2) / 4 + 2 * 0.25 + 10 * math.sqrt(2) / 2 + 1000 * 8 / 432 + 1.0
            + 20 * (5 + math.sqrt(25 + math.pi**2 / 4)) / 2)
    assert out["total"].item() == pytest.approx(want, rel=1e-6)
    # default weights: N-MPJPE not counted
    assert mesh_loss(*_mesh_case())["total"].item() == pytest.approx(want - 0.5, rel=1e-6)


def test_mesh_loss_mse_target_rotmats_and_vertices():
    pj, tj, pr, taa, pb, tb = _mesh_case()
    mse = mesh_loss(pj, tj, pr, taa, pb, tb, MeshLossConfig(regression="mse"))
    assert mse["pose"].item() == pytest.approx(8 / 432)  # the differing entries are ±1
    assert mse["shape"].item() == pytest.approx((6.25 + 12.25 + 8 * 0.25) / 10)
    target_rot = torch.eye(3).repeat(1, 2, 24, 1, 1)
    target_rot[0, 0, 7] = _rot_z90()
    same = mesh_loss(pj, tj, pr, target_rot, pb, tb)
    assert same["pose"].item() == pytest.approx(8 / 432)
    verts = torch.randn(1, 2, 6, 3)
    pv = pj[:, :, :1] + verts  # each mesh relative to its root joint: identical up to (3, 4, 0)
    tv = tj[:, :, :1] + verts + torch.tensor([3.0, 4.0, 0.0])
    out = mesh_loss(pj, tj, pr, taa, pb, tb, MeshLossConfig(vertex_weight=2.0), pv, tv)
    assert out["vertex"].item() == pytest.approx(5.0)
    assert out["total"].item() == pytest.approx(mesh_loss(pj, tj, pr, taa, pb, tb)["total"].item() + 10.0, rel=1e-6)


def test_mesh_loss_gradients_finite_at_identity():
    pj, tj, _, _, pb, tb = _mesh_case()
    rot = torch.eye(3).repeat(1, 2, 24, 1, 1).requires_grad_(True)
    joints = tj.clone().requires_grad_(True)  # zero joint error
    mesh_loss(joints, tj, rot, torch.zeros(1, 2, 72), pb, tb)["total"].backward()
    assert torch.isfinite(rot.grad).all() and torch.isfinite(joints.grad).all()


def test_config_and_shape_errors():
    with pytest.raises(ValueError, match="kind"):
        PoseLossConfig(kind="l1")
    with pytest.raises(ValueError, match="velocity_weight"):
        PoseLossConfig(velocity_weight=-1)
    with pytest.raises(ValueError, match="regression"):
        MeshLossConfig(regression="huber")
    with pytest.raises(ValueError, match="same shape"):
        loss_3d(PRED, TARGET[:, :1])
    with pytest.raises(ValueError, match="confidence"):
        loss_2d(PRED, TARGET[..., :2], torch.ones(1, 2, 3))
    pj, tj, pr, taa, pb, tb = _mesh_case()
    with pytest.raises(ValueError, match="target_pose"):
        mesh_loss(pj, tj, pr, taa[..., :69], pb, tb)
    with pytest.raises(ValueError, match="pred_vertices"):
        mesh_loss(pj, tj, pr, taa, pb, tb, MeshLossConfig(vertex_weight=1.0))
