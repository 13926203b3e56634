"""The definition of a synthetic corpus (`SyntheticConfig`) and the corpus-wide constants."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from .motions import SECOND_ACTOR_DEPTH_M, STAGE_REACH_M, SYNTHETIC_CLASSES

SOURCE_NAME = "synthetic"
SYNTHETIC_NOTICE = "SYNTHETIC DATA (procedural motion from hummuss_pl.data.synthetic, not a real dataset)"
MOTIONBERT_UNITS_PER_METRE = 0.298  # MotionBERT's AMASS scale (tools/convert_amass.py)

Camera = Literal["orthographic", "perspective"]
Split = Literal["train", "val", "test"]
Layout = Literal["pose", "action"]
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic corpus.

    `classes` picks a subset (LABEL indexes this tuple; item i has class classes[i % len]).
    `layout="action"` yields INPUT / TARGET_3D of shape (2, T, 17, 3) as NTU samples are: the
    second person is all zeros, or a second actor doing the same class when `second_actor`.
    Ranges are (low, high) and drawn uniformly per item.
    """

    num_clips: int = 10_000
    clip_len: int = 243
    fps: float = 60.0  # AMASS runs at 60 fps in MotionBERT's pretraining
    seed: int = 0
    split: Split = "train"
    classes: tuple[str, ...] = SYNTHETIC_CLASSES
    camera: Camera = "orthographic"
    num_subjects: int = 32  # per split
    start_time: float = 0.0  # seconds; frame k is at start_time + k / fps
    layout: Layout = "pose"
    second_actor: bool = False
    ortho_units_per_metre: float = MOTIONBERT_UNITS_PER_METRE
    image_size: tuple[int, int] = (1000, 1000)  # (w, h) in pixels, perspective camera
    camera_distance_m: tuple[float, float] = (6.0, 9.0)  # camera to stage centre
    perspective_units_per_metre: tuple[float, float] = (0.22, 0.38)  # s at the stage centre (sets f)
    principal_point_jitter: float = 0.01  # |cx - w/2| and |cy - h/2| ≤ jitter · w
    camera_pitch_deg: tuple[float, float] = (-5.0, 20.0)  # positive looks down
    camera_roll_deg: tuple[float, float] = (-3.0, 3.0)
    camera_height_m: tuple[float, float] = (0.7, 1.2)  # height of the point the camera looks at

    def __post_init__(self) -> None:
        if isinstance(self.classes, str) or not isinstance(self.classes, Sequence):
            raise ValueError(f"SyntheticConfig.classes must be a list of class names; got {self.classes!r}")
        object.__setattr__(self, "classes", tuple(self.classes))
        for name in ("image_size", "camera_distance_m", "perspective_units_per_metre", "camera_pitch_deg",
                     "camera_roll_deg", "camera_height_m"):  # fmt: skip
            value = tuple(getattr(self, name))
            if len(value) != 2:
                raise ValueError(f"SyntheticConfig.{name} must be a pair (low, high); got {getattr(self, name)!r}")
            if name != "image_size" and value[0] > value[1]:
                raise ValueError(f"SyntheticConfig.{name} must satisfy low <= high; got {value}")
            object.__setattr__(self, name, value)
        for name in ("num_clips", "clip_len", "num_subjects"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"SyntheticConfig.{name} must be a positive integer; got {getattr(self, name)!r}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"SyntheticConfig.fps must be a positive frame rate in Hz; got {self.fps!r}")
        if not math.isfinite(self.start_time):
            raise ValueError(f"SyntheticConfig.start_time must be finite (seconds); got {self.start_time!r}")
        if self.split not in SPLIT_CODES:
            raise ValueError(f"SyntheticConfig.split must be one of {tuple(SPLIT_CODES)}; got {self.split!r}")
        if self.camera not in ("orthographic", "perspective"):
            raise ValueError(f"SyntheticConfig.camera must be 'orthographic' or 'perspective'; got {self.camera!r}")
        if self.layout not in ("pose", "action"):
            raise ValueError(f"SyntheticConfig.layout must be 'pose' or 'action'; got {self.layout!r}")
        if self.second_actor and self.layout != "action":
            raise ValueError("SyntheticConfig.second_actor needs layout='action' (the pose layout has one person)")
        if not self.classes:
            raise ValueError(f"SyntheticConfig.classes is empty; pick some of {SYNTHETIC_CLASSES}")
        unknown = [c for c in self.classes if c not in SYNTHETIC_CLASSES]
        if unknown:
            raise ValueError(f"SyntheticConfig.classes has unknown classes {unknown}; known: {SYNTHETIC_CLASSES}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"SyntheticConfig.classes lists a class twice: {self.classes}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"SyntheticConfig.seed must be a non-negative integer; got {self.seed!r}")
        if not self.ortho_units_per_metre > 0 or not self.perspective_units_per_metre[0] > 0:
            raise ValueError("SyntheticConfig.ortho_units_per_metre and perspective_units_per_metre must be > 0")
        if min(self.image_size) < 1:
            raise ValueError(f"SyntheticConfig.image_size must be positive (w, h) pixels; got {self.image_size}")
        if not 0 <= self.principal_point_jitter < 0.5:
            raise ValueError(f"SyntheticConfig.principal_point_jitter must be in [0, 0.5); got {self.principal_point_jitter}")
        reach = STAGE_REACH_M + (SECOND_ACTOR_DEPTH_M if self.second_actor else 0.0)
        if self.camera_distance_m[0] < reach + 1.0:
            raise ValueError(
                f"SyntheticConfig.camera_distance_m starts at {self.camera_distance_m[0]} m, but actors move up to "
                f"{reach} m from the stage centre; use at least {reach + 1.0} m so they stay in front of the camera"
            )
        if not (-80 <= self.camera_pitch_deg[0] and self.camera_pitch_deg[1] <= 80):
            raise ValueError(f"SyntheticConfig.camera_pitch_deg must lie in [-80, 80]; got {self.camera_pitch_deg}")

    @property
    def split_code(self) -> int:
        return SPLIT_CODES[self.split]

    @property
    def times(self) -> np.ndarray:
        """(clip_len,) float64 sample times of every clip: start_time + k / fps."""
        return self.start_time + np.arange(self.clip_len, dtype=np.float64) / self.fps
