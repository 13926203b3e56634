"""Mesh recovery: MeshDataModule (fixture pickles, synthetic SMPL data), MeshTask (metrics, flip test,
causal HybrIK fusion, checkpoints) and the mesh_3dpw configs through the CLI.

SMPL runs for real (smplx) on the synthetic SMPL-format model of smpl_fixture.py; the mesh pickles
come from fixtures.write_mesh (joint j of every frame at (c + j, c) pixels, c = res / 2; smpl_pose of
frame k = k / 1000 everywhere; HybrIK pose = 2 × GT).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import roma
import torch
from fixtures import write_mesh
from helpers import read_predictions, run_cli
from smpl_fixture import write_smpl_files

from hummuss_pl.batch import (
    HYBRIK_POSE,
    HYBRIK_SHAPE,
    INPUT,
    SMPL_POSE,
    SMPL_SHAPE,
    SOURCE,
)
from hummuss_pl.data.modules.mesh import MeshDataModule
from hummuss_pl.data.synthetic.mesh import SyntheticMeshConfig
from hummuss_pl.models.heads import HybrIKFusionConfig, SMPLParams
from hummuss_pl.models.smpl import SMPL, SMPLModelFileError, SMPLOutput, flip_smpl_pose
from hummuss_pl.skeleton import flip_h36m
from hummuss_pl.tasks.mesh import MeshTask

EVAL_14 = [1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]  # MotionBERT's 3DPW joints (root, belly, nose dropped)
BACKBONES = ["hummuss-tiny-causal", "hummuss-tiny-bidirectional", "motionbert-tiny-causal", "motionbert-tiny"]
SMALL = SyntheticMeshConfig(train_videos=4, test_videos=2, frames=24, train_images=8, test_images=0)
SMALL_JSON = '{"train_videos": 4, "test_videos": 2, "frames": 24, "train_images": 8, "test_images": 0}'


@pytest.fixture(scope="module")
def smpl(smpl_dir):
    return SMPL(smpl_dir / "SMPL_NEUTRAL.pkl", smpl_dir / "J_regressor_h36m_correct.npy")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """MotionBERT's data/ layout: mesh pickles (plain and +HybrIK) and the SMPL files in mesh/."""
    root = tmp_path_factory.mktemp("data")
    mesh = root / "mesh"
    write_mesh(mesh / "mesh_det_pw3d.pkl", "pw3d", videos=(40, 10))
    write_mesh(mesh / "mesh_det_coco.pkl", "coco", videos=(3, 2))
    write_mesh(mesh / "mesh_det_h36m.pkl", "h36m", videos=(24,))
    write_mesh(mesh / "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl", "pw3d", hybrik=True, videos=(40, 10))
    write_mesh(mesh / "mesh_det_coco_w_hybrik_pred.pkl", "coco", hybrik=True, videos=(3, 2))
    write_smpl_files(mesh)
    return root


def fake_trainer(epoch: int = 0, reload: int = 1) -> SimpleNamespace:
    return SimpleNamespace(current_epoch=epoch, world_size=1, global_rank=0, reload_dataloaders_every_n_epochs=reload, training=False)


def batches(loader) -> list[dict]:
    return list(iter(loader))


# ============================================================================================ data


