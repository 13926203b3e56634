"""3D pose on MPI-INF-3DHP: the data module's windows, the evaluation protocol against a hand
computation, the recipes through the CLI, pretrained weights, and the evaluation rate.

Expected values are worked out here with numpy from the fixture files' raw arrays and the protocol
of reference/datasets.md §1 (normalisation, joint order, flip, PCK/AUC definitions written out by
hand below), not with the package's own helpers.
"""

from __future__ import annotations

import warnings

import lightning as L
import numpy as np
import pytest
import torch
from fixtures import mpi_pose_2d, mpi_pose_3d, write_3dhp
from helpers import read_predictions, run_cli
from torch import nn
from torch.utils.data import Dataset

from hummuss_pl.batch import INPUT, SCALE_MM, SOURCE, TARGET_3D, VALID
from hummuss_pl.data.modules import PretrainDataModule, SourceConfig
from hummuss_pl.data.modules.pose3d import Pose3DDataModule
from hummuss_pl.metrics import root_relative
from hummuss_pl.tasks.pose3d import Pose3DTask
from hummuss_pl.tasks.pretrain import PretrainTask

# For each H36M joint, the 3DHP joint it comes from (reference/datasets.md §1.2).
MPI_TO_H36M = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
# The 14 joints of the official PCK/AUC (3DHP 0..13) as H36M indices.
PCK_14 = [MPI_TO_H36M.index(i) for i in range(14)]
# H36M left/right pairs: l_hip/r_hip, l_knee/r_knee, l_ankle/r_ankle, shoulders, elbows, wrists.
SWAP = list(range(17))
for left, right in ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16)):
    SWAP[left], SWAP[right] = right, left

# The test set written here: TS1 2048 x 2048, 9 frames, valid 2, 3, 8; TS5 1920 x 1080, 5 frames, valid 0, 4
# (the frame counts and flags of the default fixture).
SIZES = {"TS1": (2048, 2048), "TS5": (1920, 1080)}
VALID_FRAMES = [("TS1", 2), ("TS1", 3), ("TS1", 8), ("TS5", 0), ("TS5", 4)]

SYNTHETIC = ["--data.init_args.synthetic", "true", "--data.init_args.clip_len", "9",
             "--data.init_args.synthetic_corpus.num_clips", "8", "--data.init_args.synthetic_test_sequences", "2",
             "--data.init_args.synthetic_test_frames", "6", "--data.init_args.batch_size", "4"]  # fmt: skip
QUIET = ["--data.init_args.num_workers", "0", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
         "--trainer.callbacks", "[]", "--trainer.enable_model_summary", "false"]  # fmt: skip
BACKBONES = ["hummuss-tiny-causal", "hummuss-tiny-bidirectional", "motionbert-tiny-causal", "motionbert-tiny"]


# ------------------------------------------------------------------------------------ helpers
def moving_test_set() -> dict:
    """The fixture's test sequences with every joint moving at its own speed, so that root-relative
    poses (and so the metrics) differ from frame to frame; same sizes and valid flags as write_3dhp's."""
    test = {}
    for seq, frames, valid in (("TS1", 9, [0, 0, 1, 1, 0, 0, 0, 0, 1]), ("TS5", 5, [1, 0, 0, 0, 1])):
        w, h = SIZES[seq]
        f, j = np.arange(frames)[:, None, None], np.arange(17)[None, :, None]
        test[seq] = {
            "data_2d": (mpi_pose_2d(frames, w, h) + f * j * np.array([0.7, -0.4])).astype(np.float32),  # pixels
            "data_3d": (mpi_pose_3d(frames) + f * (j + 1) * np.array([1.0, -0.6, 0.4])).astype(np.float32),  # mm
            "valid": np.array(valid, np.float64),
        }
    return test


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    raw = write_3dhp(root / "mpi_inf_3dhp", test_frames=moving_test_set())
    return root, raw


def hand_input(raw: dict, seq: str) -> np.ndarray:
    """(F, 17, 3) model input by hand: x / w * 2 - 1, y / w * 2 - h / w, confidence 1, H36M order."""
    w, h = SIZES[seq]
    xy = raw["test"][seq]["data_2d"].astype(np.float64)
    out = np.ones(xy.shape[:2] + (3,))
    out[..., 0] = xy[..., 0] / w * 2 - 1
    out[..., 1] = xy[..., 1] / w * 2 - h / w
    return out[:, MPI_TO_H36M]


