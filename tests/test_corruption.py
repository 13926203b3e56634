"""Pretraining corruption: realised rates, formulas and invariants, checked statistically.

Statistical checks use 4-sigma bounds from the binomial / normal sampling error, so an honest
implementation fails them with probability ~1e-4 per check, and every generator is seeded."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import norm

from hummuss_pl.batch import INPUT, SOURCE, TARGET_3D
from hummuss_pl.data import corruption as C
from hummuss_pl.data.corruption import (
    CorruptionConfig,
    augment,
    corrupt,
    corrupt_batch,
    interpolate_keyframes,
    mask_frames,
    random_flip,
    sample_keyframe_offsets,
)

# H36M-17 left/right pairs, written out from the joint names (1 r_hip … 16 r_wrist).
PAIRS = [(1, 4), (2, 5), (3, 6), (14, 11), (15, 12), (16, 13)]
CENTRE = [0, 7, 8, 9, 10]


@pytest.fixture(autouse=True)
def _one_thread():
    """Intra-op threads fight over this machine's 2 shared cores; one thread is much faster here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(B: int, T: int, J: int = 17, seed: int = 123) -> torch.Tensor:
    """Keypoints with no exact zeros anywhere: x, y in ±[0.05, 0.85], confidence in [0.5, 1]."""
    g = gen(seed)
    xy = (torch.rand((B, T, J, 2), generator=g) * 0.8 + 0.05) * torch.where(torch.rand((B, T, J, 2), generator=g) < 0.5, -1, 1)
    conf = 0.5 + 0.5 * torch.rand((B, T, J, 1), generator=g)
    return torch.cat([xy, conf], -1)


def assert_binomial(count: float, n: int, p: float, k: float = 4.0) -> None:
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(count - n * p) <= k * sigma, f"realised {count / n:.5f}, expected {p:.5f} (n={n}, 4σ={k * sigma / n:.5f})"


NOISE_ONLY = CorruptionConfig(mask_joint_ratio=0.0, mask_frame_ratio=0.0)
MASK_ONLY = CorruptionConfig(noise=False, mask_frame_ratio=0.0)


# ---------------------------------------------------------------------------------------- constants
# Read from MotionBERT's own files (Walter0807/MotionBERT, commit dccfe7b), not from our copy:
# params/synthetic_noise.pth (torch.load: mean (17, 2), std (17, 2), weight (17,), float64) and
# params/d2c_params.pkl ({a, b: float, m, s: numpy float32}). Checksums are math.fsum over each
# table's float64 values and their squares (exactly rounded, so independent of summation order).
OFFICIAL_CHECKSUMS = {  # table: (sum, sum of squares)
    "mean": (0.012373822055255088, 0.00016939773208377165),
    "std": (0.1960368813364602, 0.001200272218404165),
    "weight": (15.079215054145603, 13.498733215455276),
}
# Values at every row / column boundary (rows 0, 1, 15, 16 = root, r_hip, r_elbow, r_wrist) and more.
OFFICIAL_MEAN = {
    (0, 0): 0.0008132532206415176, (0, 1): 0.0002123957794343385,
    (1, 0): -0.00014820766367979008, (1, 1): 0.001997602659830032,
    (8, 0): 0.0021412224082639135, (8, 1): -0.006508411043969023,
    (15, 0): 0.0016822635945976643, (15, 1): -0.0003300032534713677,
    (16, 0): 0.001663880852602262, (16, 1): 0.0013175154893377186,
}  # fmt: skip
OFFICIAL_STD = {
    (0, 0): 0.003662630041640461, (0, 1): 0.0035726057983897614,
    (1, 0): 0.0071349284931432454, (1, 1): 0.005109186552172369,
    (6, 0): 0.009505804410684347, (6, 1): 0.005625369112028657,
    (15, 0): 0.006009086297262234, (15, 1): 0.005721288594996581,
    (16, 0): 0.005370299691147723, (16, 1): 0.005684071647289275,
}  # fmt: skip
OFFICIAL_WEIGHT = {0: 0.9987454248783952, 1: 0.9669543010510732, 13: 0.7027702297593045, 15: 0.8246287738293403,
                   16: 0.7287476097892377}  # fmt: skip