def test_datamodule_reads_fixture_pickles_with_per_source_batches(data_root):
    dm = MeshDataModule(data_root=str(data_root), batch_size=2, image_batch_size=3, eval_batch_size=2, num_workers=0)
    dm.setup("fit")
    # 3DPW train: video of 40 frames → clips at 0, 8, 16, 24; video of 10 → one resampled clip. COCO: 5 images.
    assert (len(dm.train_sets["pw3d"]), len(dm.train_sets["coco"])) == (5, 5)
    # 3DPW test (stride 16): 40 frames → clips at 0 and 16; 10 frames → one resampled clip
    assert len(dm.test_set) == 3
    assert dm.smpl_dir == data_root / "mesh"
    train = batches(dm.train_dataloader())
    sizes = sorted((b[INPUT].shape[0], b[INPUT].shape[1]) for b in train)
    assert sizes == [(2, 16), (2, 16), (3, 1)]  # one source per batch, per-source batch sizes, last partial dropped
    for b in train:
        n, t = b[INPUT].shape[:2]
        assert b[SMPL_POSE].shape == (n, t, 72) and b[SMPL_SHAPE].shape == (n, t, 10)
        assert HYBRIK_POSE not in b
        # joint j at (res/2 + j, res/2) px → x = j / (res/2), y = 0; confidence 1.5 clipped to 1
        half = 960.0 if t == 16 else 320.0
        expect = torch.stack([torch.arange(17) / half, torch.zeros(17), torch.ones(17)], dim=-1)
        torch.testing.assert_close(b[INPUT], expect.expand(n, t, 17, 3))
        # smpl_pose[k] = k / 1000 and smpl_shape[k] = -k / 1000 for the clip's frames
        torch.testing.assert_close(b[SMPL_SHAPE], -b[SMPL_POSE][..., :10])
    val = batches(dm.val_dataloader())
    assert [b[INPUT].shape[0] for b in val] == [2, 1]  # nothing dropped in evaluation
    first = min((b[SMPL_POSE][i, 0, 0].item(), b[SMPL_POSE][i]) for b in val for i in range(len(b[INPUT])))[1]
    torch.testing.assert_close(first[:, 0], torch.arange(16.0) / 1000)  # test clip at frame 0: frames 0..15


def test_datamodule_hybrik_and_h36m_warmup(data_root):
    dm = MeshDataModule(data_root=str(data_root), hybrik=True, use_h36m=True, h36m_epochs=1, batch_size=2,
                        image_batch_size=2, num_workers=0)  # fmt: skip
    with pytest.raises(Exception, match="mesh_det_h36m_w_hybrik_pred.pkl"):  # no +HybrIK H36M file in the fixture
        dm.setup("fit")
    dm = MeshDataModule(data_root=str(data_root), hybrik=True, batch_size=2, image_batch_size=2, num_workers=0)
    dm.setup("fit")
    for b in batches(dm.train_dataloader()):
        torch.testing.assert_close(b[HYBRIK_POSE], 2 * b[SMPL_POSE])
        torch.testing.assert_close(b[HYBRIK_SHAPE], 2 * b[SMPL_SHAPE])

    dm = MeshDataModule(data_root=str(data_root), use_h36m=True, h36m_epochs=1, batch_size=2, image_batch_size=2, num_workers=0)
    dm.trainer = fake_trainer(reload=0)
    with pytest.raises(RuntimeError, match="reload_dataloaders_every_n_epochs"):
        dm.setup("fit")
    dm.trainer = fake_trainer(epoch=0)
    dm.setup("fit")
    assert len(dm.train_sets["h36m"]) == 2  # one video of 24 frames → clips at 0 and 8
    epoch0 = batches(dm.train_dataloader())
    dm.trainer = fake_trainer(epoch=1)
    epoch1 = batches(dm.train_dataloader())
    sources = lambda bs: sorted({s for b in bs for s in b[SOURCE]})  # noqa: E731
    assert sources(epoch0) == ["coco", "h36m_mesh", "pw3d"] and sources(epoch1) == ["coco", "pw3d"]


def test_datamodule_argument_errors(data_root, smpl_dir, tmp_path):
    with pytest.raises(ValueError, match="data_root"):
        MeshDataModule()
    with pytest.raises(ValueError, match="not both"):
        MeshDataModule(data_root=str(data_root), synthetic=True, smpl_dir=str(smpl_dir))
    with pytest.raises(ValueError, match="smpl_dir"):
        MeshDataModule(synthetic=True)
    with pytest.raises(ValueError, match="image_batch_size must be >= 2"):
        MeshDataModule(data_root=str(data_root), image_batch_size=1)
    with pytest.raises(ValueError, match="use_h36m"):
        MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), use_h36m=True)
    dm = MeshDataModule(data_root=str(data_root), batch_size=8, image_batch_size=2, num_workers=0)
    with pytest.raises(ValueError, match="pw3d has 5 training items, fewer than one batch of 8; lower batch_size"):
        dm.setup("fit")
    dm = MeshDataModule(synthetic=True, smpl_dir=str(tmp_path), synthetic_mesh=SMALL, num_workers=0)
    with pytest.raises(SMPLModelFileError, match=r"MeshDataModule.smpl_dir=.*SMPL_NEUTRAL.pkl"):
        dm.setup("fit")


