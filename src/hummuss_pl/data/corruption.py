"""Pretraining corruption of 2D keypoint batches (issue 4 §3): noise, masking, horizontal flip.

The cloze pretext task (SPEC §6) lifts *corrupted* 2D sequences to clean 3D. Corruption runs on the
batch where it lives (CPU or GPU), as MotionBERT's Augmenter2D does, so it costs the DataLoader
nothing. Inputs are (B, T, J, 3) tensors of x, y, confidence in normalised screen units (batch.py);
a missing joint is all zeros (confidence 0).

What `corrupt(x, config, generator)` does, in this order:

1. Noise (`config.noise`), per sample and joint:
   - keyframe offsets: at K = `num_keyframes` (27) evenly spaced keyframes each joint gets a 2D
     offset drawn from a mixture: with probability weight_j a Gaussian N(mean_j, std_j) (per axis),
     otherwise uniform (U(0, 1) − 0.5) · `uniform_range`; the offsets are linearly interpolated in
     time to the T frames (keyframe k sits at frame k·(T−1)/(K−1)), so errors drift smoothly like a
     detector's;
   - per-frame jitter: iid N(0, `jitter_std`) per frame, joint and axis (per sample by default;
     `share_jitter=True` draws one jitter for the whole batch, as MotionBERT does);
   - confidence re-synthesised from the offset size d = |offset|:
     conf = a / (d + a) + b · d + N(m, s), clipped to [0, 1] (`resynthesise_confidence`).
   Joints whose input confidence is 0 (missing) are left as they are (`keep_missing`; MotionBERT
   noises them too and gives them a confidence). Samples can be exempted with `noisy` (B,) bool,
   e.g. for sources MotionBERT does not noise (InstaVariety).
2. Joint masking: every (sample, frame, joint) is zeroed — all three channels, there is no mask
   token — with probability `mask_joint_ratio` (paper: 15 %).
3. Frame masking: every (sample, frame) is zeroed with probability `mask_frame_ratio`; one mask
   per sample by default, one mask shared by the whole batch with `share_frame_mask=True` (MotionBERT).

Flipping needs the 3D target too, so it is separate: `random_flip(x, target, prob, generator)`
mirrors each chosen sample (x negated, left/right joints swapped, `skeleton.flip_h36m`) in input
and target together; `augment(x, target, config, generator)` flips, then corrupts.

Randomness: every draw takes the optional `torch.Generator`. Numbers are drawn on the generator's
device and moved to the batch, so a CPU generator gives the same corruption for a CPU or a GPU
batch; without a generator torch's default generator of the batch's device is used. Nothing here
seeds anything globally.

Constants: the per-joint noise table and the distance-to-confidence parameters are MotionBERT's
(Walter0807/MotionBERT, commit dccfe7b: `params/synthetic_noise.pth` read with torch.load, keys
mean (17, 2), std (17, 2), weight (17,), float64; `params/d2c_params.pkl` {a, b, m, s}, m and s
stored as float32). The file has no `uniform_range`, so MotionBERT's fallback 0.06 applies; its
jitter std 0.002 and 27 keyframes are constants in its `lib/data/augmentation.py`. The rows are
joints in H36M-17 order. Differences from MotionBERT's shipped pretraining settings (use
`CorruptionConfig.motionbert()` to get those): the defaults follow the HumMUSS paper (15 % joint
masking, no frame masking), draw jitter and frame masks per sample, keep missing joints missing,
and apply each masking whenever its own rate is > 0 (MotionBERT masks only when both rates are > 0).

For DataModules, `corrupt_batch(batch, config, clean_key, generator)` does the same on a sample-dict
batch (batch.py): flips INPUT and TARGET_3D together, keeps the clean (flipped) input under
`clean_key` (the target of the 2D loss), and corrupts INPUT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor

from hummuss_pl.batch import INPUT, TARGET_3D
from hummuss_pl.skeleton import NUM_JOINTS, flip_h36m

__all__ = [
    "MOTIONBERT_NOISE_MEAN",
    "MOTIONBERT_NOISE_STD",
    "MOTIONBERT_NOISE_WEIGHT",
    "MOTIONBERT_D2C",
    "CorruptionConfig",
    "corrupt",
    "corrupt_batch",
    "augment",
    "random_flip",
    "add_noise",
    "sample_keyframe_offsets",
    "interpolate_keyframes",
    "confidence_from_offset",
    "mask_joints",
    "mask_frames",
]

# MotionBERT params/synthetic_noise.pth (commit dccfe7b), rows = H36M-17 joints, columns = (x, y).
MOTIONBERT_NOISE_MEAN: tuple[tuple[float, float], ...] = (
    (0.0008132532206415176, 0.0002123957794343385),     # 0 root
    (-0.00014820766367979008, 0.001997602659830032),    # 1 r_hip
    (0.002038824210894637, -0.0015100829056781799),     # 2 r_knee
    (0.0009438474570305246, 0.0009083699237753135),     # 3 r_ankle
    (0.001867110248528105, -0.0007037034450687731),     # 4 l_hip
    (0.0019328396070487199, -0.005204165804974786),     # 5 l_knee
    (0.0008942056436280798, -0.001871771113689443),     # 6 l_ankle
    (0.002467694312049389, 0.0023339168741767025),      # 7 belly
    (0.0021412224082639135, -0.006508411043969023),     # 8 neck
    (0.0016559242552996734, 0.0016551084378241497),     # 9 nose
    (0.0008369439689565895, 0.0015929352238531081),     # 10 head
    (0.0007939353618974142, -0.004621909163123653),     # 11 l_shoulder
    (0.0014993540020391042, 0.00029601713545545814),    # 12 l_elbow
    (0.0011591824590848712, 0.0016299643529509432),     # 13 l_wrist
    (0.002103820868195803, -0.003166051898485928),      # 14 r_shoulder
    (0.0016822635945976643, -0.0003300032534713677),    # 15 r_elbow
    (0.001663880852602262, 0.0013175154893377186),      # 16 r_wrist
)  # fmt: skip
MOTIONBERT_NOISE_STD: tuple[tuple[float, float], ...] = (
    (0.003662630041640461, 0.0035726057983897614),
    (0.0071349284931432454, 0.005109186552172369),
    (0.006084422689136702, 0.005003425844735228),
    (0.00895302418680377, 0.00529317413820226),
    (0.006716577444309778, 0.005327725905047089),
    (0.007012923918432476, 0.00492122980480096),
    (0.009505804410684347, 0.005625369112028657),
    (0.006588318921158009, 0.004967669570185413),
    (0.005491424744604293, 0.005305329016810842),
    (0.005338831246369957, 0.004876642002854535),
    (0.00341637764777077, 0.0034922421450041914),
    (0.008006617254463182, 0.006087204448522537),
    (0.005167672298473774, 0.00475361500588003),
    (0.004990403929579402, 0.005089037811800102),
    (0.007823454557123282, 0.007934266165636946),
    (0.006009086297262234, 0.005721288594996581),
    (0.005370299691147723, 0.005684071647289275),
)  # fmt: skip
# Probability that a joint's keyframe offset is Gaussian (else uniform); lowest at the wrists.
MOTIONBERT_NOISE_WEIGHT: tuple[float, ...] = (
    0.9987454248783952, 0.9669543010510732, 0.8896068688589165, 0.8938353296160423, 0.9746202074492064,
    0.876672936095582, 0.8210062542870395, 0.9578073863968175, 0.9183146347407266, 0.9679403167247258,
    0.9841198119110484, 0.890993166463285, 0.8015561746381451, 0.7027702297593045, 0.8808956276567164,
    0.8246287738293403, 0.7287476097892377,
)  # fmt: skip
# MotionBERT params/d2c_params.pkl: conf = a / (d + a) + b · d + N(m, s).
MOTIONBERT_D2C = {"a": 0.028, "b": 1.1, "m": -0.0045856964, "s": 0.14310569}


@dataclass(frozen=True)
class CorruptionConfig:
    """Rates and switches of the pretraining corruption (defaults: the HumMUSS paper's recipe with
    MotionBERT's noise model; `CorruptionConfig.motionbert()` is MotionBERT's shipped setting,
    `CorruptionConfig.off()` changes nothing).

    Masking, a choice made here: the paper states only that 15 % of the joints are masked, so the
    default is `mask_joint_ratio=0.15` with whole-frame masking off (`mask_frame_ratio=0.0`).
    MotionBERT's released pretraining also zeroes whole frames (MB_pretrain.yaml: 5 % of joints
    and 10 % of frames, one frame mask for the batch); `motionbert()` reproduces that, and
    `mask_frame_ratio` alone adds frame masking to the paper's joint rate (docs/DATA.md).
    """

    mask_joint_ratio: float = 0.15
    mask_frame_ratio: float = 0.0
    share_frame_mask: bool = False  # True: one frame mask for the whole batch (MotionBERT)
    noise: bool = True
    keyframe_offsets: bool = True  # the Gaussian/uniform keyframe mixture (False: jitter only)
    num_keyframes: int = 27
    uniform_range: float = 0.06
    jitter_std: float = 0.002
    share_jitter: bool = False  # True: one jitter draw for the whole batch (MotionBERT)
    resynthesise_confidence: bool = True  # False: keep the input confidence
    conf_a: float = MOTIONBERT_D2C["a"]
    conf_b: float = MOTIONBERT_D2C["b"]
    conf_m: float = MOTIONBERT_D2C["m"]
    conf_s: float = MOTIONBERT_D2C["s"]
    keep_missing: bool = True  # joints with input confidence 0 stay untouched by the noise
    flip_prob: float = 0.5  # used by `augment` / `random_flip`

    def __post_init__(self) -> None:
        for name in ("mask_joint_ratio", "mask_frame_ratio", "flip_prob"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"CorruptionConfig.{name} must be a probability in [0, 1]; got {value!r}")
        if int(self.num_keyframes) != self.num_keyframes or self.num_keyframes < 1:
            raise ValueError(f"CorruptionConfig.num_keyframes must be a positive integer; got {self.num_keyframes!r}")
        for name in ("uniform_range", "jitter_std", "conf_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"CorruptionConfig.{name} must be finite and >= 0; got {value!r}")
        if not (math.isfinite(self.conf_a) and self.conf_a > 0):
            raise ValueError(f"CorruptionConfig.conf_a must be > 0 (it sets conf = 1 at zero offset); got {self.conf_a!r}")
        for name in ("conf_b", "conf_m"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"CorruptionConfig.{name} must be finite; got {getattr(self, name)!r}")

    @classmethod
    def motionbert(cls) -> "CorruptionConfig":
        """MotionBERT's pretraining setting (MB_pretrain.yaml + Augmenter2D): 5 % joints, 10 % frames
        with one frame mask and one jitter for the batch, missing joints noised like the others."""
        return cls(mask_joint_ratio=0.05, mask_frame_ratio=0.1, share_frame_mask=True, share_jitter=True, keep_missing=False)

    @classmethod
    def off(cls) -> "CorruptionConfig":
        """No corruption at all (fine-tuning); flips stay available through `flip_prob`."""
        return cls(mask_joint_ratio=0.0, mask_frame_ratio=0.0, noise=False)


# ---------------------------------------------------------------------------------------- helpers
def _check_batch(x: Tensor, name: str = "batch_input") -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, T, J, 3); got {type(x).__name__}")
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (B, T, J, 3) with channels (x, y, confidence); got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got {x.dtype}")


def _uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) float32 on like.device, drawn on the generator's device."""
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device, dtype=torch.float32).to(like.device)