OFFICIAL_D2C_FLOAT32 = {"m": -0.004585696384310722, "s": 0.14310568571090698}  # the stored float32 values


def test_noise_tables_have_motionberts_shapes_values_and_checksums():
    tables = {"mean": C.MOTIONBERT_NOISE_MEAN, "std": C.MOTIONBERT_NOISE_STD, "weight": C.MOTIONBERT_NOISE_WEIGHT}
    shapes = {"mean": (17, 2), "std": (17, 2), "weight": (17,)}
    for name, table in tables.items():
        values = np.asarray(table, dtype=np.float64)
        assert values.shape == shapes[name], name
        flat = values.ravel().tolist()
        assert (math.fsum(flat), math.fsum(v * v for v in flat)) == OFFICIAL_CHECKSUMS[name], name
    for (row, col), value in OFFICIAL_MEAN.items():
        assert C.MOTIONBERT_NOISE_MEAN[row][col] == value, (row, col)
    for (row, col), value in OFFICIAL_STD.items():
        assert C.MOTIONBERT_NOISE_STD[row][col] == value, (row, col)
    for row, value in OFFICIAL_WEIGHT.items():
        assert C.MOTIONBERT_NOISE_WEIGHT[row] == value, row
    assert int(np.argmin(C.MOTIONBERT_NOISE_WEIGHT)) == 13  # the wrists are the least reliable
    assert sorted(np.argsort(C.MOTIONBERT_NOISE_WEIGHT)[:2]) == [13, 16]
    assert all(s > 0 for row in C.MOTIONBERT_NOISE_STD for s in row) and all(0 < w < 1 for w in C.MOTIONBERT_NOISE_WEIGHT)


def test_confidence_constants_are_motionberts():
    assert set(C.MOTIONBERT_D2C) == {"a", "b", "m", "s"}
    assert C.MOTIONBERT_D2C["a"] == 0.028 and C.MOTIONBERT_D2C["b"] == 1.1  # stored as Python floats
    for key, value in OFFICIAL_D2C_FLOAT32.items():  # stored as float32: our constant rounds to the same float32
        assert np.float32(C.MOTIONBERT_D2C[key]) == np.float32(value), key
        assert C.MOTIONBERT_D2C[key] == pytest.approx(value, rel=1e-7), key
    d = CorruptionConfig()
    assert (d.conf_a, d.conf_b, d.conf_m, d.conf_s) == tuple(C.MOTIONBERT_D2C[k] for k in "abms")
    assert (d.num_keyframes, d.uniform_range, d.jitter_std, d.mask_joint_ratio) == (27, 0.06, 0.002, 0.15)


# ---------------------------------------------------------------------------------------- masking
def test_joint_mask_rate_and_only_masked_joints_change():
    x = batch(48, 256)  # 208,896 joints
    y = corrupt(x, MASK_ONLY, gen(1))
    zero = (y == 0).all(-1)  # (B, T, J)
    assert_binomial(zero.sum().item(), zero.numel(), 0.15)
    assert torch.equal(y[~zero], x[~zero])  # everything else bit-identical
    partly = (y == 0).any(-1) & ~zero
    assert not partly.any()  # masking zeroes all three channels or none


def test_frame_mask_rate_per_sample():
    x = batch(800, 256, J=2)  # 204,800 frames
    cfg = CorruptionConfig(noise=False, mask_joint_ratio=0.0, mask_frame_ratio=0.1)
    y = corrupt(x, cfg, gen(2))
    frame_zero = (y == 0).flatten(2).all(-1)  # (B, T)
    assert_binomial(frame_zero.sum().item(), frame_zero.numel(), 0.1)
    assert torch.equal(y[~frame_zero], x[~frame_zero])
    assert not (y == 0).flatten(2).any(-1)[~frame_zero].any()
    # one mask per sample: the rows differ
    assert (frame_zero != frame_zero[:1]).any(dim=1).float().mean() > 0.99


