"""Synthetic motion corpus: the sample contract, plausibility of the motion, exact time sampling,
determinism, splits and the two camera models."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hummuss_pl.batch import (
    FPS,
    HAS_3D,
    INPUT,
    LABEL,
    SCALE_MM,
    SOURCE,
    SUBJECT,
    TARGET_3D,
    TIMES,
)
from hummuss_pl.data.synthetic import (
    SOURCE_NAME,
    SYNTHETIC_CLASSES,
    SYNTHETIC_NOTICE,
    SyntheticConfig,
    SyntheticMotion,
    render_motion,
    render_world,
)

# Bones written out from the H36M-17 names: (parent, child).
BONES = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
         (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)]  # fmt: skip
LR_BONES = [((1, 2), (4, 5)), ((2, 3), (5, 6)), ((14, 15), (11, 12)), ((15, 16), (12, 13)), ((0, 1), (0, 4))]
LR_JOINTS = [(1, 4), (2, 5), (3, 6), (14, 11), (15, 12), (16, 13)]


def batch(ds: SyntheticMotion, indices) -> dict[str, np.ndarray]:
    items = ds.__getitems__(list(indices))
    return {k: np.stack([it[k] for it in items]) for k in items[0]}


def metres(sample_3d: np.ndarray, scale_mm) -> np.ndarray:
    return sample_3d * (np.asarray(scale_mm).reshape((-1,) + (1,) * (sample_3d.ndim - 1)) / 1000.0)


def bone_lengths(p: np.ndarray) -> np.ndarray:
    """(..., 17, 3) → (..., 16)."""
    return np.stack([np.linalg.norm(p[..., c, :] - p[..., a, :], axis=-1) for a, c in BONES], -1)


# ---------------------------------------------------------------------------------------- contract
def test_sample_dict_contract_orthographic():
    cfg = SyntheticConfig(num_clips=20, clip_len=81, fps=50.0)
    ds = SyntheticMotion(cfg)
    s = ds[7]
    assert s[INPUT].shape == (81, 17, 3) and s[INPUT].dtype == np.float32
    assert s[TARGET_3D].shape == (81, 17, 3) and s[TARGET_3D].dtype == np.float32
    assert s[HAS_3D] is True and s[SOURCE] == SOURCE_NAME == "synthetic"
    assert s[FPS] == 50.0
    assert s[SCALE_MM] == pytest.approx(1000 / 0.298)  # MotionBERT's AMASS units
    assert s[LABEL] == 7 % len(SYNTHETIC_CLASSES)
    assert isinstance(s[SUBJECT], int)
    np.testing.assert_allclose(s[TIMES], np.arange(81) / 50.0, atol=1e-6)
    assert np.isfinite(s[INPUT]).all() and np.isfinite(s[TARGET_3D]).all()
    assert (s[INPUT][..., 2] == 1).all()
    # orthographic: the 2D input is the label's x, y
    np.testing.assert_array_equal(s[INPUT][..., :2], s[TARGET_3D][..., :2])
    # a person is in frame and of human size: about 1.5–1.9 m tall
    assert np.abs(s[INPUT][..., :2]).max() < 1.0
    assert ds.describe().startswith(SYNTHETIC_NOTICE) and len(ds) == 20


def test_dataloader_collates_and_all_classes_appear():
    ds = SyntheticMotion(SyntheticConfig(num_clips=40, clip_len=27))
    b = next(iter(DataLoader(ds, batch_size=20, shuffle=False)))
    assert b[INPUT].shape == (20, 27, 17, 3) and b[INPUT].dtype == torch.float32
    assert b[LABEL].tolist() == [i % 10 for i in range(20)]
    assert b[SOURCE] == ["synthetic"] * 20


def test_class_subset_labels_index_the_subset():
    ds = SyntheticMotion(SyntheticConfig(num_clips=6, clip_len=9, classes=("jump", "walk")))
    assert [ds[i][LABEL] for i in range(4)] == [0, 1, 0, 1]
    assert ds.class_names == ("jump", "walk")
    # item 1 of this corpus is a walk: its pelvis travels
    p = render_world(ds.config, 1, np.linspace(0, 2, 50))
    assert np.linalg.norm(p[-1, 0, [0, 2]] - p[0, 0, [0, 2]]) > 1.0


# ---------------------------------------------------------------------------------------- plausibility
def test_bone_lengths_constant_per_subject_and_symmetric():
    cfg = SyntheticConfig(num_clips=200, clip_len=60, num_subjects=4)
    ds = SyntheticMotion(cfg)
    b = batch(ds, range(0, 200, 5))
    p = metres(b[TARGET_3D], b[SCALE_MM])  # (N, T, 17, 3) metres
    lengths = bone_lengths(p)  # (N, T, 16)
    assert np.abs(lengths - lengths[:, :1]).max() < 1e-4  # rigid bones over time (float32 rounding only)
    per_clip = lengths[:, 0]
    by_subject: dict[int, list[np.ndarray]] = {}
    for s, l in zip(b[SUBJECT], per_clip, strict=True):
        by_subject.setdefault(int(s), []).append(l)
    assert len(by_subject) == 4
    for ls in by_subject.values():  # one skeleton per subject, whatever the clip or camera
        assert np.abs(np.stack(ls) - ls[0]).max() < 1e-4
    firsts = np.stack([ls[0] for ls in by_subject.values()])
    assert np.ptp(firsts, axis=0).max() > 0.01  # subjects differ
    for (ra, rb), (la, lb) in LR_BONES:
        i, k = BONES.index((ra, rb)), BONES.index((la, lb))
        np.testing.assert_allclose(per_clip[:, i], per_clip[:, k], atol=1e-4)
    thigh, shank = per_clip[:, BONES.index((1, 2))], per_clip[:, BONES.index((2, 3))]
    assert (0.35 < thigh).all() and (thigh < 0.55).all() and (0.35 < shank).all() and (shank < 0.55).all()


def test_motions_are_grounded_and_look_like_their_class():
    cfg = SyntheticConfig(num_clips=100)
    times = np.arange(240) / 60.0  # 4 s
    for i in range(30):  # three of every class
        name = SYNTHETIC_CLASSES[i % 10]
        w = render_world(cfg, i, times)  # (T, 17, 3) metres, y up
        assert np.isfinite(w).all()
        assert w[..., 1].min() > -0.02, name  # no joint sinks into the floor
        lower_ankle = np.minimum(w[:, 3, 1], w[:, 6, 1])
        pelvis = w[:, 0]
        speed = np.linalg.norm(np.diff(pelvis[:, [0, 2]], axis=0), axis=-1).mean() * 60
        hips = w[:, 4] - w[:, 1]
        turned = np.ptp(np.unwrap(np.arctan2(hips[:, 2], hips[:, 0])))  # range of the pelvis heading
        wrist_over_nose = (np.maximum(w[:, 13, 1], w[:, 16, 1]) - w[:, 9, 1]).max()
        reach = max(np.linalg.norm((w[:, k] - pelvis)[:, [0, 2]], axis=-1).max() for k in (13, 16))
        if name not in ("jump", "run", "jumping_jack"):  # always one foot down
            assert (lower_ankle > 0.05).all() and (lower_ankle < 0.12).all(), name
        if name == "walk":
            swing = np.maximum(w[:, 3, 1], w[:, 6, 1])
            assert swing.max() < 0.55 and swing.max() > lower_ankle.max() + 0.1
            assert 0.65 < pelvis[:, 1].min() and pelvis[:, 1].max() < 1.2  # pelvis height of 1.5–1.9 m people
            assert 0.7 < speed < 2.2
            assert np.linalg.norm((w[:, 3] - w[:, 6])[:, [0, 2]], axis=-1).max() > 0.4  # strides
        if name == "run":
            assert 2.2 < speed < 5.0 and lower_ankle.max() > lower_ankle.min() + 0.02  # moments of flight
        if name == "jump":  # both feet leave the ground
            assert lower_ankle.max() > 0.2
        if name == "squat":
            assert np.ptp(pelvis[:, 1]) > 0.25
        if name == "turn":
            assert turned > np.pi / 2 and speed < 0.3
        if name in ("wave", "jumping_jack"):
            assert wrist_over_nose > 0.0, name
        if name == "kick":
            assert np.maximum(w[:, 3, 1], w[:, 6, 1]).max() > 0.35
        if name == "punch":
            assert reach > 0.4
        if name in ("wave", "idle", "punch", "squat", "kick", "jump", "jumping_jack"):  # stays on the spot
            assert np.ptp(pelvis[:, 0]) < 0.3 and np.ptp(pelvis[:, 2]) < 0.3 and turned < 1.2, name
        if name in ("idle", "squat"):
            assert wrist_over_nose < 0.0, name


def test_skeletons_are_not_mirror_images():
    """Left joints are the subject's left: with left = l_hip − r_hip and up = neck − pelvis, the facing
    direction left × up (right-handed axes: world, and camera x right / y down / z forward) points
    the way the nose does. A mirrored rendering would flip it."""
    for camera in ("orthographic", "perspective"):
        b = batch(SyntheticMotion(SyntheticConfig(num_clips=50, clip_len=30, camera=camera)), range(50))
        p = b[TARGET_3D].astype(np.float64)
        facing = np.cross(p[..., 4, :] - p[..., 1, :], p[..., 8, :] - p[..., 0, :])
        assert (np.einsum("ntc,ntc->nt", facing, p[..., 9, :] - p[..., 8, :]) > 0).mean() > 0.99
    w = render_world(SyntheticConfig(num_clips=5), 3, np.linspace(0, 2, 20))
    facing = np.cross(w[:, 4] - w[:, 1], w[:, 8] - w[:, 0])
    assert (np.einsum("tc,tc->t", facing, w[:, 9] - w[:, 8]) > 0).all()


def test_left_right_ranges_are_symmetric():
    ds = SyntheticMotion(SyntheticConfig(num_clips=400, clip_len=120))
    b = batch(ds, range(400))
    p = metres(b[TARGET_3D], b[SCALE_MM])
    rel = p - p[:, :, :1]  # root-relative
    spread = rel.std(axis=1).mean(-1)  # (N, 17): range of motion per clip and joint
    for r, l in LR_JOINTS:
        ratio = spread[:, r].mean() / spread[:, l].mean()
        assert 0.85 < ratio < 1.18, (r, l, ratio)
    # the mean pose is mirror-symmetric: no side is systematically higher
    for r, l in LR_JOINTS:
        assert abs(rel[:, :, r, 1].mean() - rel[:, :, l, 1].mean()) < 0.03


def _features(b: dict[str, np.ndarray]) -> np.ndarray:
    """Simple view-independent features of each clip (N, F)."""
    p = metres(b[TARGET_3D], b[SCALE_MM])  # (N, T, 17, 3)
    rel = p - p[:, :, :1]
    dist = np.linalg.norm(rel, axis=-1)  # (N, T, 17)
    hips = p[:, :, 4] - p[:, :, 1]
    yaw = np.unwrap(np.arctan2(hips[..., 2], hips[..., 0]), axis=1)
    fps = b[FPS][:, None]
    root_speed = np.linalg.norm(np.diff(p[:, :, 0], axis=1), axis=-1).mean(1, keepdims=True) * fps
    wrist_height = -rel[:, :, [13, 16], 1].max(-1).mean(1, keepdims=True)  # camera y points down
    return np.concatenate([
        dist.mean(1), dist.std(1), root_speed, p[:, :, 0, 1].std(1, keepdims=True), wrist_height,
        np.abs(np.diff(yaw, axis=1)).sum(1, keepdims=True), np.abs(rel[:, :, [13, 16], 1]).std(1),
    ], axis=1)  # fmt: skip


def test_classes_are_distinguishable():
    train = SyntheticMotion(SyntheticConfig(num_clips=300, clip_len=120, fps=30.0))
    test = SyntheticMotion(SyntheticConfig(num_clips=200, clip_len=120, fps=30.0, split="test"))
    tr, te = batch(train, range(300)), batch(test, range(200))
    f_tr, f_te = _features(tr), _features(te)
    mu, sd = f_tr.mean(0), f_tr.std(0) + 1e-9
    f_tr, f_te = (f_tr - mu) / sd, (f_te - mu) / sd
    centroids = np.stack([f_tr[tr[LABEL] == k].mean(0) for k in range(10)])
    pred = np.argmin(((f_te[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = (pred == te[LABEL]).mean()
    assert accuracy > 0.6, accuracy  # chance is 0.1


# ---------------------------------------------------------------------------------------- time
def test_exact_subsampling_across_frame_rates():
    for camera in ("orthographic", "perspective"):
        c60 = SyntheticConfig(num_clips=12, clip_len=120, fps=60.0, start_time=0.37, camera=camera)
        c30 = replace(c60, clip_len=60, fps=30.0)
        a, b = batch(SyntheticMotion(c60), range(12)), batch(SyntheticMotion(c30), range(12))
        np.testing.assert_allclose(b[INPUT], a[INPUT][:, ::2], atol=2e-6)
        np.testing.assert_allclose(b[TARGET_3D], a[TARGET_3D][:, ::2], atol=2e-6)
        assert not np.allclose(a[INPUT][:, 1::2], a[INPUT][:, ::2], atol=1e-3)  # odd frames are new
        assert (b[FPS] == 30.0).all() and (a[FPS] == 60.0).all()
        np.testing.assert_array_equal(b[SCALE_MM], a[SCALE_MM])


def test_render_motion_at_any_timestamps():
    cfg = SyntheticConfig(num_clips=10, clip_len=50, fps=25.0)
    clip = SyntheticMotion(cfg)[4]
    k = np.array([0, 3, 4, 17, 49])
    times = np.concatenate([k / 25.0, [0.0137, 1.5, 2.7333]])  # irregular, unsorted
    r = render_motion(cfg, 4, times)
    assert r[INPUT].shape == (8, 17, 3)
    np.testing.assert_allclose(r[INPUT][:5], clip[INPUT][k], atol=2e-6)
    np.testing.assert_allclose(r[TARGET_3D][:5], clip[TARGET_3D][k], atol=2e-6)
    assert r[LABEL] == clip[LABEL] and r[SUBJECT] == clip[SUBJECT]
    # continuity: a frame between two samples lies close to both
    near = render_motion(cfg, 4, [1.0, 1.0 + 1e-3])[TARGET_3D]
    assert np.abs(near[1] - near[0]).max() < 0.01
    r_full = SyntheticMotion(cfg).render(4, cfg.times)
    assert r_full[FPS] == 25.0
    np.testing.assert_array_equal(r_full[INPUT], clip[INPUT])


# ---------------------------------------------------------------------------------------- determinism
def test_deterministic_and_independent_of_batching_and_workers():
    cfg = SyntheticConfig(num_clips=16, clip_len=30, seed=5)
    a, b = SyntheticMotion(cfg), SyntheticMotion(cfg)
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    single = [a[i] for i in (9, 2, 5)]
    together = b.__getitems__([9, 2, 5])
    for s, t in zip(single, together, strict=True):
        np.testing.assert_allclose(s[INPUT], t[INPUT], atol=1e-6)
        assert s[SUBJECT] == t[SUBJECT] and s[LABEL] == t[LABEL]
    # no global random state was read or changed
    assert np.array_equal(np.random.get_state()[1], np_state) and torch.equal(torch.get_rng_state(), torch_state)
    reference = batch(a, range(16))[INPUT]
    loader = DataLoader(b, batch_size=3, shuffle=False, num_workers=2)
    loaded = torch.cat([x[INPUT] for x in loader]).numpy()
    np.testing.assert_allclose(loaded, reference, atol=1e-6)
    # a fresh process (a DDP rank, a spawned worker) renders the same item
    code = (
        "import numpy as np, sys; from hummuss_pl.data.synthetic import SyntheticConfig, SyntheticMotion; "
        "x = SyntheticMotion(SyntheticConfig(num_clips=16, clip_len=30, seed=5))[9]['input']; "
        "sys.stdout.write(' '.join(repr(float(v)) for v in x.ravel()[::37]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    np.testing.assert_allclose(np.array(out.split(), float), single[0][INPUT].ravel()[::37], atol=1e-6)
    other_seed = SyntheticMotion(replace(cfg, seed=6))[9][INPUT]
    assert not np.allclose(other_seed, single[0][INPUT])


def test_splits_are_disjoint():
    subjects, clips = {}, {}
    for split in ("train", "val", "test"):
        ds = SyntheticMotion(SyntheticConfig(num_clips=60, clip_len=10, split=split))
        b = batch(ds, range(60))
        subjects[split], clips[split] = set(b[SUBJECT].tolist()), b[TARGET_3D]
    assert not (subjects["train"] & subjects["val"]) and not (subjects["train"] & subjects["test"])
    assert not (subjects["val"] & subjects["test"])
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        # not the same clips, nor the same draws on other bodies: the pelvis paths differ too
        assert not np.isclose(clips[a], clips[b], atol=1e-3).all(axis=(1, 2, 3)).any()
        pelvis_gap = np.abs(clips[a][:, :, 0, 0] - clips[b][:, :, 0, 0]).max(axis=1)  # (N,)
        assert (pelvis_gap > 0.01).mean() > 0.9


# ---------------------------------------------------------------------------------------- cameras
def test_perspective_is_a_pinhole_projection():
    """2D = f X / Z (normalised by w) and label = s X: so label_x / input_x − 1 = label_z / (s D)
    for a single constant D per clip — checked without knowing the camera."""
    cfg = SyntheticConfig(num_clips=8, clip_len=40, camera="perspective", principal_point_jitter=0.0)
    b = batch(SyntheticMotion(cfg), range(8))
    x2, lab = b[INPUT][..., :2].astype(np.float64), b[TARGET_3D].astype(np.float64)
    assert (b[INPUT][..., 2] == 1).all()
    for n in range(8):
        ok = np.abs(x2[n]) > 0.05  # avoid dividing by ~0
        ratio = (lab[n][..., :2] / np.where(ok, x2[n], 1) - 1)[ok]  # (k,)
        z = np.broadcast_to(lab[n][..., 2:3], lab[n][..., :2].shape)[ok]
        c = (ratio * z).sum() / (z * z).sum()  # least squares: ratio = c · z
        assert np.abs(ratio - c * z).max() < 2e-4
        s = 1000.0 / b[SCALE_MM][n]  # units per metre
        depth = 1.0 / (s * c)
        assert cfg.camera_distance_m[0] - 0.01 < depth < cfg.camera_distance_m[1] + 0.01
        assert np.abs(x2[n] - lab[n][..., :2]).max() > 1e-3  # perspective is not orthographic here


def test_distant_perspective_camera_approaches_orthographic():
    far = dict(camera_distance_m=(1000.0, 1000.0), principal_point_jitter=0.02)
    still = ("wave", "squat", "kick", "punch", "idle")  # actors who stay within ±1 m of the stage centre
    ortho = SyntheticConfig(num_clips=10, clip_len=40, classes=still, **far)
    persp = replace(ortho, camera="perspective")
    bo, bp = batch(SyntheticMotion(ortho), range(10)), batch(SyntheticMotion(persp), range(10))
    np.testing.assert_array_equal(bo[SUBJECT], bp[SUBJECT])  # the same motions
    for n in range(10):
        expected_scale = bo[SCALE_MM][n] / bp[SCALE_MM][n]  # (units/m persp) / (units/m ortho)
        o, p = bo[INPUT][n, ..., :2].reshape(-1, 2), bp[INPUT][n, ..., :2].reshape(-1, 2)
        for axis in range(2):  # p ≈ a · o + offset (principal point)
            A = np.stack([o[:, axis], np.ones(len(o))], 1)
            (a, off), *_ = np.linalg.lstsq(A, p[:, axis], rcond=None)
            assert a == pytest.approx(expected_scale, rel=2e-3)
            assert np.abs(A @ [a, off] - p[:, axis]).max() < 2e-3 * np.ptp(p[:, axis]) + 1e-6
        # the 3D label in perspective mode is the same pose, in its own units
        np.testing.assert_allclose(metres(bp[TARGET_3D][n] - bp[TARGET_3D][n, :, :1], bp[SCALE_MM][n]),
                                   metres(bo[TARGET_3D][n] - bo[TARGET_3D][n, :, :1], bo[SCALE_MM][n]),
                                   atol=1e-4)  # fmt: skip


# ---------------------------------------------------------------------------------------- action layout
def test_action_layout_with_and_without_a_second_actor():
    cfg = SyntheticConfig(num_clips=10, clip_len=32, layout="action")
    s = SyntheticMotion(cfg)[3]
    assert s[INPUT].shape == (2, 32, 17, 3) and s[TARGET_3D].shape == (2, 32, 17, 3)
    assert (s[INPUT][1] == 0).all() and (s[INPUT][0, ..., 2] == 1).all()
    pose = SyntheticMotion(replace(cfg, layout="pose"))[3]
    np.testing.assert_allclose(s[INPUT][0], pose[INPUT], atol=1e-6)  # first person unchanged
    two = SyntheticMotion(replace(cfg, second_actor=True))[3]
    assert two[LABEL] == s[LABEL]
    np.testing.assert_allclose(two[INPUT][0], pose[INPUT], atol=1e-6)
    second = two[INPUT][1]
    assert (second[..., 2] == 1).all() and not np.allclose(second, two[INPUT][0], atol=1e-2)
    gap = np.abs(second[:, 0, 0] - two[INPUT][0, :, 0, 0]).mean() / 0.298  # metres apart, sideways
    assert gap > 0.3


# ---------------------------------------------------------------------------------------- errors
def test_clear_errors():
    with pytest.raises(ValueError, match="classes"):
        SyntheticConfig(classes=("walk", "moonwalk"))
    with pytest.raises(ValueError, match="fps"):
        SyntheticConfig(fps=0)
    with pytest.raises(ValueError, match="camera"):
        SyntheticConfig(camera="fisheye")
    with pytest.raises(ValueError, match="split"):
        SyntheticConfig(split="dev")
    with pytest.raises(ValueError, match="second_actor"):
        SyntheticConfig(second_actor=True)
    with pytest.raises(ValueError, match="camera_distance_m"):
        SyntheticConfig(camera_distance_m=(2.0, 3.0))
    ds = SyntheticMotion(SyntheticConfig(num_clips=3, clip_len=5))
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="times"):
        render_motion(ds.config, 0, np.zeros((2, 2)))
    assert SyntheticConfig(classes=["walk", "run"]).classes == ("walk", "run")  # lists from YAML are fine