def test_flip_batch_mirrors_input_and_smpl_poses_together():
    n = 64
    pose = torch.randn(n, 2, 72)
    x = torch.randn(n, 2, 17, 3)
    batch = {INPUT: x, SMPL_POSE: pose, HYBRIK_POSE: pose + 1, SMPL_SHAPE: torch.randn(n, 2, 10)}
    dm = MeshDataModule(synthetic=True, smpl_dir="unused")
    out = dm.flip_batch(batch, torch.Generator().manual_seed(0))
    flipped = ~torch.isclose(out[INPUT], x).flatten(1).all(dim=1)
    assert 0 < int(flipped.sum()) < n
    # a mirrored input: x negated and H36M left hip (4) ↔ right hip (1)
    torch.testing.assert_close(out[INPUT][flipped][..., 4, 0], -x[flipped][..., 1, 0])
    torch.testing.assert_close(out[INPUT][flipped][..., 4, 1:], x[flipped][..., 1, 1:])
    for key, original in ((SMPL_POSE, pose), (HYBRIK_POSE, pose + 1)):
        got = out[key].reshape(n, 2, 24, 3)
        want = original.reshape(n, 2, 24, 3)
        torch.testing.assert_close(got[~flipped], want[~flipped])
        # SMPL left hip (1) takes the right hip's (2) rotation with y, z negated; the root stays, y, z negated
        torch.testing.assert_close(got[flipped][..., 1, :], want[flipped][..., 2, :] * torch.tensor([1.0, -1, -1]))
        torch.testing.assert_close(got[flipped][..., 0, :], want[flipped][..., 0, :] * torch.tensor([1.0, -1, -1]))
    assert out[SMPL_SHAPE] is batch[SMPL_SHAPE]


def test_synthetic_data_is_the_projection_of_the_smpl_joints(smpl_dir, smpl):
    dm = MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), hybrik=True, synthetic_mesh=SMALL,
                        batch_size=2, image_batch_size=4, num_workers=0)  # fmt: skip
    dm.setup("fit")
    # 4 videos of 24 frames → clips at 0 and 8 (stride 8); test: 2 videos → one clip each (stride 16)
    assert (len(dm.train_sets["pw3d"]), len(dm.train_sets["coco"]), len(dm.test_set)) == (8, 8, 2)
    for dataset, frames in ((dm.train_sets["pw3d"], 16), (dm.train_sets["coco"], 1), (dm.test_set, 16)):
        for i in range(0, len(dataset), 3):
            item = dataset[i]
            assert item[SOURCE] in ("synthetic_pw3d", "synthetic_coco")
            x = torch.from_numpy(item[INPUT])
            assert x.shape == (frames, 17, 3) and bool((x[..., 2] == 1).all()) and x[..., :2].abs().max() < 1
            joints = smpl(torch.from_numpy(item[SMPL_POSE]), torch.from_numpy(item[SMPL_SHAPE])).joints
            # orthographic: input xy = s · joint xy + offset(t) with one scale s per clip
            a = (joints[..., :2] - joints[..., :1, :2]).reshape(-1).double()
            b = (x[..., :2] - x[..., :1, :2]).reshape(-1).double()
            s = (a @ b) / (a @ a)
            assert s > 0 and (s * a - b).abs().max() < 1e-4
            noise = item[HYBRIK_POSE] - item[SMPL_POSE]
            assert 0.02 < noise.std() < 0.08  # HybrIK stand-in: GT + N(0, 0.05²)
    # smooth motion: body-joint rotations change little from frame to frame compared with their spread
    pose = dm.train_sets["pw3d"][0][SMPL_POSE][:, 3:]  # (16, 69)
    assert np.abs(np.diff(pose, axis=0)).mean() < 0.3 * pose.std()

    again = MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), hybrik=True, synthetic_mesh=SMALL, num_workers=0,
                           batch_size=2, image_batch_size=4)  # fmt: skip
    again.setup("test")
    np.testing.assert_array_equal(again.test_set[1][INPUT], dm.test_set[1][INPUT])
    other = MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), synthetic_mesh=SyntheticMeshConfig(**{**SMALL.__dict__, "seed": 1}),
                           num_workers=0, batch_size=2, image_batch_size=4)  # fmt: skip
    other.setup("test")
    assert not np.allclose(other.test_set[1][SMPL_POSE], dm.test_set[1][SMPL_POSE])