def hand_target(raw: dict, seq: str) -> np.ndarray:
    """(F, 17, 3) 3D target by hand: minus the pelvis (3DHP joint 14), times 2 / w, H36M order."""
    w, _ = SIZES[seq]
    xyz = raw["test"][seq]["data_3d"].astype(np.float64)
    return ((xyz - xyz[:, 14:15]) * 2 / w)[:, MPI_TO_H36M]


def pretrain_checkpoint(backbone: str, path) -> dict[str, torch.Tensor]:
    """A 1-step PretrainTask fit on synthetic clips, saved by its Trainer; returns its backbone weights."""
    task = PretrainTask(backbone=backbone)
    data = PretrainDataModule(sources=[SourceConfig("synthetic", clip_len=9, options={"num_clips": 8})], batch_size=4,
                              num_workers=0)  # fmt: skip
    trainer = L.Trainer(max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False, accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(task, data)
    trainer.save_checkpoint(path)
    return {k: v.clone() for k, v in task.backbone.state_dict().items()}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """{backbone preset: (checkpoint path, backbone weights)} for the tiny presets."""
    folder = tmp_path_factory.mktemp("pretrained")
    return {b: (folder / f"{b}.ckpt", pretrain_checkpoint(b, folder / f"{b}.ckpt")) for b in BACKBONES}


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(logger=False, accelerator="cpu", devices=1, enable_progress_bar=False, enable_model_summary=False,
                     enable_checkpointing=False, **kwargs)  # fmt: skip


# ------------------------------------------------------------------------------------ (a) data
def test_test_windows_are_one_per_valid_frame_edge_padded(data_root):
    root, raw = data_root
    dm = Pose3DDataModule(data_root=str(root), clip_len=5, train_stride=3, batch_size=2, num_workers=0)
    dm.setup("fit")
    assert len(dm.train_set) == 2 * 9 + 3  # S1 Seq1 (30 frames, 2 cameras): 9 clips each; S1 Seq2 (12): 3
    windows = dm.test_windows
    assert len(windows) == len(VALID_FRAMES) == 5
    frames = {("TS1", 2): [0, 1, 2, 3, 4], ("TS1", 3): [1, 2, 3, 4, 5], ("TS1", 8): [6, 7, 8, 8, 8],
              ("TS5", 0): [0, 0, 0, 1, 2], ("TS5", 4): [2, 3, 4, 4, 4]}  # fmt: skip
    for i, (seq, f) in enumerate(VALID_FRAMES):
        item = windows[i]
        assert (item["sequence"], item["frame"], item["target_index"]) == (seq, f, 2)
        np.testing.assert_allclose(item[INPUT], hand_input(raw, seq)[frames[seq, f]], atol=1e-6)
        np.testing.assert_allclose(item[TARGET_3D], hand_target(raw, seq)[frames[seq, f]], atol=1e-6)
        assert item[SCALE_MM] == SIZES[seq][0] / 2
        valid = np.asarray(raw["test"][seq]["valid"], bool)[frames[seq, f]]
        np.testing.assert_array_equal(item[VALID], valid)  # invalid frames stay in as context
    batches = list(dm.val_dataloader())
    assert sum(len(b["frame"]) for b in batches) == 5  # nothing dropped or padded in evaluation


def test_anchor_last_and_frame_step(data_root):
    root, raw = data_root
    last = Pose3DDataModule(data_root=str(root), clip_len=5, anchor="last", num_workers=0)
    last.setup("test")
    item = last.test_windows[2]  # TS1 frame 8
    assert item["target_index"] == 4
    np.testing.assert_allclose(item[INPUT], hand_input(raw, "TS1")[[4, 5, 6, 7, 8]], atol=1e-6)
    item = last.test_windows[0]  # TS1 frame 2
    np.testing.assert_allclose(item[INPUT], hand_input(raw, "TS1")[[0, 0, 0, 1, 2]], atol=1e-6)

    step = Pose3DDataModule(data_root=str(root), clip_len=5, frame_step=2, num_workers=0)
    step.setup("validate")
    assert len(step.test_windows) == 5  # the same valid frames
    item = step.test_windows[1]  # TS1 frame 3: frames 3 + 2·(−2..2), clamped
    assert item["target_index"] == 2
    np.testing.assert_allclose(item[INPUT], hand_input(raw, "TS1")[[0, 1, 3, 5, 7]], atol=1e-6)


def test_training_flip_mirrors_input_and_target_together(data_root):
    root, _ = data_root
    dm = Pose3DDataModule(data_root=str(root), clip_len=5, train_stride=3, batch_size=21, num_workers=0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    out = dm.flip_batch(batch, torch.Generator().manual_seed(3))
    mirrored = []
    for b in range(21):
        for key in (INPUT, TARGET_3D):
            by_hand = batch[key][b][:, SWAP].clone()
            by_hand[..., 0] *= -1
            same, flipped = torch.equal(out[key][b], batch[key][b]), torch.allclose(out[key][b], by_hand)
            assert same or flipped
            if key == INPUT:
                was_flipped = flipped
            else:
                assert flipped == was_flipped  # input and target mirrored together
        mirrored.append(was_flipped)
    assert 0 < sum(mirrored) < 21


def test_data_module_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="data_root"):
        Pose3DDataModule()
    with pytest.raises(ValueError, match="not both"):
        Pose3DDataModule(data_root=str(tmp_path), synthetic=True)
    with pytest.raises(ValueError, match="anchor"):
        Pose3DDataModule(synthetic=True, anchor="middle")
    with pytest.raises(ValueError, match="frame_step"):
        Pose3DDataModule(synthetic=True, frame_step=0)


# ------------------------------------------------------------------------------------ (b) protocol
Z = 0.0123 * np.arange(17) + 0.0007  # per-joint depth of the stub (normalised units), not left/right symmetric
DZ = 0.004 * np.arange(17) / 16  # and per-joint growth of the depth per frame of the window


class LiftStub(nn.Module):
    """A backbone with a known output: (x, y) of the input, depth Z[j] + DZ[j] · frame index."""

    def forward(self, x: torch.Tensor, rate=1.0) -> torch.Tensor:
        B, T, J, _ = x.shape
        t = torch.arange(T, dtype=x.dtype)[None, :, None]  # (1, T, 1)
        z = torch.as_tensor(Z, dtype=x.dtype) + torch.as_tensor(DZ, dtype=x.dtype) * t  # (1, T, J)
        return torch.stack([x[..., 0], x[..., 1], z.expand(B, T, J)], dim=-1)  # (B, T, J, 3)


def hand_metrics(raw: dict, frames: list[tuple[str, int]], flip: bool, target_index: int) -> dict[str, float]:
    errors = []
    for seq, f in frames:
        u = hand_input(raw, seq)[f]  # the evaluated frame's input: the stub keeps its (x, y)
        z = Z + DZ * target_index  # the stub's depth at the evaluated frame
        if flip:  # mirrored twice, the depth of joint j comes from its mirror joint: average of the two
            z = (z + z[SWAP]) / 2
        pred = np.concatenate([u[:, :2], z[:, None]], axis=1)
        pred = pred - pred[0]  # root-relative (H36M joint 0)
        target = hand_target(raw, seq)[f]
        errors.append(np.linalg.norm(pred - target, axis=1) * SIZES[seq][0] / 2)  # (17,) mm
    e = np.stack(errors)  # (frames, 17)
    e14 = e[:, PCK_14]
    grid = np.arange(0, 151, 5)
    assert np.abs(e14[..., None] - grid).min() > 1e-3  # no error sits on a threshold (float32 cannot flip one)
    return {"mpjpe": e.mean(), "pck": 100 * (e14 < 150).mean(), "auc": 100 * np.mean([(e14 < t).mean() for t in grid])}


class InvalidAt(Dataset):
    """Test windows with the evaluated frame of some samples marked invalid."""

    def __init__(self, windows, invalid: set[int]) -> None:
        self.windows, self.invalid = windows, invalid

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.windows[i])
        if i in self.invalid:
            item[VALID] = item[VALID].copy()
            item[VALID][item["target_index"]] = False
        return item


