"""Synthetic mesh-recovery data, written as MotionBERT mesh pickles (no dataset needed).

The synthetic motion corpus (`data.synthetic`) has H36M joints but no SMPL parameters, so the mesh
task gets its own small generator. It needs an SMPL model file (SMPL_NEUTRAL.pkl and the H36M joint
regressor, `models.smpl`): the 2D input is computed from the mesh, exactly as the real 2D would
describe the real body. Tests use the synthetic SMPL-format file of tests/smpl_fixture.py.

Per video (or, COCO-like, per single image), from numpy's generator seeded with
(seed, dataset, split), nothing global:

    body pose   23 joint rotations: axis-angle offsets ~ N(0, pose_std²) per component at keyframes
                every `keyframe_every` frames, linearly interpolated over time (smooth motion about
                SMPL's rest pose)
    global      upright in camera axes (x right, y down, z forward: 180° about x), facing the camera
                up to a heading (yaw) that drifts between keyframes, plus a small tilt
    shape       betas ~ N(0, 1), one draw per video
    2D input    SMPL → H36M-17 joints (J_regressor_h36m @ vertices, mm) → orthographic projection
                (drop z) → pixels: scale and image position drawn per video, a smooth drift over
                time; confidence 1. Images are 1920 × 1920 (3DPW-like) or 640 × 640 (COCO-like),
                so `MeshClips` normalises them as MotionBERT normalises 3DPW / COCO
    HybrIK      (optional) pred_smpl_pose = GT pose + N(0, hybrik_pose_std²) per component and frame,
                pred_smpl_shape = GT betas + N(0, hybrik_shape_std²): a noisy per-frame initial
                estimate for the fusion head to refine

`synthesize_mesh_split` builds one split of a mesh pickle in memory, with the fields and units of
MotionBERT's files, and the sources "synthetic_pw3d" / "synthetic_coco" (`synthetic.sources`) read it
through the same reader (`MeshClips`) as real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import roma
import torch

from hummuss_pl.models.smpl import NUM_SMPL_JOINTS, SMPL

from ..corruption import interpolate_keyframes
from ..mesh import MESH_RESOLUTION

__all__ = ["SyntheticMeshConfig", "synthesize_mesh_split"]

_DATASET_CODES = {"pw3d": 0, "coco": 1}
_SPLIT_CODES = {"train": 0, "test": 1}
_BODY_HEIGHT_MM = 1800.0  # the scale draw below maps this height to a fraction of the image width
_SMPL_CHUNK = 1024  # frames per SMPL call while generating


@dataclass(frozen=True)
class SyntheticMeshConfig:
    """Size and variability of the synthetic mesh data.

    train_videos / test_videos: 3DPW-like videos of `frames` frames each (16-frame clips are cut
    from them, stride 8 for training and 16 for testing, as for 3DPW).
    train_images / test_images: COCO-like single frames (only used when COCO is a source).
    pose_std: std (radians) of each axis-angle component of a body joint's keyframe offset.
    heading_step: std (radians) of the heading change between keyframes.
    """

    train_videos: int = 64
    test_videos: int = 16
    frames: int = 48
    train_images: int = 512
    test_images: int = 64
    keyframe_every: int = 8
    pose_std: float = 0.3
    heading_step: float = 0.3
    tilt_std: float = 0.1
    body_fraction: tuple[float, float] = (0.3, 0.6)  # body height / image width, drawn per video
    hybrik_pose_std: float = 0.05
    hybrik_shape_std: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("train_videos", "test_videos", "frames", "keyframe_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"SyntheticMeshConfig.{name} must be >= 1; got {getattr(self, name)}")
        for name in ("train_images", "test_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"SyntheticMeshConfig.{name} must be >= 0; got {getattr(self, name)}")
        for name in ("pose_std", "heading_step", "tilt_std", "hybrik_pose_std", "hybrik_shape_std"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"SyntheticMeshConfig.{name} must be >= 0; got {getattr(self, name)}")
        low, high = self.body_fraction
        if not 0 < low <= high:
            raise ValueError(f"SyntheticMeshConfig.body_fraction must be (low, high) with 0 < low <= high; got {self.body_fraction}")


def _generator(cfg: SyntheticMeshConfig, dataset: str, split: str) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, _DATASET_CODES[dataset], _SPLIT_CODES[split]])


def _num_keys(frames: int, every: int) -> int:
    """Keyframes at 0, every, 2·every, ... up to the last frame (one for a single frame)."""
    return max(2, -(-(frames - 1) // every) + 1) if frames > 1 else 1


def _smooth(rng: np.random.Generator, videos: int, frames: int, every: int, std: float, shape: tuple[int, ...]) -> torch.Tensor:
    """Keyframe draws N(0, std²) of `shape`, linearly interpolated: (videos, frames, *shape) float32."""
    keys = _num_keys(frames, every)
    draws = torch.from_numpy(rng.normal(0.0, std, size=(videos, keys) + shape).astype(np.float32))
    return interpolate_keyframes(draws, frames)


def _global_orient(rng: np.random.Generator, videos: int, frames: int, cfg: SyntheticMeshConfig) -> torch.Tensor:
    """(videos, frames, 3) axis-angle: 180° about x (upright in camera axes) after a heading and tilt."""
    heading = torch.from_numpy(rng.uniform(-np.pi, np.pi, size=(videos, 1)).astype(np.float32))
    steps = rng.normal(0.0, cfg.heading_step, size=(videos, _num_keys(frames, cfg.keyframe_every))).astype(np.float32)
    steps[:, 0] = 0.0
    heading = heading + interpolate_keyframes(torch.from_numpy(np.cumsum(steps, axis=1)), frames)  # (V, F)
    tilt = _smooth(rng, videos, frames, cfg.keyframe_every, cfg.tilt_std, (2,))  # (V, F, 2): about x and z
    body = torch.stack([tilt[..., 0], heading, tilt[..., 1]], dim=-1)  # (V, F, 3) rotation vector in SMPL axes
    upright = roma.rotvec_to_rotmat(torch.tensor([np.pi, 0.0, 0.0]))  # SMPL (y up, facing +z) → camera axes
    return roma.rotmat_to_rotvec(upright @ roma.rotvec_to_rotmat(body))  # (V, F, 3)


@torch.no_grad()
def _regress_joints(smpl: SMPL, pose: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """(N, 72), (N, 10) → H36M joints (N, 17, 3) in mm, in chunks."""
    device = smpl.J_regressor_h36m.device
    out = []
    for start in range(0, len(pose), _SMPL_CHUNK):
        p = torch.from_numpy(pose[start : start + _SMPL_CHUNK]).to(device)
        b = torch.from_numpy(betas[start : start + _SMPL_CHUNK]).to(device)
        out.append(smpl(p, b).joints.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 17, 3), np.float32)


def synthesize_mesh_split(smpl: SMPL, cfg: SyntheticMeshConfig, dataset: str, split: str, hybrik: bool = False) -> dict:
    """One split of a mesh pickle: {joint_2d, confidence, smpl_pose, smpl_shape, source[, pred_smpl_*]}.

    dataset "pw3d": videos of cfg.frames frames; "coco": single frames (one per "video")."""
    if dataset not in _DATASET_CODES or split not in _SPLIT_CODES:
        raise ValueError(f"synthetic mesh data exists for datasets {list(_DATASET_CODES)} and splits "
                         f"{list(_SPLIT_CODES)}; got {dataset!r}, {split!r}")
    rng = _generator(cfg, dataset, split)
    if dataset == "pw3d":
        videos, frames = (cfg.train_videos if split == "train" else cfg.test_videos), cfg.frames
    else:
        videos, frames = (cfg.train_images if split == "train" else cfg.test_images), 1
    n = videos * frames
    body = _smooth(rng, videos, frames, cfg.keyframe_every, cfg.pose_std, (NUM_SMPL_JOINTS - 1, 3))  # (V, F, 23, 3)
    pose = torch.cat([_global_orient(rng, videos, frames, cfg)[:, :, None], body], dim=2)  # (V, F, 24, 3)
    pose = pose.reshape(n, NUM_SMPL_JOINTS * 3).numpy().astype(np.float32)  # (N, 72)
    betas = np.repeat(rng.normal(size=(videos, 10)).astype(np.float32), frames, axis=0)  # (N, 10)
    joints = _regress_joints(smpl, pose, betas)  # (N, 17, 3) mm, camera axes

    res_w, _ = MESH_RESOLUTION[dataset]
    low, high = cfg.body_fraction
    scale = rng.uniform(low, high, size=(videos, 1, 1, 1)) * res_w / _BODY_HEIGHT_MM  # pixels per mm
    centre = res_w / 2 + rng.normal(0.0, 0.05 * res_w, size=(videos, 1, 1, 2))  # where the pelvis starts
    drift = _smooth(rng, videos, frames, cfg.keyframe_every, 0.03 * res_w, (2,)).numpy()[:, :, None]  # (V, F, 1, 2)
    xy = joints[..., :2].reshape(videos, frames, 17, 2)
    start = xy[:, :1, :1]  # (V, 1, 1, 2): the pelvis in the first frame
    joint_2d = (centre + scale * (xy - start) + drift).reshape(n, 17, 2).astype(np.float32)  # orthographic, pixels

    data = {
        "joint_2d": joint_2d,
        "confidence": np.ones((n, 17), np.float32),
        "smpl_pose": pose,
        "smpl_shape": betas,
        "source": np.repeat(np.array([f"synthetic_{dataset}_{split}_{v:05d}" for v in range(videos)]), frames),
    }
    if hybrik:
        data["pred_smpl_pose"] = (pose + rng.normal(0.0, cfg.hybrik_pose_std, size=pose.shape)).astype(np.float32)
        data["pred_smpl_shape"] = (betas + rng.normal(0.0, cfg.hybrik_shape_std, size=betas.shape)).astype(np.float32)
    return data