# ============================================================================================ task


def tiny_task(backbone: str = "hummuss-tiny-bidirectional", **kwargs) -> MeshTask:
    kwargs.setdefault("use_mean_params", False)
    return MeshTask(backbone, **kwargs)


def meshes(n: int = 3, t: int = 2, seed: int = 0) -> SMPLOutput:
    gen = torch.Generator().manual_seed(seed)
    vertices = torch.randn(n, t, 6890, 3, generator=gen, dtype=torch.float64) * 300
    return SMPLOutput(vertices, torch.randn(n, t, 17, 3, generator=gen, dtype=torch.float64) * 300)


def metric_values(task: MeshTask, split: str = "val") -> dict[str, float]:
    out = {name: float(getattr(task, name)[split].compute()) for name in ("mpve", "mpjpe", "pa_mpjpe")}
    for name in ("mpve", "mpjpe", "pa_mpjpe"):
        getattr(task, name)[split].reset()
    return out


def test_metrics_against_hand_computed_values():
    task = tiny_task()
    target = meshes()
    task.update_metrics(target, target, "val")
    got = metric_values(task)
    assert got["mpve"] == 0.0 and got["mpjpe"] == 0.0 and got["pa_mpjpe"] == pytest.approx(0.0, abs=1e-9)

    shift = torch.randn(3, 2, 1, 3, dtype=torch.float64) * 1000  # a different translation per mesh: all metrics are root-relative
    task.update_metrics(SMPLOutput(target.vertices + shift, target.joints + shift), target, "val")
    assert all(v < 1e-6 for v in metric_values(task).values())

    joints = target.joints.clone()
    joints[..., 7, :] += 100.0  # the belly is not scored
    joints[..., 9, :] -= 50.0  # nor the nose
    task.update_metrics(SMPLOutput(target.vertices, joints), target, "val")
    assert metric_values(task)["mpjpe"] == 0.0

    joints = target.joints.clone()
    joints[..., 0, :] += torch.tensor([30.0, 40.0, 0.0], dtype=torch.float64)  # moving the pelvis moves every root-relative point by 50 mm
    task.update_metrics(SMPLOutput(target.vertices, joints), target, "val")
    got = metric_values(task)
    assert got["mpjpe"] == pytest.approx(50.0) and got["mpve"] == pytest.approx(50.0)
    assert got["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)  # a translation of the 14 joints

    # a rotation about the pelvis, and a scale: errors as numpy computes them; Procrustes removes both
    rot = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, math.pi / 6], dtype=torch.float64))
    root_j, root_v = target.joints[..., :1, :], target.joints[..., :1, :]
    pred = SMPLOutput(1.1 * (target.vertices - root_v) @ rot.T + root_v, 1.1 * (target.joints - root_j) @ rot.T + root_j)
    task.update_metrics(pred, target, "val")
    got = metric_values(task)
    tj, pj = target.joints.numpy(), pred.joints.numpy()
    tv, pv = target.vertices.numpy(), pred.vertices.numpy()
    rel = lambda a, r: a - r[..., :1, :]  # noqa: E731
    want_mpjpe = np.linalg.norm(rel(pj, pj)[..., EVAL_14, :] - rel(tj, tj)[..., EVAL_14, :], axis=-1).mean()
    want_mpve = np.linalg.norm(rel(pv, pj) - rel(tv, tj), axis=-1).mean()
    assert got["mpjpe"] == pytest.approx(want_mpjpe, rel=1e-5) and got["mpve"] == pytest.approx(want_mpve, rel=1e-5)
    assert want_mpjpe > 50 and got["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)

    # two batches pool every frame: the mean over both equals the mean of the concatenation
    other = meshes(seed=1)
    noisy = SMPLOutput(other.vertices + 10 * torch.randn_like(other.vertices), other.joints + 10 * torch.randn_like(other.joints))
    task.update_metrics(noisy, other, "test")
    task.update_metrics(target, target, "test")
    pooled = metric_values(task, "test")
    pj, tj = noisy.joints.numpy(), other.joints.numpy()
    errors = np.linalg.norm(rel(pj, pj)[..., EVAL_14, :] - rel(tj, tj)[..., EVAL_14, :], axis=-1)  # (3, 2, 14)
    assert pooled["mpjpe"] == pytest.approx(errors.sum() / (2 * errors.size), rel=1e-6)


def synthetic_batch(smpl_dir, hybrik: bool = False, split: str = "test") -> dict:
    dm = MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), hybrik=hybrik, synthetic_mesh=SMALL, use_coco=False,
                        batch_size=2, eval_batch_size=2, num_workers=0)  # fmt: skip
    dm.setup("fit" if split == "train" else "test")
    loader = dm.train_dataloader() if split == "train" else dm.val_dataloader()
    return next(iter(loader))