def test_frame_mask_shared_over_batch():
    x = batch(3, 60_000, J=1)
    y = mask_frames(x, 0.1, shared=True, generator=gen(3))
    frame_zero = (y == 0).flatten(2).all(-1)  # (B, T)
    assert torch.equal(frame_zero[0], frame_zero[1]) and torch.equal(frame_zero[0], frame_zero[2])
    assert_binomial(frame_zero[0].sum().item(), frame_zero.shape[1], 0.1)
    y2 = corrupt(x, CorruptionConfig(noise=False, mask_joint_ratio=0.0, mask_frame_ratio=0.1, share_frame_mask=True), gen(3))
    assert torch.equal((y2 == 0).flatten(2).all(-1)[0], (y2 == 0).flatten(2).all(-1)[2])


# ---------------------------------------------------------------------------------------- noise
def test_keyframe_mixture_share_and_components():
    B, K = 2500, 27  # 67,500 draws per joint
    x = torch.zeros(1)
    offsets, gaussian = sample_keyframe_offsets(B, K, NOISE_ONLY, x, gen(4))
    assert offsets.shape == (B, K, 17, 2) and gaussian.shape == (B, K, 17)
    weight = np.array(C.MOTIONBERT_NOISE_WEIGHT)
    mean, std = np.array(C.MOTIONBERT_NOISE_MEAN), np.array(C.MOTIONBERT_NOISE_STD)
    n = B * K
    for j in range(17):
        g = gaussian[:, :, j]
        assert_binomial(g.sum().item(), n, weight[j])
        gs = offsets[:, :, j][g].double().numpy()  # (n_g, 2)
        us = offsets[:, :, j][~g].double().numpy()
        se_mean = std[j] / math.sqrt(len(gs))
        assert np.all(np.abs(gs.mean(0) - mean[j]) <= 4 * se_mean)
        assert np.all(np.abs(gs.std(0) - std[j]) <= 4 * std[j] / math.sqrt(2 * len(gs)))
        assert np.all(np.abs(us) <= 0.03)  # uniform on ±uniform_range / 2
        u_sd = 0.06 / math.sqrt(12)
        assert np.all(np.abs(us.mean(0)) <= 4 * u_sd / math.sqrt(len(us)))
        assert np.all(np.abs(us.std(0) - u_sd) <= 4 * u_sd * math.sqrt(0.8 / len(us)))  # var of U² is 4/5 σ⁴


def test_corrupt_uses_the_mixture_end_to_end():
    """Through `corrupt` (T = K, so every frame is a keyframe; no jitter): the share of offsets
    outside a ±4.5σ box around the Gaussian mean matches the share computed from the table."""
    cfg = CorruptionConfig(mask_joint_ratio=0.0, jitter_std=0.0, num_keyframes=27)
    x = batch(1500, 27)
    offset = (corrupt(x, cfg, gen(5))[..., :2] - x[..., :2]).double().numpy()  # (B, T, J, 2)
    mean, std = np.array(C.MOTIONBERT_NOISE_MEAN), np.array(C.MOTIONBERT_NOISE_STD)
    w, c, half = np.array(C.MOTIONBERT_NOISE_WEIGHT), 4.5 * std, 0.03
    outside = (np.abs(offset - mean) > c + 1e-6).any(-1)  # (B, T, J)
    inside_uniform = (np.minimum(mean + c, half) - np.maximum(mean - c, -half)) / (2 * half)  # (J, 2)
    p = w * (1 - (1 - 2 * norm.sf(4.5)) ** 2) + (1 - w) * (1 - inside_uniform.prod(-1))  # (J,)
    n = offset.shape[0] * offset.shape[1]
    expected, var = n * p.sum(), n * (p * (1 - p)).sum()
    assert abs(outside.sum() - expected) <= 4 * math.sqrt(var), (outside.sum(), expected)