def _normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=torch.float32).to(like.device)


def _table(values, like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, device=like.device)


# ---------------------------------------------------------------------------------------- noise
def sample_keyframe_offsets(
    batch_size: int, num_keyframes: int, config: CorruptionConfig, like: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Keyframe offsets (B, K, 17, 2) from the per-joint Gaussian/uniform mixture, and which draws
    were Gaussian (B, K, 17) bool. `like` gives the device."""
    shape = (batch_size, num_keyframes, NUM_JOINTS)
    mean, std = _table(MOTIONBERT_NOISE_MEAN, like), _table(MOTIONBERT_NOISE_STD, like)  # (J, 2)
    weight = _table(MOTIONBERT_NOISE_WEIGHT, like)  # (J,)
    gaussian = _uniform(shape, like, generator) < weight  # (B, K, J)
    g = _normal(shape + (2,), like, generator) * std + mean
    u = (_uniform(shape + (2,), like, generator) - 0.5) * config.uniform_range
    return torch.where(gaussian[..., None], g, u), gaussian


def interpolate_keyframes(keys: Tensor, num_frames: int) -> Tensor:
    """Linear interpolation of (B, K, ...) keyframe values to (B, T, ...): keyframe k at frame
    k·(T − 1)/(K − 1), the ends pinned to the first and last keyframe (align-corners)."""
    B, K = keys.shape[:2]
    if K == 1 or num_frames == 1:
        return keys[:, :1].expand((B, num_frames) + keys.shape[2:]).clone()
    pos = torch.arange(num_frames, device=keys.device, dtype=torch.float64) * ((K - 1) / (num_frames - 1))  # (T,)
    left = pos.floor().long().clamp(max=K - 2)
    w = (pos - left).to(keys.dtype).view((1, num_frames) + (1,) * (keys.dim() - 2))  # (1, T, 1, ...)
    return keys[:, left] * (1 - w) + keys[:, left + 1] * w


def confidence_from_offset(d: Tensor, config: CorruptionConfig, generator: torch.Generator | None = None) -> Tensor:
    """conf = a / (d + a) + b · d + N(m, s), clipped to [0, 1]; d ≥ 0 is the offset size."""
    a, b = config.conf_a, config.conf_b
    shift = _normal(tuple(d.shape), d, generator) * config.conf_s + config.conf_m
    return (a / (d + a) + b * d + shift).clamp(0.0, 1.0)


def add_noise(
    batch_input: Tensor, config: CorruptionConfig, generator: torch.Generator | None = None, noisy: Tensor | None = None
) -> Tensor:
    """Keyframe offsets + per-frame jitter on x, y and a confidence re-synthesised from the offset
    size (see the module docstring). batch_input (B, T, 17, 3); noisy (B,) bool picks the samples
    to noise (default all). Returns a new tensor."""
    _check_batch(batch_input)
    B, T, J, _ = batch_input.shape
    if J != NUM_JOINTS:
        raise ValueError(
            f"the noise model has one row per H36M-17 joint; batch_input has {J} joints. Convert to H36M-17 "
            "(data.skeleton) or turn the noise off (CorruptionConfig(noise=False))"
        )
    x = batch_input.float()
    offset = torch.zeros((B, T, J, 2), device=x.device)
    if config.keyframe_offsets:
        keys, _ = sample_keyframe_offsets(B, config.num_keyframes, config, x, generator)  # (B, K, J, 2)
        offset = interpolate_keyframes(keys, T)  # (B, T, J, 2)
    if config.jitter_std > 0:
        offset = offset + _normal((1 if config.share_jitter else B, T, J, 2), x, generator) * config.jitter_std
    xy = x[..., :2] + offset
    if config.resynthesise_confidence:
        conf = confidence_from_offset(offset.norm(dim=-1), config, generator)  # (B, T, J)
    else:
        conf = x[..., 2]
    out = torch.cat([xy, conf[..., None]], dim=-1)  # (B, T, J, 3)
    keep = torch.zeros((B, T, J), dtype=torch.bool, device=x.device)
    if config.keep_missing:
        keep |= x[..., 2] == 0
    if noisy is not None:
        noisy = torch.as_tensor(noisy, device=x.device)
        if noisy.shape != (B,) or noisy.dtype != torch.bool:
            raise ValueError(f"noisy must be a bool tensor of shape (B={B},); got {tuple(noisy.shape)} {noisy.dtype}")
        keep |= ~noisy[:, None, None]
    out = torch.where(keep[..., None], x, out)
    return out.to(batch_input.dtype)


# ---------------------------------------------------------------------------------------- masking
def mask_joints(batch_input: Tensor, ratio: float, generator: torch.Generator | None = None) -> Tensor:
    """Zero each (sample, frame, joint) — x, y and confidence — with probability `ratio`."""
    _check_batch(batch_input)
    if ratio <= 0:
        return batch_input.clone()
    drop = _uniform(tuple(batch_input.shape[:3]), batch_input, generator) < ratio  # (B, T, J)
    return batch_input.masked_fill(drop[..., None], 0.0)


def mask_frames(
    batch_input: Tensor, ratio: float, shared: bool = False, generator: torch.Generator | None = None
) -> Tensor:
    """Zero whole frames with probability `ratio`: one mask per sample, or one for the batch (`shared`)."""
    _check_batch(batch_input)
    if ratio <= 0:
        return batch_input.clone()
    B, T = batch_input.shape[:2]
    drop = _uniform((1 if shared else B, T), batch_input, generator) < ratio  # (B or 1, T)
    return batch_input.masked_fill(drop[:, :, None, None], 0.0)


# ---------------------------------------------------------------------------------------- entry points
def corrupt(
    batch_input: Tensor,
    config: CorruptionConfig,
    generator: torch.Generator | None = None,
    noisy: Tensor | None = None,
) -> Tensor:
    """Noise, then joint masking, then frame masking of a (B, T, J, 3) batch (module docstring).
    Returns a new tensor of the input's dtype and device; the input is not modified."""
    _check_batch(batch_input)
    if not isinstance(config, CorruptionConfig):
        raise ValueError(f"config must be a CorruptionConfig; got {type(config).__name__}")
    x = add_noise(batch_input, config, generator, noisy) if config.noise else batch_input.clone()
    x = mask_joints(x, config.mask_joint_ratio, generator)
    return mask_frames(x, config.mask_frame_ratio, config.share_frame_mask, generator)


def random_flip(
    batch_input: Tensor,
    batch_target: Tensor | None = None,
    prob: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Mirror each sample with probability `prob` (x negated, left/right joints swapped), input and
    target together. Tensors (B, ..., 17, C); returns (input, target or None, flipped (B,) bool)."""
    if not isinstance(batch_input, Tensor) or batch_input.dim() < 3:
        raise ValueError(f"batch_input must be a tensor of shape (B, ..., 17, C); got {getattr(batch_input, 'shape', batch_input)}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"flip prob must be in [0, 1]; got {prob}")
    B = batch_input.shape[0]
    if batch_target is not None and batch_target.shape[0] != B:
        raise ValueError(f"batch_target has batch size {batch_target.shape[0]}, batch_input has {B}; they must match")
    flipped = _uniform((B,), batch_input, generator) < prob

    def apply(t: Tensor) -> Tensor:
        chosen = flipped.view((B,) + (1,) * (t.dim() - 1))
        return torch.where(chosen, flip_h36m(t), t)

    return apply(batch_input), (apply(batch_target) if batch_target is not None else None), flipped


def augment(
    batch_input: Tensor,
    batch_target: Tensor | None,
    config: CorruptionConfig,
    generator: torch.Generator | None = None,
    noisy: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """The whole pretraining augmentation: `random_flip` with `config.flip_prob` (input and target
    together), then `corrupt` on the input. Returns (corrupted input, flipped target)."""
    x, target, _ = random_flip(batch_input, batch_target, config.flip_prob, generator)
    return corrupt(x, config, generator, noisy), target


def corrupt_batch(
    batch: Mapping[str, Any],
    config: CorruptionConfig,
    clean_key: str | None = None,
    generator: torch.Generator | None = None,
    noisy: Tensor | None = None,
) -> dict[str, Any]:
    """`augment` on a collated sample-dict batch (batch.py keys): INPUT (B, T, J, 3) and, when
    present, TARGET_3D are flipped together with `config.flip_prob`; INPUT is then corrupted. With
    `clean_key`, the flipped but uncorrupted input is kept under that key. Returns a new dict (other
    entries shared with `batch`)."""
    if INPUT not in batch:
        raise ValueError(f"corrupt_batch needs the key {INPUT!r} in the batch; got keys {sorted(batch)}")
    out = dict(batch)
    x, target, _ = random_flip(batch[INPUT], batch.get(TARGET_3D), config.flip_prob, generator)
    if target is not None:
        out[TARGET_3D] = target
    if clean_key is not None:
        out[clean_key] = x
    out[INPUT] = corrupt(x, config, generator, noisy)
    return out