@pytest.mark.parametrize("hybrik", [False, True])
def test_perfect_predictions_score_zero_with_and_without_flip_test(smpl_dir, hybrik):
    """A model that returns the ground truth (and its mirror image for the mirrored input) scores 0: the
    SMPL targets and predictions go through the same path and the flip-test half is mirrored back."""
    task = tiny_task(smpl_dir=str(smpl_dir), hybrik=HybrIKFusionConfig() if hybrik else None).eval()
    batch = synthetic_batch(smpl_dir, hybrik)
    gt = roma.rotvec_to_rotmat(batch[SMPL_POSE].reshape(2, 16, 24, 3))  # (N, T, 24, 3, 3)
    betas = batch[SMPL_SHAPE]
    seen = []

    def oracle(x, hybrik_pose=None, hybrik_shape=None):
        seen.append(x.shape[0])
        if hybrik:
            assert hybrik_pose is not None and hybrik_shape is not None
        if x.shape[0] == 2:
            return SMPLParams(gt, betas, torch.zeros(2, 16, 24, 6))
        torch.testing.assert_close(x[2:], flip_h36m(x[:2]))  # the second half is the mirrored input
        if hybrik:
            torch.testing.assert_close(hybrik_pose[2:], flip_smpl_pose(hybrik_pose[:2]))
        return SMPLParams(torch.cat([gt, flip_smpl_pose(gt)]), torch.cat([betas, betas]), torch.zeros(4, 16, 24, 6))

    task.forward = oracle
    for flip in (False, True):
        task.flip_test = flip
        task.evaluation_step(batch, "val")
        got = metric_values(task)
        assert all(v < 1e-3 for v in got.values()), (flip, got)
    assert seen == [2, 4]
    # and a wrong prediction is measured: betas off by one
    task.forward = lambda x, hybrik_pose=None, hybrik_shape=None: SMPLParams(gt, betas + 1, torch.zeros(2, 16, 24, 6))
    task.flip_test = False
    task.evaluation_step(batch, "val")
    assert metric_values(task)["mpve"] > 1.0


def test_training_step_gives_finite_loss_and_gradients(smpl_dir):
    task = tiny_task(smpl_dir=str(smpl_dir), use_mean_params=True)
    loss = task.training_step(synthetic_batch(smpl_dir, split="train"), 0)
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert task.head.head_pose.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in task.backbone.head.parameters())  # the lifting head is frozen
    # mean parameters came from smpl_dir/smpl_mean_params.npz
    npz = np.load(smpl_dir / "smpl_mean_params.npz")
    np.testing.assert_allclose(task.head.init_shape[0].numpy(), npz["shape"], rtol=1e-6)