def test_jitter_std_and_sharing():
    cfg = CorruptionConfig(mask_joint_ratio=0.0, keyframe_offsets=False, resynthesise_confidence=False)
    x = batch(48, 256)
    offset = (corrupt(x, cfg, gen(6))[..., :2] - x[..., :2]).double()
    n = offset.numel()
    assert abs(offset.mean().item()) <= 4 * 0.002 / math.sqrt(n)
    # x + offset is rounded to float32 (~3e-8 here), negligible next to 0.002
    assert abs(offset.std().item() - 0.002) <= 4 * 0.002 / math.sqrt(2 * n) + 1e-7
    assert abs(np.corrcoef(offset[0].flatten(), offset[1].flatten())[0, 1]) < 4 / math.sqrt(offset[0].numel())
    shared = (corrupt(x, replace(cfg, share_jitter=True), gen(6))[..., :2] - x[..., :2])
    assert torch.allclose(shared[0], shared[5], atol=1e-6)


def test_keyframes_are_interpolated_linearly():
    cfg = CorruptionConfig(mask_joint_ratio=0.0, jitter_std=0.0, num_keyframes=14)
    x = batch(8, 27)  # T − 1 = 2 (K − 1): keyframes on even frames, midpoints on odd ones
    offset = corrupt(x, cfg, gen(7))[..., :2].double() - x[..., :2].double()
    mid = (offset[:, 0:-1:2] + offset[:, 2::2]) / 2
    assert torch.allclose(offset[:, 1::2], mid, atol=2e-7)
    assert offset[:, ::2].std() > 1e-3  # the keyframes themselves vary
    # the helper against numpy's piecewise-linear interpolation
    keys = torch.randn((3, 7, 5), generator=gen(8), dtype=torch.float64)
    out = interpolate_keyframes(keys, 100)
    t = np.linspace(0, 6, 100)
    ref = np.stack([[np.interp(t, np.arange(7), keys[b, :, i].numpy()) for i in range(5)] for b in range(3)]).transpose(0, 2, 1)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)
    assert interpolate_keyframes(keys, 1).shape == (3, 1, 5)


def test_confidence_formula_without_random_shift():
    a, b, m = 0.028, 1.1, -0.0045856964
    cfg = CorruptionConfig(mask_joint_ratio=0.0, conf_s=0.0)
    x = batch(16, 81)
    y = corrupt(x, cfg, gen(9)).double()
    d = (y[..., :2] - x[..., :2].double()).norm(dim=-1)
    expected = (a / (d + a) + b * d + m).clamp(0, 1)
    assert torch.allclose(y[..., 2], expected, atol=1e-4)
    assert (y[..., 2] < 0.9).float().mean() > 0.05  # the formula really varies here


def test_confidence_random_shift_distribution():
    a, b = 0.028, 1.1
    x = batch(48, 256)
    # a small shift keeps values away from the clipping bounds: residuals must be N(m, s)
    cfg = CorruptionConfig(mask_joint_ratio=0.0, conf_m=0.01, conf_s=0.02)
    y = corrupt(x, cfg, gen(10)).double()
    d = (y[..., :2] - x[..., :2].double()).norm(dim=-1)
    f = a / (d + a) + b * d
    sel = (f > 0.2) & (f < 0.8)
    r = (y[..., 2] - f)[sel]
    assert sel.sum() > 10_000
    assert abs(r.mean().item() - 0.01) <= 4 * 0.02 / math.sqrt(r.numel()) + 1e-5
    assert abs(r.std().item() - 0.02) <= 4 * 0.02 / math.sqrt(2 * r.numel()) + 1e-5
    # MotionBERT's shift: the share clipped to 1 matches P(f + N(m, s) ≥ 1)
    y = corrupt(x, NOISE_ONLY, gen(11)).double()
    d = (y[..., :2] - x[..., :2].double()).norm(dim=-1)
    p = norm.sf((1 - (a / (d + a) + b * d).numpy() - C.MOTIONBERT_D2C["m"]) / C.MOTIONBERT_D2C["s"])
    clipped = (y[..., 2] >= 1.0 - 1e-6).sum().item()
    assert abs(clipped - p.sum()) <= 4 * math.sqrt((p * (1 - p)).sum())