@pytest.mark.parametrize("flip,anchor", [(True, "center"), (False, "center"), (True, "last")])
def test_evaluation_matches_hand_computation(data_root, flip, anchor):
    root, raw = data_root
    dm = Pose3DDataModule(data_root=str(root), clip_len=5, anchor=anchor, batch_size=2, num_workers=0)
    task = Pose3DTask("hummuss-tiny-bidirectional", flip_test=flip)
    task.backbone = LiftStub()
    result = trainer().test(task, datamodule=dm)[0]
    expected = hand_metrics(raw, VALID_FRAMES, flip, target_index=2 if anchor == "center" else 4)
    for name in ("mpjpe", "pck", "auc"):
        assert result[f"test/{name}"] == pytest.approx(expected[name], rel=1e-5), name
    assert 0 < expected["pck"] < 100 and expected["auc"] > 0  # the stub's errors straddle the thresholds
    assert expected["mpjpe"] != pytest.approx(hand_metrics(raw, VALID_FRAMES, not flip, 2 if anchor == "center" else 4)["mpjpe"], rel=1e-3)


def test_frames_whose_evaluated_frame_is_invalid_do_not_count(data_root):
    root, raw = data_root
    dm = Pose3DDataModule(data_root=str(root), clip_len=5, batch_size=2, num_workers=0)
    dm.setup("test")
    dm.test_windows = InvalidAt(dm.test_windows, {1, 3})  # TS1 frame 3, TS5 frame 0
    task = Pose3DTask("hummuss-tiny-bidirectional")
    task.backbone = LiftStub()
    result = trainer().test(task, datamodule=dm)[0]
    expected = hand_metrics(raw, [VALID_FRAMES[0], VALID_FRAMES[2], VALID_FRAMES[4]], True, 2)
    for name in ("mpjpe", "pck", "auc"):
        assert result[f"test/{name}"] == pytest.approx(expected[name], rel=1e-5), name