@pytest.mark.parametrize("backbone", ["hummuss-tiny-causal", "motionbert-tiny-causal"])
@pytest.mark.parametrize("hybrik", [True, False])
def test_causal_backbone_makes_the_whole_model_causal(backbone, hybrik):
    """Outputs at frames ≤ t do not change when anything after t changes (input, HybrIK pose and shape)."""
    torch.manual_seed(0)
    task = tiny_task(backbone, hybrik=HybrIKFusionConfig(causal=False) if hybrik else None).eval()
    assert task.head_cfg.causal
    n, t, cut = 2, 16, 9
    x, hp, hs = torch.randn(n, t, 17, 3), 0.3 * torch.randn(n, t, 72), torch.randn(n, t, 10)
    x2, hp2, hs2 = x.clone(), hp.clone(), hs.clone()
    x2[:, cut + 1 :] += 1.0
    hp2[:, cut + 1 :] += 0.5
    hs2[:, cut + 1 :] -= 1.0
    with torch.no_grad():
        a = task(x, hp, hs) if hybrik else task(x)
        b = task(x2, hp2, hs2) if hybrik else task(x2)
    torch.testing.assert_close(a.rotmat[:, : cut + 1], b.rotmat[:, : cut + 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(a.betas[:, : cut + 1], b.betas[:, : cut + 1], atol=1e-5, rtol=0)
    assert (a.rotmat[:, cut + 1 :] - b.rotmat[:, cut + 1 :]).abs().max() > 1e-3  # the later frames did change

    if hybrik:  # with everything before t fixed, HybrIK inputs after t alone leave frame t alone, too
        with torch.no_grad():
            c = task(x, hp2, hs2)
        torch.testing.assert_close(a.rotmat[:, : cut + 1], c.rotmat[:, : cut + 1], atol=1e-5, rtol=0)


def test_bidirectional_fusion_looks_ahead_and_causal_heads_errors():
    torch.manual_seed(0)
    task = tiny_task("hummuss-tiny-bidirectional", hybrik=HybrIKFusionConfig()).eval()
    assert not task.head_cfg.causal
    x, hp, hs = torch.randn(1, 16, 17, 3), 0.3 * torch.randn(1, 16, 72), torch.randn(1, 16, 10)
    hp2 = hp.clone()
    hp2[:, 10:] += 0.5
    with torch.no_grad():
        assert (task(x, hp, hs).rotmat[:, 9] - task(x, hp2, hs).rotmat[:, 9]).abs().max() > 1e-4  # k = 5, centred
    assert tiny_task("hummuss-tiny-bidirectional", hybrik=HybrIKFusionConfig(), causal_heads=True).head_cfg.causal
    with pytest.raises(ValueError, match="causal_heads=False with a causal backbone"):
        tiny_task("hummuss-tiny-causal", causal_heads=False)


def test_task_errors_name_the_fix(smpl_dir):
    task = tiny_task(hybrik=HybrIKFusionConfig(), smpl_dir=str(smpl_dir))
    with pytest.raises(KeyError, match="hybrik true"):
        task.evaluation_step(synthetic_batch(smpl_dir, hybrik=False), "val")
    with pytest.raises(ValueError, match="smpl_dir"):
        tiny_task().setup("fit")  # no smpl_dir and no data module
    with pytest.raises(SMPLModelFileError, match=r"MeshTask.smpl_dir=.*SMPL_NEUTRAL.pkl"):
        tiny_task(smpl_dir="/nonexistent/mesh")


# ============================================================================================ CLI


def cli_args(config: str, backbone: str, *extra: str) -> list[str]:
    return ["--config", f"experiments/finetune/{config}.yaml", "--model.init_args.backbone", backbone,
            "--model.init_args.pretrained", "null", "--data.init_args.num_workers", "0",
            "--data.init_args.batch_size", "2", "--data.init_args.image_batch_size", "4",
            "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]", *extra]  # fmt: skip


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("config", ["mesh_3dpw", "mesh_3dpw_hybrik"])
def test_configs_fit_on_synthetic_data(tmp_path, smpl_dir, config, backbone):
    args = cli_args(config, backbone, "--data.init_args.synthetic", "true", "--data.init_args.data_root", "null",
                    "--data.init_args.smpl_dir", str(smpl_dir), "--data.init_args.synthetic_mesh", SMALL_JSON,
                    "--trainer.fast_dev_run", "2")  # fmt: skip
    cli = run_cli(["fit", *args], tmp_path)
    metrics = cli.trainer.callback_metrics
    assert all(torch.isfinite(metrics[k]) for k in ("train/loss", "val/mpve", "val/mpjpe", "val/pa_mpjpe"))
    assert isinstance(cli.model, MeshTask) and cli.model.uses_hybrik == (config == "mesh_3dpw_hybrik")
    assert cli.model.head_cfg.causal == backbone.endswith("causal")
    assert cli.model.smpl_dir == smpl_dir  # taken from the data module


@pytest.mark.parametrize("config", ["mesh_3dpw", "mesh_3dpw_hybrik"])
def test_fit_test_and_reload_on_fixture_files(tmp_path, data_root, config):
    backbone = "hummuss-tiny-causal"
    cli = run_cli(["fit", *cli_args(config, backbone, "--data.init_args.data_root", str(data_root),
                                     "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1")], tmp_path)  # fmt: skip
    run = tmp_path / "checkpoints" / "finetune" / config / "version_0"
    best = [p for p in run.iterdir() if p.name.startswith("best-")]
    assert (run / "last.ckpt").is_file() and len(best) == 1 and "mpjpe" in best[0].name

    ckpt = torch.load(run / "last.ckpt", map_location="cpu", weights_only=True)
    keys = list(ckpt["state_dict"])
    assert not [k for k in keys if k.startswith("smpl.") or "shapedirs" in k or "posedirs" in k or "J_regressor" in k]
    assert any(k.startswith("head.") for k in keys) and any(k.startswith("backbone.") for k in keys)
    assert ckpt["hyper_parameters"]["smpl_dir"] == str((data_root / "mesh").resolve())

    # the checkpoint rebuilds the task (SMPL from the recorded folder) with the same outputs
    loaded = MeshTask.load_from_checkpoint(run / "last.ckpt", map_location="cpu").eval()
    trained = cli.model.eval()
    dm = cli.datamodule
    batch = next(iter(dm.val_dataloader()))
    with torch.no_grad():
        a, mesh_a = trained.predict_mesh(batch, flip=True)
        b, mesh_b = loaded.predict_mesh(batch, flip=True)
    torch.testing.assert_close(a.rotmat, b.rotmat)
    torch.testing.assert_close(mesh_a.vertices, mesh_b.vertices)

    tested = run_cli(["test", *cli_args(config, backbone, "--data.init_args.data_root", str(data_root),
                                        "--ckpt_path", str(run / "last.ckpt"))], tmp_path)  # fmt: skip
    metrics = tested.trainer.callback_metrics
    assert {"test/mpve", "test/mpjpe", "test/pa_mpjpe"} <= set(metrics)
    # the test run scores the checkpoint's weights: recompute its MPJPE from the loaded task by hand
    loaded.update_metrics(mesh_b, loaded.target_mesh(batch), "test")
    for b2 in list(dm.val_dataloader())[1:]:
        with torch.no_grad():
            loaded.update_metrics(loaded.predict_mesh(b2, flip=True)[1], loaded.target_mesh(b2), "test")
    assert float(metrics["test/mpjpe"]) == pytest.approx(float(loaded.mpjpe["test"].compute()), rel=1e-4)

    # `hummuss predict`: SMPL parameters (axis-angle, as the mesh files) and the evaluated joints per clip
    out = read_predictions(run_cli(["predict", *cli_args(config, backbone, "--data.init_args.data_root", str(data_root),
                                                         "--ckpt_path", str(run / "last.ckpt"))], tmp_path))  # fmt: skip
    n, t = len(dm.test_set), batch[INPUT].shape[1]
    assert sorted(out["index"].tolist()) == list(range(n))
    assert out["smpl_pose"].shape == (n, t, 72) and out["smpl_shape"].shape == (n, t, 10) and out["joints_mm"].shape == (n, t, 17, 3)
    first = out["index"] < len(batch[INPUT])  # the rows of the batch predicted above
    order = out["index"][first].argsort()
    torch.testing.assert_close(out["joints_mm"][first][order], mesh_b.joints, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(out["smpl_pose"][first][order], roma.rotmat_to_rotvec(b.rotmat).flatten(-2), rtol=1e-4, atol=1e-5)


def test_smpl_runs_in_float32_under_mixed_precision(smpl_dir):
    task = tiny_task(smpl_dir=str(smpl_dir))
    pose, betas = 0.3 * torch.randn(2, 3, 72), torch.randn(2, 3, 10)
    full = task.run_smpl(pose, betas)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = task.run_smpl(pose, betas)
        unguarded = task.smpl(pose, betas)  # what bfloat16 matmuls would do to mm-scale vertices
    assert mixed.vertices.dtype == torch.float32
    torch.testing.assert_close(mixed.vertices, full.vertices, atol=1e-4, rtol=0)
    assert (unguarded.vertices.float() - full.vertices).abs().max() > 0.1