# ---------------------------------------------------------------------------------------- invariants
def test_nothing_changes_where_nothing_should():
    x = batch(6, 40)
    before = x.clone()
    off = corrupt(x, CorruptionConfig.off(), gen(12))
    assert torch.equal(off, x) and off is not x
    corrupt(x, CorruptionConfig(), gen(12))
    assert torch.equal(x, before)  # the input is never modified in place
    # samples exempted from noise are untouched (no masking here)
    noisy = torch.tensor([True, False, True, False, False, True])
    y = corrupt(x, NOISE_ONLY, gen(13), noisy=noisy)
    assert torch.equal(y[~noisy], x[~noisy]) and not torch.equal(y[noisy], x[noisy])
    # missing joints (confidence 0) stay missing
    x_missing = x.clone()
    x_missing[:, :, [3, 9]] = 0.0
    y = corrupt(x_missing, NOISE_ONLY, gen(14))
    assert torch.equal(y[:, :, [3, 9]], torch.zeros_like(y[:, :, [3, 9]]))
    assert not torch.equal(y[:, :, [0, 1]], x_missing[:, :, [0, 1]])
    y_mb = corrupt(x_missing, CorruptionConfig(mask_joint_ratio=0.0, keep_missing=False), gen(14))
    assert (y_mb[:, :, 3, :2] != 0).all()  # MotionBERT's behaviour: missing joints get noised
    # without confidence re-synthesis the confidence is the input's
    y = corrupt(x, CorruptionConfig(mask_joint_ratio=0.0, resynthesise_confidence=False), gen(15))
    assert torch.equal(y[..., 2], x[..., 2])


def test_seeded_generator_is_reproducible_and_dtype_kept():
    x = batch(4, 64)
    cfg = CorruptionConfig(mask_frame_ratio=0.1)
    assert torch.equal(corrupt(x, cfg, gen(16)), corrupt(x, cfg, gen(16)))
    assert not torch.equal(corrupt(x, cfg, gen(16)), corrupt(x, cfg, gen(17)))
    assert corrupt(x, cfg).shape == x.shape  # default generator works too
    assert corrupt(x.double(), cfg, gen(16)).dtype == torch.float64
    a, ta, fa = random_flip(x, x + 1, 0.5, gen(18))
    b, tb, fb = random_flip(x, x + 1, 0.5, gen(18))
    assert torch.equal(a, b) and torch.equal(ta, tb) and torch.equal(fa, fb)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_generator_gives_the_same_corruption_on_gpu():
    x = batch(4, 64)
    cfg = CorruptionConfig(mask_frame_ratio=0.1)
    cpu = corrupt(x, cfg, gen(19))
    gpu = corrupt(x.cuda(), cfg, gen(19))
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------- flip
def test_flip_swaps_left_right_and_twice_is_identity():
    x = batch(5, 7)
    y, t, flipped = random_flip(x, x * 2, prob=1.0, generator=gen(20))
    assert flipped.all()
    for r, l in PAIRS:
        for a, b in ((r, l), (l, r)):
            assert torch.equal(y[..., a, 0], -x[..., b, 0])
            assert torch.equal(y[..., a, 1:], x[..., b, 1:])
    for c in CENTRE:
        assert torch.equal(y[..., c, 0], -x[..., c, 0]) and torch.equal(y[..., c, 1:], x[..., c, 1:])
    assert torch.equal(t, y * 2)  # the target is flipped with its input
    twice, _, _ = random_flip(y, None, prob=1.0, generator=gen(21))
    assert torch.equal(twice, x)
    same, none, flipped = random_flip(x, None, prob=0.0, generator=gen(22))
    assert torch.equal(same, x) and none is None and not flipped.any()