class Constant(nn.Module):
    """A backbone that always answers `value` (B, T, J, 3)."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor, rate=1.0) -> torch.Tensor:
        return self.value


def test_training_loss_compares_root_relative_poses():
    torch.manual_seed(0)
    pred = torch.randn(2, 5, 17, 3)
    task = Pose3DTask("hummuss-tiny-bidirectional")
    task.backbone = Constant(pred)
    batch = {INPUT: torch.zeros(2, 5, 17, 3)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a Trainer
        batch[TARGET_3D] = pred + torch.randn(2, 5, 1, 3)  # the same poses, moved per frame
        assert float(task.training_step(batch, 0)) == pytest.approx(0.0, abs=1e-10)
        batch[TARGET_3D] = pred + 0.1 * torch.randn(2, 5, 17, 3)  # other poses
        assert float(task.training_step(batch, 0)) > 1e-3


# ------------------------------------------------------------------------------------ (c) CLI
@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("config", ["pose3d_3dhp", "pose3d_3dhp_scratch"])
def test_recipes_fit_on_synthetic_data(config, backbone, pretrained, tmp_path):
    args = ["fit", "--config", f"experiments/finetune/{config}.yaml", "--model.init_args.backbone", backbone,
            "--trainer.fast_dev_run", "true", *SYNTHETIC, *QUIET]  # fmt: skip
    if config == "pose3d_3dhp":  # lr 0: the backbone must still hold the pretrained weights afterwards
        args += ["--model.init_args.pretrained", str(pretrained[backbone][0]), "--model.init_args.optim.lr", "0.0"]
    cli = run_cli(args, tmp_path)
    metrics = cli.trainer.callback_metrics
    for name in ("train/loss", "val/mpjpe", "val/pck", "val/auc"):
        assert torch.isfinite(metrics[name]), name
    assert isinstance(cli.datamodule.test_windows[0]["target_index"], int)
    assert cli.datamodule.test_windows[0][SOURCE] == "synthetic"
    if config == "pose3d_3dhp":
        weights = cli.model.backbone.state_dict()
        for key, value in pretrained[backbone][1].items():
            assert torch.equal(weights[key], value), key


def test_recipe_on_3dhp_files_then_test_and_reload(data_root, tmp_path):
    root, _ = data_root
    common = ["--config", "experiments/finetune/pose3d_3dhp_scratch.yaml", "--data.init_args.data_root", str(root),
              "--model.init_args.backbone", "hummuss-tiny-causal", "--data.init_args.clip_len", "9",
              "--data.init_args.train_stride", "3", "--data.init_args.batch_size", "4", *QUIET]  # fmt: skip
    fit = run_cli(["fit", *common, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"], tmp_path)
    val = {k: float(v) for k, v in fit.trainer.callback_metrics.items() if k.startswith("val/")}
    best = fit.trainer.checkpoint_callback.best_model_path
    assert best and "mpjpe" in best

    # `hummuss test` evaluates the configured model: a checkpoint of another backbone (the recipe's default
    # without the override it was trained with) is refused; with it, the model takes the checkpoint's settings.
    recipe_default = [a for a in common if a not in ("--model.init_args.backbone", "hummuss-tiny-causal")]
    with pytest.raises(ValueError, match="holds a hummuss-tiny-causal backbone but the configuration builds a hummuss-bidirectional"):
        run_cli(["test", *recipe_default, "--ckpt_path", best], tmp_path)
    test = run_cli(["test", *common, "--ckpt_path", best], tmp_path)
    assert test.model.backbone_cfg == fit.model.backbone_cfg
    result = {k: float(v) for k, v in test.trainer.callback_metrics.items()}
    for name in ("mpjpe", "pck", "auc"):  # the checkpoint reproduces the validation of the epoch it ends
        assert result[f"test/{name}"] == pytest.approx(val[f"val/{name}"], rel=1e-6)

    # `hummuss predict` writes one row per test window; its valid rows score what the test reported
    out = read_predictions(run_cli(["predict", *common, "--ckpt_path", best], tmp_path))
    windows = test.datamodule.test_windows
    assert sorted(out["index"].tolist()) == list(range(len(windows)))
    assert out["pose_3d_mm"].shape == (len(windows), 17, 3) and len(out["sequence"]) == len(out["frame"]) == len(windows)
    items = [windows[i] for i in out["index"].tolist()]
    assert out["sequence"] == [item["sequence"] for item in items] and out["frame"].tolist() == [item["frame"] for item in items]
    target = torch.stack([torch.as_tensor(it[TARGET_3D][it["target_index"]]) * it[SCALE_MM] for it in items])
    keep = out["valid"]
    assert keep.all()  # one window per valid frame (invalid frames serve only as context)
    mpjpe = (out["pose_3d_mm"][keep] - root_relative(target)[keep]).norm(dim=-1).mean()
    assert float(mpjpe) == pytest.approx(result["test/mpjpe"], rel=1e-5)

    reloaded = Pose3DTask.load_from_checkpoint(best)
    assert reloaded.backbone_cfg == fit.model.backbone_cfg
    own = fit.model.state_dict()
    assert reloaded.state_dict().keys() == own.keys()
    for key, value in reloaded.state_dict().items():
        assert torch.equal(value, own[key]), key


# ------------------------------------------------------------------------------------ (d) pretrained
def test_pretrained_checkpoint_of_pretrain_task_reaches_the_backbone(pretrained):
    path, weights = pretrained["hummuss-tiny-bidirectional"]
    task = Pose3DTask("hummuss-tiny-bidirectional", pretrained=str(path))
    assert not torch.equal(task.backbone.state_dict()["lift.weight"], weights["lift.weight"])  # fresh init differs
    task.setup("fit")
    for key, value in task.backbone.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_pretrained_checkpoint_of_another_backbone_is_refused(pretrained):
    task = Pose3DTask("hummuss-tiny-bidirectional", pretrained=str(pretrained["hummuss-tiny-causal"][0]))
    with pytest.raises(ValueError, match="causal"):
        task.setup("fit")


# ------------------------------------------------------------------------------------ (e) rate
def record_rates(task: Pose3DTask) -> list:
    rates, forward = [], task.backbone.forward

    def spy(x, rate=1.0):
        rates.append(rate)
        return forward(x, rate)

    task.backbone.forward = spy
    return rates


def synthetic_dm(**kwargs) -> Pose3DDataModule:
    return Pose3DDataModule(synthetic=True, clip_len=9, synthetic_test_sequences=2, synthetic_test_frames=6,
                            batch_size=4, num_workers=0, **kwargs)  # fmt: skip


def test_frame_step_sets_the_hummuss_evaluation_rate():
    task = Pose3DTask("hummuss-tiny-causal")
    rates = record_rates(task)
    trainer().validate(task, datamodule=synthetic_dm(frame_step=2, anchor="last"))
    assert rates and all(r == 2.0 for r in rates)

    task = Pose3DTask("hummuss-tiny-causal", eval_rate=3.0)  # an explicit rate wins
    rates = record_rates(task)
    trainer().validate(task, datamodule=synthetic_dm(frame_step=2, anchor="last"))
    assert rates and all(r == 3.0 for r in rates)


def test_motionbert_evaluates_at_rate_one_with_a_warning():
    task = Pose3DTask("motionbert-tiny-causal")
    rates = record_rates(task)
    with pytest.warns(UserWarning, match="no frame-rate parameter"):
        trainer().validate(task, datamodule=synthetic_dm(frame_step=2, anchor="last"))
    assert rates and all(r == 1.0 for r in rates)
    with pytest.raises(ValueError, match="eval_rate"):
        Pose3DTask("motionbert-tiny", eval_rate=2.0)


def test_causal_backbone_with_centred_windows_warns_once():
    task = Pose3DTask("hummuss-tiny-causal")
    with pytest.warns(UserWarning, match="future half is unused") as caught:
        trainer().validate(task, datamodule=synthetic_dm(anchor="center", eval_batch_size=2))
    assert sum("future half" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer().validate(Pose3DTask("hummuss-tiny-causal"), datamodule=synthetic_dm(anchor="last"))
    assert not any("future half" in str(w.message) for w in caught)
