"""Task heads and the SMPL wrapper (real smplx on a synthetic SMPL-format model file)."""

import math
import pickle
import sys

import numpy as np
import pytest
import roma
import torch
from scipy.spatial.transform import Rotation
from smpl_fixture import smpl_arrays, write_smpl_files, write_smpl_model

from hummuss_pl.models.heads import (
    ActionHead,
    ActionHeadConfig,
    HybrIKFusionConfig,
    HybrIKFusionHead,
    MeshHead,
    MeshHeadConfig,
    params_to_mesh,
    rot6d_to_rotmat,
    rotmat_to_6d,
    rotvec_to_6d,
)
from hummuss_pl.models.smpl import (
    SMPL,
    SMPLModelFileError,
    flip_smpl_pose,
    load_smpl_model_file,
)

J, D = 17, 8  # small representation width for fast tests


@pytest.fixture(scope="module")
def smpl_files(tmp_path_factory):
    return write_smpl_files(tmp_path_factory.mktemp("smpl"))


@pytest.fixture(scope="module")
def smpl(smpl_files):
    return SMPL(smpl_files["model"].parent, smpl_files["regressor"])


# ---------------------------------------------------------------------------------------------- 6D


def test_6d_convention_hand_checked_and_round_trip():
    rz90 = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert rotmat_to_6d(rz90).tolist() == [0.0, -1.0, 1.0, 0.0, 0.0, 0.0]  # first two columns, row-major
    assert torch.allclose(rot6d_to_rotmat(torch.tensor([0.0, -1.0, 1.0, 0.0, 0.0, 0.0])), rz90)
    rot = roma.random_rotmat(50, dtype=torch.float64)
    torch.testing.assert_close(rot6d_to_rotmat(rotmat_to_6d(rot)), rot, atol=1e-12, rtol=0)
    # non-orthonormal 6D decodes to a rotation
    r = rot6d_to_rotmat(torch.randn(20, 6, dtype=torch.float64))
    assert roma.is_rotation_matrix(r, epsilon=1e-9)
    aa = torch.tensor([0.0, 0.0, math.pi / 2])
    torch.testing.assert_close(rotvec_to_6d(aa), torch.tensor([0.0, -1.0, 1.0, 0.0, 0.0, 0.0]), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------- action


def test_action_head_shapes_gradients_and_person_order():
    torch.manual_seed(0)
    head = ActionHead(ActionHeadConfig(num_classes=60, num_joints=J, dim_rep=D, hidden=32))
    rep = torch.randn(4, 2, 9, J, D, requires_grad=True)
    logits = head(rep)
    assert logits.shape == (4, 60)
    logits.square().sum().backward()
    assert rep.grad is not None and all(p.grad is not None and torch.isfinite(p.grad).all() for p in head.parameters())
    head.eval()
    with torch.no_grad():
        swapped = head(rep.flip(1))
        torch.testing.assert_close(head(rep), swapped, atol=1e-5, rtol=1e-5)
        # but a different person changes the logits (the test can fail)
        other = rep.clone()
        other[:, 1] = torch.randn_like(other[:, 1])
        assert (head(other) - head(rep)).abs().max() > 1e-3
    assert {k.split(".")[0] for k in head.state_dict()} == {"fc1", "bn", "fc2"}


def test_action_head_default_size_matches_motionbert():
    head = ActionHead(ActionHeadConfig())  # 8704 → 2048 → 60: MotionBERT reports 17.95M parameters
    assert sum(p.numel() for p in head.parameters()) == 8704 * 2048 + 2048 + 2 * 2048 + 2048 * 60 + 60
    assert round(sum(p.numel() for p in head.parameters()) / 1e6, 2) == 17.95
    with pytest.raises(ValueError, match="dim_rep"):
        head(torch.zeros(2, 2, 3, 17, 16))
    with pytest.raises(ValueError, match="dropout"):
        ActionHeadConfig(dropout=1.5)


# ---------------------------------------------------------------------------------------------- mesh


def test_mesh_head_shapes_clip_shape_and_size():
    torch.manual_seed(1)
    head = MeshHead(MeshHeadConfig(num_joints=J, dim_rep=D, hidden=32))
    out = head(torch.randn(3, 5, J, D))
    assert out.rotmat.shape == (3, 5, 24, 3, 3) and out.betas.shape == (3, 5, 10) and out.pose_6d.shape == (3, 5, 24, 6)
    assert roma.is_rotation_matrix(out.rotmat.double(), epsilon=1e-5)
    assert torch.equal(out.betas, out.betas[:, :1].expand_as(out.betas))  # one shape per clip
    full = MeshHead(MeshHeadConfig())  # MotionBERT reports 17.99M parameters for its head (hidden 1024)
    assert round(sum(p.numel() for p in full.parameters()) / 1e6, 2) == 17.99


def test_mesh_head_starts_from_mean_params(smpl_files):
    head = MeshHead(MeshHeadConfig(num_joints=J, dim_rep=D, hidden=16, mean_params=str(smpl_files["mean_params"]))).eval()
    for layer in (head.head_pose, head.head_shape):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        out = head(torch.randn(2, 3, J, D))
    want_rot = torch.from_numpy(Rotation.random(24, random_state=2).as_matrix()).float()  # as the fixture wrote them
    torch.testing.assert_close(out.rotmat, want_rot.expand(2, 3, 24, 3, 3), atol=1e-5, rtol=0)
    want_shape = torch.from_numpy(np.load(smpl_files["mean_params"])["shape"]).float()
    torch.testing.assert_close(out.betas, want_shape.expand(2, 3, 10))
    no_file = MeshHead(MeshHeadConfig(num_joints=J, dim_rep=D, hidden=16))
    assert torch.equal(rot6d_to_rotmat(no_file.init_pose.reshape(24, 6)), torch.eye(3).expand(24, 3, 3))
    assert torch.equal(no_file.init_shape, torch.zeros(1, 10))
    with pytest.raises(FileNotFoundError, match="smpl_mean_params"):
        MeshHead(MeshHeadConfig(mean_params="/nonexistent/smpl_mean_params.npz"))


def test_mesh_head_with_smpl_gives_vertices_and_gradients(smpl):
    torch.manual_seed(2)
    head = MeshHead(MeshHeadConfig(num_joints=J, dim_rep=D, hidden=16))
    rep = torch.randn(2, 4, J, D)
    mesh = params_to_mesh(head(rep), smpl)
    assert mesh.vertices.shape == (2, 4, 6890, 3) and mesh.joints.shape == (2, 4, 17, 3)
    mesh.joints.abs().mean().backward()
    assert head.head_pose.weight.grad.abs().sum() > 0 and head.head_shape.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("causal", [True, False])
def test_mesh_head_causal_shape_branch(causal):
    torch.manual_seed(3)
    head = MeshHead(MeshHeadConfig(num_joints=J, dim_rep=D, hidden=16, causal=causal)).eval()
    rep = torch.randn(2, 8, J, D)
    changed = rep.clone()
    changed[:, 5:] = torch.randn(2, 3, J, D)
    with torch.no_grad():
        a, b = head(rep), head(changed)
    past_diff = (a.betas[:, :5] - b.betas[:, :5]).abs().max().item()
    assert (past_diff == 0.0) if causal else (past_diff > 1e-6)
    assert torch.equal(a.rotmat[:, :5], b.rotmat[:, :5])  # the pose branch is per frame in both modes


# ---------------------------------------------------------------------------------------------- HybrIK


def _hybrik_inputs(n=2, t=10, seed=4, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    rep = torch.randn(n, t, J, D, generator=g, dtype=dtype)
    pose = 0.8 * torch.randn(n, t, 72, generator=g, dtype=dtype)
    shape = torch.randn(n, t, 10, generator=g, dtype=dtype)
    return rep, pose, shape


def test_hybrik_zero_residual_reproduces_hybrik_rotations():
    head = HybrIKFusionHead(HybrIKFusionConfig(num_joints=J, dim_rep=D, hidden=16)).double().eval()
    torch.nn.init.zeros_(head.head_pose.weight)
    torch.nn.init.zeros_(head.head_pose.bias)
    rep, pose, shape = _hybrik_inputs(dtype=torch.float64)
    with torch.no_grad():
        out = head(rep, pose, shape)
    want = roma.rotvec_to_rotmat(pose.reshape(2, 10, 24, 3))  # HybrIK's rotations, converted independently
    torch.testing.assert_close(out.rotmat, want, atol=1e-12, rtol=0)
    assert torch.equal(out.betas, shape)  # shape taken from HybrIK


def test_hybrik_head_shapes_gradients_and_small_initial_residual():
    torch.manual_seed(5)
    head = HybrIKFusionHead(HybrIKFusionConfig(num_joints=J, dim_rep=D, hidden=16, shape="refine"))
    rep, pose, shape = _hybrik_inputs()
    rep.requires_grad_(True)
    out = head(rep, pose, shape)
    assert out.rotmat.shape == (2, 10, 24, 3, 3) and out.betas.shape == (2, 10, 10)
    (out.rotmat.sum() + out.betas.square().sum()).backward()
    assert rep.grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.parameters())
    want = roma.rotvec_to_rotmat(pose.reshape(2, 10, 24, 3))
    assert (out.rotmat - want).abs().max() < 0.05  # gain-0.01 init: starts near HybrIK, not at it
    assert (out.rotmat - want).abs().max() > 0


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("shape", ["hybrik", "refine"])
def test_hybrik_head_causality(causal, shape):
    torch.manual_seed(6)
    head = HybrIKFusionHead(HybrIKFusionConfig(num_joints=J, dim_rep=D, hidden=16, causal=causal, shape=shape)).eval()
    rep, pose, sh = _hybrik_inputs(t=12)
    t = 6  # change every input after frame t
    rep2, pose2, sh2 = rep.clone(), pose.clone(), sh.clone()
    rep2[:, t + 1 :] += torch.randn_like(rep2[:, t + 1 :])
    pose2[:, t + 1 :] += torch.randn_like(pose2[:, t + 1 :])
    sh2[:, t + 1 :] += torch.randn_like(sh2[:, t + 1 :])
    with torch.no_grad():
        a, b = head(rep, pose, sh), head(rep2, pose2, sh2)
    rot_diff = (a.rotmat[:, : t + 1] - b.rotmat[:, : t + 1]).abs().max().item()
    beta_diff = (a.betas[:, : t + 1] - b.betas[:, : t + 1]).abs().max().item()
    if causal:
        assert rot_diff == 0.0 and beta_diff == 0.0
    else:  # the centred k=5 convolution looks 2 frames ahead; clip pooling looks at the whole clip
        assert rot_diff > 1e-6
        assert (beta_diff > 1e-6) if shape == "refine" else beta_diff == 0.0


def test_hybrik_input_errors():
    head = HybrIKFusionHead(HybrIKFusionConfig(num_joints=J, dim_rep=D, hidden=16))
    rep, pose, shape = _hybrik_inputs()
    with pytest.raises(ValueError, match="hybrik_pose"):
        head(rep, pose[..., :69], shape)
    with pytest.raises(ValueError, match="kernel_size"):
        HybrIKFusionConfig(kernel_size=4)


# ---------------------------------------------------------------------------------------------- SMPL


def test_smpl_rest_pose_and_global_rotation_against_numpy(smpl, smpl_files):
    arrays = smpl_arrays()  # the fixture's arrays (same seed)
    reg = np.load(smpl_files["regressor"])
    rest = smpl(torch.zeros(3, 72), torch.zeros(3, 10))
    want = 1000 * arrays["v_template"]
    np.testing.assert_allclose(rest.vertices[0].numpy(), want, atol=1e-2)
    np.testing.assert_allclose(rest.joints[1].numpy(), reg @ want, atol=1e-2)
    # a global orientation only rotates the body about SMPL's root joint (no pose blend shapes at joint 0)
    rot = Rotation.from_rotvec([0.3, -1.2, 0.5])
    pose = torch.zeros(1, 72)
    pose[0, :3] = torch.tensor([0.3, -1.2, 0.5])
    root = arrays["J_regressor"] @ arrays["v_template"]
    expected = 1000 * (rot.apply(arrays["v_template"] - root[0]) + root[0])
    np.testing.assert_allclose(smpl(pose, torch.zeros(1, 10)).vertices[0].numpy(), expected, atol=2e-2)
    # shape blend shapes act linearly at rest
    betas = torch.zeros(1, 10)
    betas[0, 2] = 1.5
    shaped = 1000 * (arrays["v_template"] + 1.5 * arrays["shapedirs"][:, :, 2])
    np.testing.assert_allclose(smpl(torch.zeros(1, 72), betas).vertices[0].numpy(), shaped, atol=2e-2)


def test_smpl_rotmat_and_axis_angle_inputs_agree(smpl):
    torch.manual_seed(7)
    aa = 0.5 * torch.randn(2, 3, 72)
    betas = torch.randn(2, 3, 10)
    by_aa = smpl(aa, betas)
    by_mat = smpl(roma.rotvec_to_rotmat(aa.reshape(2, 3, 24, 3)), betas)
    assert by_aa.vertices.shape == (2, 3, 6890, 3) and by_aa.joints.shape == (2, 3, 17, 3)
    torch.testing.assert_close(by_aa.vertices, by_mat.vertices)
    assert len(smpl.state_dict()) == 0  # licensed model data never goes into checkpoints
    with pytest.raises(ValueError, match="betas"):
        smpl(aa, betas[..., :9])


def test_chumpy_flavoured_file_loads_without_chumpy(tmp_path, smpl_files, smpl):
    files = write_smpl_files(tmp_path, chumpy=True)
    assert "chumpy" not in sys.modules  # the writer's fake module is gone
    with open(files["model"], "rb") as fh:
        assert b"chumpy.ch" in fh.read(200_000)  # the pickle really references chumpy classes
    with pytest.raises(ModuleNotFoundError):
        with open(files["model"], "rb") as fh:
            pickle.load(fh, encoding="latin1")  # a plain load needs chumpy
    data = load_smpl_model_file(files["model"])
    assert isinstance(data["shapedirs"], np.ndarray) and data["shapedirs"].shape == (6890, 3, 10)
    assert isinstance(data["v_template"], np.ndarray) and data["J"].shape == (24, 3)
    assert "chumpy" not in sys.modules
    other = SMPL(files["model"], smpl_files["regressor"])
    aa, betas = 0.4 * torch.randn(2, 72), torch.randn(2, 10)
    assert torch.equal(other(aa, betas).vertices, smpl(aa, betas).vertices)


def test_chumpy_expression_entry_gives_clear_error(tmp_path):
    path = write_smpl_model(tmp_path / "expr.pkl", chumpy_expression="posedirs")
    with pytest.raises(SMPLModelFileError, match=r"(?s)'posedirs'.*chumpy\.ch_ops\.add.*clean_ch\.py"):
        load_smpl_model_file(path)


def test_missing_files_give_clear_errors(tmp_path, smpl_files):
    with pytest.raises(SMPLModelFileError, match=r"(?s)does_not_exist\.pkl.*basicModel_neutral_lbs_10_207_0_v1\.0\.0\.pkl.*SMPL_NEUTRAL\.pkl"):
        SMPL(tmp_path / "does_not_exist.pkl", smpl_files["regressor"])
    with pytest.raises(SMPLModelFileError, match="has no SMPL_NEUTRAL.pkl"):
        SMPL(tmp_path, smpl_files["regressor"])
    with pytest.raises(SMPLModelFileError, match="J_regressor_h36m"):
        SMPL(smpl_files["model"], tmp_path / "missing.npy")


def test_flip_smpl_pose():
    torch.manual_seed(8)
    aa = torch.randn(3, 72)
    flipped = flip_smpl_pose(aa)
    assert flipped[0, 6:9].tolist() == pytest.approx([aa[0, 3].item(), -aa[0, 4].item(), -aa[0, 5].item()])  # joint 1 → 2
    assert flipped[0, 0:3].tolist() == pytest.approx([aa[0, 0].item(), -aa[0, 1].item(), -aa[0, 2].item()])  # root stays
    torch.testing.assert_close(flip_smpl_pose(flipped), aa)
    mats = roma.rotvec_to_rotmat(aa.reshape(3, 24, 3))
    torch.testing.assert_close(flip_smpl_pose(mats), roma.rotvec_to_rotmat(flipped.reshape(3, 24, 3)), atol=1e-6, rtol=0)