def test_flip_rate_and_input_target_agree():
    x = batch(4000, 2)
    target = torch.randn((4000, 2, 17, 3), generator=gen(23))
    y, t, flipped = random_flip(x, target, prob=0.5, generator=gen(24))
    assert_binomial(flipped.sum().item(), 4000, 0.5)
    changed_in = (y != x).flatten(1).any(1)
    changed_tgt = (t != target).flatten(1).any(1)
    assert torch.equal(changed_in, flipped) and torch.equal(changed_tgt, flipped)
    # action layout (B, M, T, J, C) flips too
    xa = batch(6, 8).reshape(3, 2, 8, 17, 3)
    ya, _, fa = random_flip(xa, None, prob=1.0, generator=gen(25))
    assert torch.equal(ya[:, :, :, 4, 1:], xa[:, :, :, 1, 1:]) and fa.all()


def test_augment_flips_then_corrupts():
    x, target = batch(64, 9), torch.randn((64, 9, 17, 3), generator=gen(26))
    cfg = replace(CorruptionConfig.off(), flip_prob=0.5)
    y, t = augment(x, target, cfg, gen(27))
    y_ref, t_ref, _ = random_flip(x, target, 0.5, gen(27))
    assert torch.equal(y, y_ref) and torch.equal(t, t_ref)
    y, t = augment(x, target, CorruptionConfig(), gen(27))
    assert torch.equal(t, t_ref)  # the same flips, and the target is never corrupted
    assert ((y == 0).all(-1).float().mean() - 0.15).abs() < 0.03


def test_corrupt_batch_on_sample_dicts():

    x, target = batch(32, 9), torch.randn((32, 9, 17, 3), generator=gen(28))
    b = {INPUT: x, TARGET_3D: target, SOURCE: ["synthetic"] * 32}
    out = corrupt_batch(b, CorruptionConfig(), "clean", gen(29))
    y_ref, t_ref, _ = random_flip(x, target, 0.5, gen(29))
    assert torch.equal(out["clean"], y_ref) and torch.equal(out[TARGET_3D], t_ref)
    assert out[SOURCE] is b[SOURCE] and b[INPUT] is x  # the input dict is not changed
    zero = (out[INPUT] == 0).all(-1)
    assert 0.1 < zero.float().mean() < 0.2
    assert not torch.equal(out[INPUT][~zero][..., :2], y_ref[~zero][..., :2])  # noised
    only_input = corrupt_batch({INPUT: x}, CorruptionConfig.off(), None, gen(30))
    assert set(only_input) == {INPUT}
    with pytest.raises(ValueError, match="input"):
        corrupt_batch({TARGET_3D: target}, CorruptionConfig())


# ---------------------------------------------------------------------------------------- errors
def test_clear_errors():
    with pytest.raises(ValueError, match="mask_joint_ratio"):
        CorruptionConfig(mask_joint_ratio=1.5)
    with pytest.raises(ValueError, match="num_keyframes"):
        CorruptionConfig(num_keyframes=0)
    with pytest.raises(ValueError, match="jitter_std"):
        CorruptionConfig(jitter_std=-1.0)
    with pytest.raises(ValueError, match=r"\(B, T, J, 3\)"):
        corrupt(torch.zeros(4, 17, 3), CorruptionConfig())
    with pytest.raises(ValueError, match="H36M-17"):
        corrupt(torch.ones(2, 5, 16, 3), CorruptionConfig())
    assert corrupt(torch.ones(2, 5, 16, 3), CorruptionConfig(noise=False), gen(0)).shape == (2, 5, 16, 3)
    with pytest.raises(ValueError, match="noisy"):
        corrupt(batch(2, 3), CorruptionConfig(), noisy=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="batch size"):
        random_flip(batch(2, 3), batch(3, 3))


def test_motionbert_preset():
    mb = CorruptionConfig.motionbert()
    assert (mb.mask_joint_ratio, mb.mask_frame_ratio, mb.share_frame_mask, mb.share_jitter, mb.keep_missing) == (
        0.05, 0.1, True, True, False,
    )  # fmt: skip
    assert mb.noise and mb.num_keyframes == 27 and mb.flip_prob == 0.5
