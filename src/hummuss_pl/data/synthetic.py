"""Procedural synthetic motion corpus: the embedded default data set (issue 4 §2).

Nothing here is real data. Every clip is generated on the fly, deterministically, from
(seed, split, index):

    subject (bone lengths) ─┐
    class template + random  ├─ joint angles a(t) ─ forward kinematics ─ world joints (metres, y up)
    tempo/amplitude/phase    ┘                                                 │
    camera (orthographic | perspective with intrinsics) ─────────────── 2D input + 3D label

Motion model. A motion is a *continuous function of time*: joint angles are a fixed linear mix of
a few time functions (a constant, sin/cos of the action tempo and its 2nd/3rd harmonics, rectified
sines for one-sided actions such as jump flight, kicks and punches, and two slow sway tones),
followed by forward kinematics on the H36M-17 skeleton with per-subject bone lengths. The pelvis
height is set at every instant so that the lower ankle sits at ankle height above the ground (plus
a flight term for jumps and runs), and travelling classes walk/run on a circle on a "stage" in
front of the camera (as Human3.6M subjects do), so a clip never leaves the frame however long it
is. Because everything is evaluated analytically at the requested timestamps, there is no base
render rate to subsample from: a clip at `fps` takes the exact times t_k = start_time + k / fps,
so the clip at 30 fps is, to float tolerance, every second frame of the clip at 60 fps, and
`render_motion` evaluates the same motion at any timestamps (variable frame rate, streaming).

Classes (`SYNTHETIC_CLASSES`): walk, run, jump, wave, squat, turn, kick, punch, jumping_jack,
idle. Every item draws a subject, a tempo, an amplitude scale, a phase, per-channel amplitude and
posture jitter, slow sway, a heading, a left/right mirror (so one-sided actions come with either
side and the corpus is left/right symmetric in distribution) and a camera.

Units (schema.py). Camera axes are x right, y down, z forward (depth).
- "orthographic" (MotionBERT's AMASS pretraining): 3D label = 0.298 · camera-space metres, depth
  relative to the stage centre; 2D input = the label's (x, y), confidence 1. SCALE_MM = 1000/0.298.
- "perspective": pinhole intrinsics (f, cx, cy) for an image of `image_size` pixels; 2D input is
  the projection (u, v) normalised as MotionBERT does (u / w · 2 − 1, v / w · 2 − h / w). The 3D
  label is the camera-space pose in metres times s = 2f / (w · D) (D: depth of the stage centre),
  shifted by the normalised principal point, so label xy equals the 2D input exactly for points at
  depth D and differs elsewhere only by perspective. SCALE_MM = 1000 / s, exact for the whole clip.

Telling it apart from real data. Every sample carries SOURCE == "synthetic" (`SOURCE_NAME`) and a
"subject" id; `SyntheticMotion.describe()` returns a one-line banner (`SYNTHETIC_NOTICE` is its
prefix). The DataModules (data/modules/) log that banner once at setup ("SYNTHETIC DATA ...") and
record the hyper-parameter `data/source` ("synthetic", or the names of the real datasets), which
the Trainer logs with the model's hyper-parameters, so no run trained on synthetic data can pass
for one trained on AMASS (docs/DATA.md, "Synthetic data").

Determinism. Item i of a corpus with seed s and split p is a pure function of (s, p, i, config):
its random numbers come from numpy's generator seeded with (s, p, i); no global random state is
read or written, so DataLoader workers, DDP ranks and repeated runs all see the same clips. The
motion (and, for the first actor, the camera) of item i does not depend on fps, clip_len,
start_time, the camera type or the layout, so `replace(config, fps=30, clip_len=...)` renders the
same motions at another rate; it does depend on `classes` (item i has class classes[i % len]) and
`num_subjects`. Splits use disjoint subject ids and disjoint seed streams.

Speed. `SyntheticMotion.__getitems__` renders a whole batch in one vectorised numpy pass (torch's
DataLoader calls it whenever it batches). Measured on the 2-core development VM, single process,
243-frame clips, `DataLoader(batch_size=64..256, num_workers=0)`: about 2,000–2,800 clips/s
(orthographic or perspective); one item at a time through `__getitem__` about 1,000 clips/s.
Reproduce with `python -m hummuss_pl.data.synthetic` (prints the figures for this machine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np
from torch.utils.data import Dataset

from . import schema
from .skeleton import H36M_FLIP_PERM, H36M_PARENTS, NUM_JOINTS

__all__ = [
    "SYNTHETIC_CLASSES",
    "SOURCE_NAME",
    "SYNTHETIC_NOTICE",
    "MOTIONBERT_UNITS_PER_METRE",
    "SUBJECT",
    "TIMES",
    "INDEX",
    "SyntheticConfig",
    "SyntheticMotion",
    "render_motion",
    "render_world",
]

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "walk", "run", "jump", "wave", "squat", "turn", "kick", "punch", "jumping_jack", "idle",
)  # fmt: skip
SOURCE_NAME = "synthetic"
SYNTHETIC_NOTICE = "SYNTHETIC DATA (procedural motion from hummuss_pl.data.synthetic, not a real dataset)"
MOTIONBERT_UNITS_PER_METRE = 0.298  # MotionBERT's AMASS scale (tools/convert_amass.py)

# Extra sample keys (besides those of schema.py).
SUBJECT = "subject"  # int: subject id (bone lengths); ids of different splits never coincide
TIMES = "times"  # (T,) float32: the sample times in seconds
INDEX = "index"  # int: the item index in the corpus

Camera = Literal["orthographic", "perspective"]
Split = Literal["train", "val", "test"]
Layout = Literal["pose", "action"]
_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
_SUBJECT_ID_STRIDE = 1_000_000  # subject ids: split_code * stride + k
_GRAVITY = 9.81


# ---------------------------------------------------------------------------------------- config
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
        if self.split not in _SPLIT_CODES:
            raise ValueError(f"SyntheticConfig.split must be one of {tuple(_SPLIT_CODES)}; got {self.split!r}")
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
        reach = _STAGE_REACH_M + (_SECOND_ACTOR_DEPTH_M if self.second_actor else 0.0)
        if self.camera_distance_m[0] < reach + 1.0:
            raise ValueError(
                f"SyntheticConfig.camera_distance_m starts at {self.camera_distance_m[0]} m, but actors move up to "
                f"{reach} m from the stage centre; use at least {reach + 1.0} m so they stay in front of the camera"
            )
        if not (-80 <= self.camera_pitch_deg[0] and self.camera_pitch_deg[1] <= 80):
            raise ValueError(f"SyntheticConfig.camera_pitch_deg must lie in [-80, 80]; got {self.camera_pitch_deg}")

    @property
    def split_code(self) -> int:
        return _SPLIT_CODES[self.split]

    @property
    def times(self) -> np.ndarray:
        """(clip_len,) float64 sample times of every clip: start_time + k / fps."""
        return self.start_time + np.arange(self.clip_len, dtype=np.float64) / self.fps


# ---------------------------------------------------------------------------------------- motion model
# Time functions ("basis"); angles are basis @ coefficients. u = 2π·tempo·t + phase.
_ONE = 0
_SIN = (1, 3, 5)  # sin(h u), h = 1, 2, 3
_COS = (2, 4, 6)  # cos(h u)
_RELU_POS, _RELU_NEG, _RELU_2 = 7, 8, 9  # max(sin u, 0), max(-sin u, 0), max(sin 2u, 0)
_SLOW = (10, 11, 12, 13)  # sin/cos of two slow sway tones
_NB = 14
# Channels: 3 Euler angles (degrees) for each of the 17 bones (bone j = parent(j) → j; bone 0 = the
# pelvis orientation relative to the heading), then lateral pelvis sway (m) and flight height (m).
_AX, _AY, _AZ = 0, 1, 2  # rotation about x (flex / pitch), y (yaw / twist), z (abduction / roll)
_LAT, _FLIGHT = 3 * NUM_JOINTS, 3 * NUM_JOINTS + 1
_NC = 3 * NUM_JOINTS + 2
_KNEES = (3, 6)
_ELBOWS = (13, 16)
_SWAP = np.array(H36M_FLIP_PERM)  # left ↔ right joints (and so bones: bone j ends at joint j)


def _basis_vec(const: float = 0.0) -> np.ndarray:
    e = np.zeros(_NB)
    e[_ONE] = const
    return e


def _C(value: float) -> np.ndarray:
    """A constant angle (degrees) or offset (metres)."""
    return _basis_vec(value)


def _H(amp: float, phase: float = 0.0, h: int = 1) -> np.ndarray:
    """amp · sin(h·u + phase)."""
    e = _basis_vec()
    e[_SIN[h - 1]] = amp * math.cos(phase)
    e[_COS[h - 1]] = amp * math.sin(phase)
    return e


def _R(amp: float, which: int) -> np.ndarray:
    """amp · a rectified sine (`_RELU_POS`, `_RELU_NEG` or `_RELU_2`)."""
    e = _basis_vec()
    e[which] = amp
    return e


class _Template:
    """Builds a (basis, channel) coefficient table in anatomical terms for the lead side "l".

    Body frame: x = the subject's left, y = up, z = forward; bones hang down (legs, arms) or point up
    (spine) at rest. Local bone rotation = R_y(θy) · R_x(θx) · R_z(θz). Right-side helpers negate
    θy and θz, which is the mirror image through the sagittal plane.
    """

    def __init__(self) -> None:
        self.coef = np.zeros((_NB, _NC))

    def _put(self, bone: int, axis: int, e: np.ndarray) -> "_Template":
        self.coef[:, 3 * bone + axis] += e
        return self

    def _side(self, side: str, left: int, right: int, axis: int, e: np.ndarray, sign_x: float = 1.0):
        bone = left if side == "l" else right
        if axis == _AX:
            return self._put(bone, axis, sign_x * e)
        return self._put(bone, axis, e if side == "l" else -e)

    # legs
    def hip_flex(self, side, e):  # thigh swings forward
        return self._side(side, 5, 2, _AX, e, -1.0)

    def hip_abd(self, side, e):  # thigh swings outward
        return self._side(side, 5, 2, _AZ, e)

    def knee(self, side, e):  # shank bends backward (flexion ≥ 0)
        return self._side(side, 6, 3, _AX, e, 1.0)

    # arms
    def shoulder_flex(self, side, e):  # arm swings forward / up in front
        return self._side(side, 12, 15, _AX, e, -1.0)

    def shoulder_abd(self, side, e):  # arm rises sideways
        return self._side(side, 12, 15, _AZ, e)

    def elbow(self, side, e):  # forearm bends forward (flexion ≥ 0)
        return self._side(side, 13, 16, _AX, e, -1.0)

    def elbow_frontal(self, side, e):  # forearm rotates in the arm's frontal plane (waving)
        return self._side(side, 13, 16, _AZ, e)

    # trunk and head
    def spine_flex(self, e):  # forward bend, shared by the lower and upper spine
        return self._put(7, _AX, 0.5 * e)._put(8, _AX, 0.5 * e)

    def thorax_twist(self, e):
        return self._put(8, _AY, e)

    def neck_flex(self, e):
        return self._put(9, _AX, e)

    def root_pitch(self, e):  # whole-body forward lean
        return self._put(0, _AX, e)

    def root_yaw(self, e):
        return self._put(0, _AY, e)

    def root_roll(self, e):
        return self._put(0, _AZ, e)

    def lateral(self, e):  # pelvis sway along the body's x axis, metres
        self.coef[:, _LAT] += e
        return self

    def flight(self, which: int):  # unit flight profile; the height is drawn per item
        self.coef[which, _FLIGHT] = 1.0
        return self


def _mirror_tables() -> tuple[np.ndarray, np.ndarray]:
    perm = np.concatenate([(3 * _SWAP[:, None] + np.arange(3)).reshape(-1), [_LAT, _FLIGHT]])
    sign = np.ones(_NC)
    sign[_AY : 3 * NUM_JOINTS : 3] = -1
    sign[_AZ : 3 * NUM_JOINTS : 3] = -1
    sign[_LAT] = -1
    return perm, sign


_MIRROR_PERM, _MIRROR_SIGN = _mirror_tables()


def _mirror(coef: np.ndarray) -> np.ndarray:
    """Coefficients (..., NC) of the mirror-image motion: left/right bones swapped, θy, θz and the
    lateral sway negated (reflection through the sagittal plane)."""
    return coef[..., _MIRROR_PERM] * _MIRROR_SIGN


def _rest_posture() -> np.ndarray:
    t = _Template()
    for s in ("l", "r"):
        t.knee(s, _C(4)).elbow(s, _C(12)).shoulder_abd(s, _C(8)).hip_abd(s, _C(2))
    return t.coef


def _walk(hip: float, knee: tuple[float, float], arm: float, elbow: tuple[float, float], lean: float,
          flight: bool = False) -> np.ndarray:  # fmt: skip
    """Walking (and, with two flight phases per stride, running) gait."""
    t = _Template()
    if flight:
        t.flight(_RELU_2)
    pi = math.pi
    for s, ph in (("l", 0.0), ("r", pi)):
        t.hip_flex(s, _C(0.4 * hip) + _H(hip, ph))
        t.knee(s, _C(knee[0]) + _H(knee[1], ph + 1.27))  # knee peaks while the thigh swings forward
        t.shoulder_flex(s, _H(arm, ph + pi))  # arms swing against the same-side leg
        t.elbow(s, _C(elbow[0]) + _H(elbow[1], ph + pi))
    t.root_yaw(_H(5.0)).thorax_twist(_H(-7.0)).root_roll(_H(3.0, 0.0, 2)).root_pitch(_C(lean))
    return t.lateral(_H(0.02, pi / 2)).coef


def _jump() -> np.ndarray:
    t = _Template()
    for s in ("l", "r"):
        t.hip_flex(s, _R(50, _RELU_NEG)).knee(s, _R(90, _RELU_NEG))  # crouch on the ground, stretch in flight
        t.shoulder_flex(s, _R(110, _RELU_POS) + _R(-35, _RELU_NEG)).elbow(s, _C(10))
    t.spine_flex(_R(25, _RELU_NEG)).root_pitch(_R(10, _RELU_NEG))
    return t.flight(_RELU_POS).coef


def _wave() -> np.ndarray:
    t = _Template()
    t.shoulder_abd("l", _C(100) + _H(5)).shoulder_flex("l", _C(20)).elbow_frontal("l", _C(65) + _H(25))
    return t.neck_flex(_C(-5)).root_roll(_C(-3)).coef


def _squat() -> np.ndarray:
    t = _Template()  # depth d = (1 - cos u) / 2
    for s in ("l", "r"):
        t.hip_flex(s, _C(45) + _H(-45, math.pi / 2)).knee(s, _C(55) + _H(-55, math.pi / 2))
        t.shoulder_flex(s, _C(37) + _H(-37, math.pi / 2)).hip_abd(s, _C(8))
    t.spine_flex(_C(14) + _H(-14, math.pi / 2)).root_pitch(_C(5) + _H(-5, math.pi / 2))
    return t.neck_flex(_C(-6) + _H(6, math.pi / 2)).coef


def _turn() -> np.ndarray:
    t = _Template()
    for s, r in (("l", _RELU_POS), ("r", _RELU_NEG)):  # stepping in place while the heading turns
        t.hip_flex(s, _R(15, r)).knee(s, _R(30, r)).shoulder_abd(s, _C(6)).elbow(s, _C(15))
    return t.thorax_twist(_C(8)).root_roll(_H(2.0)).coef


def _kick() -> np.ndarray:
    t = _Template()
    t.hip_flex("l", _C(5) + _R(85, _RELU_POS)).knee("l", _C(20) + _R(35, _RELU_POS) + _H(25, 0.0, 2))
    t.knee("r", _C(12))
    for s in ("l", "r"):  # guard
        t.shoulder_flex(s, _C(35)).shoulder_abd(s, _C(12)).elbow(s, _C(100))
    return t.root_pitch(_R(-14, _RELU_POS)).spine_flex(_R(-8, _RELU_POS)).coef


def _punch() -> np.ndarray:
    t = _Template()
    for s, r in (("l", _RELU_POS), ("r", _RELU_NEG)):
        t.shoulder_flex(s, _C(40) + _R(45, r)).shoulder_abd(s, _C(20) + _R(-12, r)).elbow(s, _C(110) + _R(-95, r))
        t.knee(s, _C(15))
    t.hip_flex("l", _C(15)).hip_flex("r", _C(-8))  # staggered stance
    return t.root_yaw(_C(20)).thorax_twist(_H(-18)).coef


def _jumping_jack() -> np.ndarray:
    t = _Template()  # opening o = (1 - cos u) / 2
    for s in ("l", "r"):
        t.shoulder_abd(s, _C(75) + _H(-70, math.pi / 2)).hip_abd(s, _C(9) + _H(-8, math.pi / 2))
        t.elbow(s, _C(10)).knee(s, _R(15, _RELU_2))
    return t.flight(_RELU_2).coef


def _idle() -> np.ndarray:
    t = _Template()  # weight shifts from foot to foot; most motion comes from the slow sway
    t.hip_abd("l", _H(3)).hip_abd("r", _H(-3)).root_roll(_H(2.5))
    return t.lateral(_H(0.03)).coef


@dataclass(frozen=True)
class _ClassSpec:
    motion: np.ndarray  # (NB, NC) template on top of the rest posture
    tempo_hz: tuple[float, float]
    stride_m: tuple[float, float] = (0.0, 0.0)  # > 0: travels on a circle at speed stride · tempo
    radius_m: tuple[float, float] = (0.0, 0.0)
    turn_deg_s: tuple[float, float] = (0.0, 0.0)  # turning in place (either direction)
    flight_m: tuple[float, float] = (0.0, 0.0)  # height of the flight profile
    ballistic: bool = False  # flight height from the flight time: g · (half period)^2 / 8
    sway: float = 0.5  # scale of the random slow sway


_CLASS_SPECS: dict[str, _ClassSpec] = {
    "walk": _ClassSpec(_walk(24, (32, 28), 18, (18, 8), 3), (0.8, 1.05), stride_m=(1.2, 1.55), radius_m=(1.5, 2.5)),
    "run": _ClassSpec(_walk(38, (55, 45), 35, (85, 15), 10, flight=True), (1.3, 1.6), stride_m=(1.9, 2.5), radius_m=(2.2, 3.0),
                      flight_m=(0.03, 0.07)),  # fmt: skip
    "jump": _ClassSpec(_jump(), (0.75, 1.1), ballistic=True, flight_m=(0.75, 1.0)),
    "wave": _ClassSpec(_wave(), (1.4, 2.4)),
    "squat": _ClassSpec(_squat(), (0.3, 0.5)),
    "turn": _ClassSpec(_turn(), (0.9, 1.3), turn_deg_s=(45.0, 120.0)),
    "kick": _ClassSpec(_kick(), (0.35, 0.6)),
    "punch": _ClassSpec(_punch(), (0.7, 1.3)),
    "jumping_jack": _ClassSpec(_jumping_jack(), (0.8, 1.2), flight_m=(0.04, 0.09)),
    "idle": _ClassSpec(_idle(), (0.2, 0.4), sway=1.5),
}
assert tuple(_CLASS_SPECS) == SYNTHETIC_CLASSES
_REST = _rest_posture()
_STAGE_OFFSET_M = 0.5  # stage point (circle centre / standing spot) within ± this of the stage centre
_STAGE_REACH_M = max(s.radius_m[1] for s in _CLASS_SPECS.values()) + _STAGE_OFFSET_M * math.sqrt(2)
_SECOND_ACTOR_LATERAL_M = (0.9, 1.4)
_SECOND_ACTOR_DEPTH_M = 0.5


def _sway_sigma() -> np.ndarray:
    """Std of the slow-sway coefficients per channel (degrees; metres for the lateral channel)."""
    sigma = np.full((NUM_JOINTS, 3), 1.5)
    sigma[[1, 4]] = 0.0  # pelvis → hip offsets are rigid
    sigma[[7, 8]] = 2.0
    sigma[[9, 10]] = 5.0
    sigma[[12, 15, 13, 16]] = 4.0
    sigma[0, _AY] = 4.0
    return np.concatenate([sigma.reshape(-1), [0.015, 0.0]])


_SWAY_SIGMA = _sway_sigma()
_POSTURE_SIGMA = np.concatenate([np.where(np.isin(np.arange(3 * NUM_JOINTS) // 3, (1, 4)), 0.0, 3.0), [0.0, 0.0]])

# Rest offsets parent → joint for a 1.70 m subject, metres, body frame (x left, y up, z forward), and
# the proportion group each bone scales with.
_REST_OFFSETS = np.array([
    [0, 0, 0], [-0.13, 0, 0], [0, -0.44, 0], [0, -0.44, 0], [0.13, 0, 0], [0, -0.44, 0], [0, -0.44, 0],
    [0, 0.23, 0.01], [0, 0.25, -0.01], [0, 0.10, 0.07], [0, 0.12, -0.03],
    [0.16, -0.02, 0], [0, -0.28, 0], [0, -0.25, 0], [-0.16, -0.02, 0], [0, -0.28, 0], [0, -0.25, 0],
])  # fmt: skip
_GROUP = np.array([0, 1, 2, 3, 1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 6, 7, 8])  # 0 unused, 1 hip width, 2 thigh, ...
_NUM_GROUPS = 9
_ANKLE_HEIGHT_M = 0.08


@dataclass(frozen=True)
class _Body:
    subject: int
    offsets: np.ndarray  # (17, 3) metres
    ankle_height: float
    height_scale: float


@lru_cache(maxsize=4096)
def _body(seed: int, subject: int) -> _Body:
    """Bone lengths of one subject: an overall size (≈ 1.50–1.90 m tall) times per-segment
    proportions (± 6 %), the same on both sides."""
    rng = np.random.default_rng([seed, 0x5B0D, subject])
    size = rng.uniform(0.88, 1.12)
    groups = rng.uniform(0.94, 1.06, _NUM_GROUPS)
    offsets = _REST_OFFSETS * (size * groups[_GROUP])[:, None]  # (17, 3)
    offsets.setflags(write=False)
    return _Body(subject, offsets, _ANKLE_HEIGHT_M * size, size)


# Class table as arrays, indexed by the class number (position in SYNTHETIC_CLASSES).
_MOTION = np.stack([s.motion for s in _CLASS_SPECS.values()])  # (K, NB, NC)
_TEMPO = np.array([s.tempo_hz for s in _CLASS_SPECS.values()])  # (K, 2)
_STRIDE = np.array([s.stride_m for s in _CLASS_SPECS.values()])
_RADIUS = np.array([s.radius_m for s in _CLASS_SPECS.values()])
_TURN = np.array([s.turn_deg_s for s in _CLASS_SPECS.values()])
_FLIGHT_M = np.array([s.flight_m for s in _CLASS_SPECS.values()])
_BALLISTIC = np.array([s.ballistic for s in _CLASS_SPECS.values()])
_SWAY = np.array([s.sway for s in _CLASS_SPECS.values()])
_NU = 15  # uniforms per actor (see _motion_arrays for their use)
_NZ = 6  # rows of standard normals per actor: amplitude jitter, posture, 4 sway rows
_NU_CAM = 7


@dataclass(frozen=True)
class _Draws:
    """The random numbers of one item: everything else is derived from them, vectorised."""

    cls: int  # index into SYNTHETIC_CLASSES
    subjects: tuple[int, ...]  # one per actor
    u: np.ndarray  # (actors, NU) uniforms
    z: np.ndarray  # (actors, NZ, NC) standard normals
    cam: np.ndarray  # (NU_CAM,) uniforms of the camera
    shift: np.ndarray  # (3,) uniforms placing the second actor (unused with one actor)


def _draw_item(cfg: SyntheticConfig, index: int) -> _Draws:
    """The random numbers of item `index`: a pure function of (seed, split, index, class, actors).
    The first actor and the camera are drawn first and in a fixed amount, so they do not depend
    on the camera type, the layout or a second actor."""
    rng = np.random.default_rng([cfg.seed, cfg.split_code, index])
    base = cfg.split_code * _SUBJECT_ID_STRIDE
    subjects = [base + int(rng.integers(cfg.num_subjects))]
    u, z = [rng.random(_NU)], [rng.standard_normal((_NZ, _NC))]
    cam = rng.random(_NU_CAM)
    shift = np.zeros(3)
    if cfg.second_actor:
        subjects.append(base + int(rng.integers(cfg.num_subjects)))
        u.append(rng.random(_NU))
        z.append(rng.standard_normal((_NZ, _NC)))
        shift = rng.random(3)
    cls = SYNTHETIC_CLASSES.index(cfg.classes[index % len(cfg.classes)])
    return _Draws(cls, tuple(subjects), np.stack(u), np.stack(z), cam, shift)


def _lerp(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    """r (B, 2) ranges, x (B,) in [0, 1] → r[:, 0] + x · (r[:, 1] − r[:, 0])."""
    return r[:, 0] + x * (r[:, 1] - r[:, 0])


def _motion_arrays(cls: np.ndarray, seed: int, subjects: Sequence[int], u: np.ndarray, z: np.ndarray,
                   shift: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Parameters of B continuous motions from their random numbers.

    cls (B,), subjects (B,), u (B, NU), z (B, NZ, NC), shift (B, 2) metres added to the stage point.
    """
    bodies = [_body(seed, s) for s in subjects]
    size = np.array([b.height_scale for b in bodies])
    tempo = _lerp(_TEMPO[cls], u[:, 0])
    template = _MOTION[cls]  # (B, NB, NC)
    amp = (0.8 + 0.4 * u[:, 1])[:, None, None] * (1.0 + 0.1 * z[:, 0])[:, None, :]  # per-channel jitter
    motion = template * amp
    flight = _lerp(_FLIGHT_M[cls], u[:, 2])
    flight = np.where(_BALLISTIC[cls], flight * _GRAVITY * (0.5 / tempo) ** 2 / 8.0, flight)  # apex of a
    motion[..., _FLIGHT] = template[..., _FLIGHT] * flight[:, None]  # flight lasting half a period
    coef = _REST + motion
    coef[:, _ONE] += _POSTURE_SIGMA * z[:, 1]
    coef[:, list(_SLOW)] += _SWAY[cls][:, None, None] * _SWAY_SIGMA * z[:, 2:6]
    coef = np.where((u[:, 3] < 0.5)[:, None, None], _mirror(coef), coef)  # half the items mirrored
    coef[..., : 3 * NUM_JOINTS] *= math.pi / 180  # degrees → radians
    speed = _lerp(_STRIDE[cls], u[:, 4]) * tempo * size  # m/s, 0 for classes that stay on the spot
    radius = _lerp(_RADIUS[cls], u[:, 5])
    omega = np.where(speed > 0, speed / np.where(radius > 0, radius, 1.0), np.radians(_lerp(_TURN[cls], u[:, 5])))
    omega = np.where(u[:, 6] < 0.5, -omega, omega)  # rad/s, either direction
    return dict(
        coef=coef.astype(np.float32), tempo=tempo, phase=2 * np.pi * u[:, 9],
        slow_freq=np.stack([0.1 + 0.15 * u[:, 10], 0.3 + 0.3 * u[:, 11]], 1), slow_phase=2 * np.pi * u[:, 12:14],
        heading0=2 * np.pi * u[:, 14], omega=omega, radius=np.where(speed > 0, speed / np.where(omega != 0, omega, 1.0), 0.0),
        centre=_STAGE_OFFSET_M * (2 * u[:, 7:9] - 1) + shift,
        offsets=np.stack([b.offsets for b in bodies]).astype(np.float32), ankle_height=np.array([b.ankle_height for b in bodies]),
    )  # fmt: skip


def _camera_arrays(cam: np.ndarray, cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """B cameras from their uniforms cam (B, NU_CAM): world → camera rotation rows (x right, y down,
    z forward), centre, stage-centre depth, focal length and principal point (pixels)."""

    def pick(r: tuple[float, float], x: np.ndarray) -> np.ndarray:
        return r[0] + x * (r[1] - r[0])

    dist = pick(cfg.camera_distance_m, cam[:, 0])
    pitch, roll = np.radians(pick(cfg.camera_pitch_deg, cam[:, 1])), np.radians(pick(cfg.camera_roll_deg, cam[:, 2]))
    sp, cp, sr, cr = np.sin(pitch), np.cos(pitch), np.sin(roll), np.cos(roll)
    zero, one = np.zeros_like(sp), np.ones_like(sp)
    # Looking along +z tilted down by the pitch: z_c = (0, −sin p, cos p), y_c = (0, −cos p, −sin p),
    # x_c = y_c × z_c = (−1, 0, 0); the roll turns x_c and y_c about z_c.
    zc, yc, xc = np.stack([zero, -sp, cp], 1), np.stack([zero, -cp, -sp], 1), np.stack([-one, zero, zero], 1)
    rotation = np.stack([cr[:, None] * xc + sr[:, None] * yc, -sr[:, None] * xc + cr[:, None] * yc, zc], 1)  # (B, 3, 3)
    look_at = np.stack([zero, pick(cfg.camera_height_m, cam[:, 3]), zero], 1)
    w, h = cfg.image_size
    jitter = cfg.principal_point_jitter * w
    return dict(
        rotation=rotation, centre=look_at - dist[:, None] * zc, distance=dist,
        focal=pick(cfg.perspective_units_per_metre, cam[:, 4]) * w * dist / 2.0,  # s = 2 f / (w D)
        principal=np.stack([w / 2 + jitter * (2 * cam[:, 5] - 1), h / 2 + jitter * (2 * cam[:, 6] - 1)], 1),
    )  # fmt: skip


def _compact(idx: list[int]) -> slice | np.ndarray:
    """An index list as a slice when it can be one (a single joint broadcasts), else an array."""
    if all(i == idx[0] for i in idx):
        return slice(idx[0], idx[0] + 1)
    if idx == list(range(idx[0], idx[-1] + 1)):
        return slice(idx[0], idx[-1] + 1)
    return np.array(idx)


def _fk_plan() -> tuple[np.ndarray, list[tuple[bool, slice, slice | np.ndarray]]]:
    """Forward-kinematics schedule: an internal joint order (by depth; within a depth inner joints
    before leaves, each group sorted by parent) and steps (inner, joints, parents) over it, so each
    step reads and writes contiguous slices. For H36M-17 every step is slice-to-slice."""
    depth = [0] * NUM_JOINTS
    for j in range(1, NUM_JOINTS):
        depth[j] = depth[H36M_PARENTS[j]] + 1
    order, steps = [0], []
    for d in range(1, max(depth) + 1):
        level = sorted((j for j in range(NUM_JOINTS) if depth[j] == d), key=lambda j: order.index(H36M_PARENTS[j]))
        for inner in (True, False):
            group = [j for j in level if (j in H36M_PARENTS) == inner]
            if group:
                steps.append((inner, slice(len(order), len(order) + len(group)),
                              _compact([order.index(H36M_PARENTS[j]) for j in group])))  # fmt: skip
                order += group
    return np.array(order), steps


_FK_ORDER, _FK_STEPS = _fk_plan()  # internal position k holds H36M joint _FK_ORDER[k]
_FK_INVERSE = np.argsort(_FK_ORDER)
# Coefficient channels reordered to (axis, internal joint): channel a * J + k = bone _FK_ORDER[k], axis a.
_FK_CHANNELS = np.concatenate([(3 * _FK_ORDER[None, :] + np.arange(3)[:, None]).reshape(-1), [_LAT, _FLIGHT]])


def _angle32(a: np.ndarray) -> np.ndarray:
    """Angles (float64, any size) reduced to [0, 2π) in float64, then float32 for fast sin/cos."""
    return np.remainder(a, 2 * np.pi).astype(np.float32)


def _pose(m: dict[str, np.ndarray], rotation: np.ndarray, centre: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Joints (3, J, B, T) of B motions `m` at `times` (T,) seconds, in the frame P' = R (P − C)
    given by rotation (B, 3, 3) and centre (B, 3) (identity and zeros: world metres, y up).

    Layout: coordinate / matrix entry first, then joint, batch, time, so every elementwise step runs
    on contiguous blocks; forward kinematics walks the tree one depth level at a time. The camera
    rotation is folded into the pelvis rotation, so the joints come out in camera axes directly."""
    B, T = len(m["tempo"]), len(times)
    col = lambda a: np.asarray(a, dtype=np.float64)[:, None]  # noqa: E731  (B,) → (B, 1)
    u = _angle32(2 * np.pi * col(m["tempo"]) * times + col(m["phase"]))  # (B, T)
    basis = np.empty((B, _NB, T), np.float32)  # the time functions
    basis[:, _ONE] = 1.0
    s1, c1 = np.sin(u), np.cos(u)
    s2, c2 = 2 * s1 * c1, 1 - 2 * s1 * s1  # double- and triple-angle formulas: no more sin/cos calls
    basis[:, _SIN[0]], basis[:, _COS[0]] = s1, c1
    basis[:, _SIN[1]], basis[:, _COS[1]] = s2, c2
    basis[:, _SIN[2]], basis[:, _COS[2]] = s2 * c1 + c2 * s1, c2 * c1 - s2 * s1
    np.maximum(s1, 0, out=basis[:, _RELU_POS])
    np.maximum(-s1, 0, out=basis[:, _RELU_NEG])
    np.maximum(s2, 0, out=basis[:, _RELU_2])
    for k in range(2):
        v = _angle32(2 * np.pi * col(m["slow_freq"][:, k]) * times + col(m["slow_phase"][:, k]))
        basis[:, _SLOW[2 * k]], basis[:, _SLOW[2 * k + 1]] = np.sin(v), np.cos(v)
    coef = m["coef"][:, :, _FK_CHANNELS]  # (B, NB, NC), angles in (axis, internal joint) order
    channels = np.matmul(coef.transpose(0, 2, 1), basis)  # (B, NC, NB) @ (B, NB, T) → (B, NC, T)

    ang = channels[:, : 3 * NUM_JOINTS].reshape(B, 3, NUM_JOINTS, T)  # (B, 3, J, T) radians
    for j in _KNEES:  # these joints bend one way only
        np.maximum(ang[:, _AX, _FK_INVERSE[j]], 0, out=ang[:, _AX, _FK_INVERSE[j]])
    for j in _ELBOWS:
        np.minimum(ang[:, _AX, _FK_INVERSE[j]], 0, out=ang[:, _AX, _FK_INVERSE[j]])
    heading = col(m["heading0"]) + col(m["omega"]) * times  # (B, T)
    ang[:, _AY, 0] += _angle32(heading)  # the pelvis turns with the heading
    ang = np.ascontiguousarray(ang.transpose(1, 2, 0, 3))  # (3, J, B, T)
    c, s = np.cos(ang), np.sin(ang)
    cx, cy, cz, sx, sy, sz = c[_AX], c[_AY], c[_AZ], s[_AX], s[_AY], s[_AZ]  # (J, B, T)
    # Local bone rotations R_y(θy) · R_x(θx) · R_z(θz), row-major entries first: (9, J, B, T):
    # [cy cz + sy sx sz, sy sx cz − cy sz, sy cx;  cx sz, cx cz, −sx;  cy sx sz − sy cz, sy sz + cy sx cz, cy cx]
    local = np.empty((9,) + cx.shape, np.float32)
    sxz, sxc = sx * sz, sx * cz
    np.multiply(cy, cz, out=local[0])
    local[0] += sy * sxz
    np.multiply(sy, sxc, out=local[1])
    local[1] -= cy * sz
    np.multiply(sy, cx, out=local[2])
    np.multiply(cx, sz, out=local[3])
    np.multiply(cx, cz, out=local[4])
    np.negative(sx, out=local[5])
    np.multiply(cy, sxz, out=local[6])
    local[6] -= sy * cz
    np.multiply(sy, sz, out=local[7])
    local[7] += cy * sxc
    np.multiply(cy, cx, out=local[8])

    # Forward kinematics: global bone rotation G_j = G_parent · L_j, joint p_j = p_parent + G_j · o_j.
    matmat, matvec = "ij...,jk...->ik...", "ij...,j...->i..."
    r = rotation.astype(np.float32).reshape(B, 3, 3).transpose(1, 2, 0)[..., None]  # (3, 3, B, 1)
    local = local.reshape(3, 3, NUM_JOINTS, B, T)
    rot = np.empty_like(local)  # (3, 3, J, B, T), in the output frame (the camera is folded into the pelvis)
    np.einsum(matmat, r, local[:, :, 0], out=rot[:, :, 0])
    offsets = m["offsets"][:, _FK_ORDER].transpose(2, 1, 0)[..., None]  # (3, J, B, 1)
    pos = np.zeros((3, NUM_JOINTS, B, T), np.float32)  # relative to the pelvis
    for inner, joints, parents in _FK_STEPS:
        if inner:
            np.einsum(matmat, rot[:, :, parents], local[:, :, joints], out=rot[:, :, joints])
            np.einsum(matvec, rot[:, :, joints], offsets[:, joints], out=pos[:, joints])
        else:  # a leaf needs only G_parent · (L_leaf · o_leaf), not its own rotation
            leaf = np.einsum(matvec, local[:, :, joints], offsets[:, joints])
            np.einsum(matvec, rot[:, :, parents], leaf, out=pos[:, joints])
        pos[:, joints] += pos[:, parents]
    pos = pos[:, _FK_INVERSE]  # back to H36M order

    # Pelvis in the world: the lower ankle at ankle height (plus flight), on its circle or spot.
    up = r[:, 1]  # (3, B, 1): world y = Σ_i R[i, 1] · P'_i
    ankle_y = [up[0] * pos[0, a] + up[1] * pos[1, a] + up[2] * pos[2, a] for a in (3, 6)]  # (B, T)
    root_y = col(m["ankle_height"]) - np.minimum(*ankle_y) + channels[:, _FLIGHT]
    heading32 = _angle32(heading)
    ch, sh = np.cos(heading32), np.sin(heading32)
    lateral, radius = channels[:, _LAT], col(m["radius"])
    root = (col(m["centre"][:, 0]) - radius * ch + lateral * ch - col(centre[:, 0]),
            root_y - col(centre[:, 1]),
            col(m["centre"][:, 1]) + radius * sh - lateral * sh - col(centre[:, 2]))  # fmt: skip
    for i in range(3):
        pos[i] += (r[i, 0] * root[0] + r[i, 1] * root[1] + r[i, 2] * root[2]).astype(np.float32)
    return pos


def _world_pose(m: dict[str, np.ndarray], times: np.ndarray) -> np.ndarray:
    """World joints (B, T, J, 3) in metres (y up, ground at y = 0)."""
    B = len(m["tempo"])
    pos = _pose(m, np.broadcast_to(np.eye(3), (B, 3, 3)), np.zeros((B, 3)), times)
    return np.ascontiguousarray(pos.transpose(2, 3, 1, 0))


def _project(pos: np.ndarray, cams: dict[str, np.ndarray], cfg: SyntheticConfig):
    """Camera-space joints (3, J, B, T) metres → 2D input (B, T, J, 3), 3D label (B, T, J, 3) and
    millimetres per unit (B,)."""
    x, y, z = pos
    dist = cams["distance"].astype(np.float32)[:, None]  # (B, 1)
    if cfg.camera == "orthographic":
        k = cfg.ortho_units_per_metre
        lx, ly, lz = k * x, k * y, k * (z - dist)
        ix, iy = lx, ly
        scale_mm = np.full(len(dist), 1000.0 / k)
    else:
        w, h = cfg.image_size
        f = cams["focal"].astype(np.float32)[:, None]
        cx, cy = (cams["principal"][:, i].astype(np.float32)[:, None] for i in range(2))
        ix = (f * x / z + cx) / w * 2 - 1  # pixels, then MotionBERT's screen normalisation
        iy = (f * y / z + cy) / w * 2 - h / w
        s = 2 * f / (w * dist)  # units per metre at depth D, (B, 1)
        lx, ly, lz = s * x + (2 * cx / w - 1), s * y + (2 * cy / w - h / w), s * (z - dist)
        scale_mm = 1000.0 / s[:, 0].astype(np.float64)
    inp = np.empty((x.shape[1], x.shape[2], x.shape[0], 3), np.float32)  # (B, T, J, 3)
    label = np.empty_like(inp)
    for i, (a, b) in enumerate(zip((ix, iy, None), (lx, ly, lz), strict=True)):  # (J, B, T) → (B, T, J)
        inp[..., i] = 1.0 if a is None else a.transpose(1, 2, 0)
        label[..., i] = b.transpose(1, 2, 0)
    return inp, label, scale_mm


def _batch_arrays(cfg: SyntheticConfig, draws: Sequence[_Draws]):
    """Motion arrays of every actor (item-major) and camera arrays (one per actor)."""
    actors = len(draws[0].subjects)
    cls = np.repeat([d.cls for d in draws], actors)
    subjects = [s for d in draws for s in d.subjects]
    u = np.concatenate([d.u for d in draws])  # (B·actors, NU)
    z = np.concatenate([d.z for d in draws])
    shift = np.zeros((len(draws), actors, 2))
    if actors == 2:  # the second actor stands beside the first, a little in front or behind
        su = np.stack([d.shift for d in draws])
        lo, hi = _SECOND_ACTOR_LATERAL_M
        shift[:, 1, 0] = (lo + su[:, 0] * (hi - lo)) * np.where(su[:, 1] < 0.5, 1, -1)
        shift[:, 1, 1] = _SECOND_ACTOR_DEPTH_M * (2 * su[:, 2] - 1)
    motions = _motion_arrays(cls, cfg.seed, subjects, u, z, shift.reshape(-1, 2))
    cams = _camera_arrays(np.repeat(np.stack([d.cam for d in draws]), actors, axis=0), cfg)
    return motions, cams


def _render(cfg: SyntheticConfig, indices: Sequence[int], times: np.ndarray) -> list[dict]:
    """Sample dicts of items `indices`, all at times (T,) seconds."""
    draws = [_draw_item(cfg, i) for i in indices]
    motions, cams = _batch_arrays(cfg, draws)
    inp, label, scale_mm = _project(_pose(motions, cams["rotation"], cams["centre"], times), cams, cfg)
    N, T, actors = len(draws), len(times), len(draws[0].subjects)
    inp = inp.reshape(N, actors, T, NUM_JOINTS, 3)  # (N, actors, T, J, 3)
    label = label.reshape(N, actors, T, NUM_JOINTS, 3)
    if cfg.layout == "action" and actors == 1:  # an all-zero second person
        inp = np.concatenate([inp, np.zeros_like(inp)], axis=1)
        label = np.concatenate([label, np.zeros_like(label)], axis=1)
    if np.array_equal(times, cfg.times):
        fps = float(cfg.fps)
    elif T > 1 and np.median(np.diff(times)) > 0:
        fps = float(1.0 / np.median(np.diff(times)))
    else:
        fps = float("nan")
    times32 = times.astype(np.float32)
    labels = {k: cfg.classes.index(name) for k, name in enumerate(SYNTHETIC_CLASSES) if name in cfg.classes}
    out = []
    for n, d in enumerate(draws):
        x, y = (inp[n], label[n]) if cfg.layout == "action" else (inp[n, 0], label[n, 0])
        out.append({
            schema.INPUT: x, schema.TARGET_3D: y, schema.HAS_3D: True, schema.FPS: fps,
            schema.SCALE_MM: float(scale_mm[n * actors]), schema.SOURCE: SOURCE_NAME, schema.LABEL: labels[d.cls],
            SUBJECT: d.subjects[0], TIMES: times32, INDEX: int(indices[n]),
        })  # fmt: skip
    return out


def _check_times(times) -> np.ndarray:
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise ValueError(f"times must be a non-empty 1-D array of finite seconds; got shape {t.shape}")
    return t


def _check_index(index, limit: int | None = None) -> int:
    if isinstance(index, (bool, np.bool_)) or int(index) != index or index < 0:
        raise IndexError(f"synthetic item index must be a non-negative integer; got {index!r}")
    if limit is not None and index >= limit:
        raise IndexError(f"synthetic item index {index} is out of range for a corpus of num_clips={limit}")
    return int(index)


def render_motion(config: SyntheticConfig, index: int, times) -> dict:
    """Item `index` of the corpus `config` rendered at arbitrary `times` (seconds, 1-D).

    The same continuous motion as `SyntheticMotion(config)[index]`; `config.fps`, `clip_len` and
    `start_time` are ignored except that FPS reports config.fps when `times` are exactly the
    corpus times, else 1 / median spacing. Used for frame-rate experiments (render the same motion
    at 30 and 60 fps) and variable-rate streaming tests (irregular timestamps)."""
    return _render(config, [_check_index(index)], _check_times(times))[0]


def render_world(config: SyntheticConfig, index: int, times) -> np.ndarray:
    """World joints (len(times), 17, 3) in metres (x, y up, z; ground at y = 0) of the first actor
    of item `index`, before the camera. For plausibility checks and visualisation."""
    draws = _draw_item(config, _check_index(index))
    motions, _ = _batch_arrays(config, [draws])
    first = {k: v[:1] for k, v in motions.items()}
    return _world_pose(first, _check_times(times))[0]


# ---------------------------------------------------------------------------------------- dataset
class SyntheticMotion(Dataset):
    """Map-style dataset of `config.num_clips` procedural clips (sample dicts per schema.py).

    Keys: INPUT (T, 17, 3) 2D + confidence 1 (clean; corrupt on the device with data.corruption),
    TARGET_3D (T, 17, 3), HAS_3D True, FPS, SCALE_MM, SOURCE "synthetic", LABEL (index into
    config.classes), "subject", "times" (T,), "index". With layout "action" INPUT and TARGET_3D
    are (2, T, 17, 3). A DataLoader with a batch size calls `__getitems__`, which renders the
    batch in one vectorised pass.
    """

    _CHUNK = 256  # items rendered together (bounds memory for large batches)

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config if config is not None else SyntheticConfig()
        if not isinstance(self.config, SyntheticConfig):
            raise ValueError(f"SyntheticMotion expects a SyntheticConfig; got {type(self.config).__name__}")
        self._times = self.config.times

    def __len__(self) -> int:
        return self.config.num_clips

    def __getitem__(self, index: int) -> dict:
        return _render(self.config, [_check_index(index, len(self))], self._times)[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        idx = [_check_index(i, len(self)) for i in indices]
        out: list[dict] = []
        for start in range(0, len(idx), self._CHUNK):
            out.extend(_render(self.config, idx[start : start + self._CHUNK], self._times))
        return out

    def render(self, index: int, times) -> dict:
        """Item `index` at arbitrary times (seconds); see `render_motion`."""
        return render_motion(self.config, _check_index(index, len(self)), times)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.config.classes

    def describe(self) -> str:
        """One line for logs, starting with SYNTHETIC_NOTICE."""
        c = self.config
        return (
            f"{SYNTHETIC_NOTICE}: split={c.split} seed={c.seed} {c.num_clips} clips x {c.clip_len} frames "
            f"@ {c.fps:g} fps, {c.camera} camera, layout={c.layout}, {len(c.classes)} classes {list(c.classes)}"
        )


def _benchmark(seconds: float = 2.0) -> None:
    """Prints clips/s of 243-frame clips through a single-process DataLoader on this machine."""
    import time

    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    for camera in ("orthographic", "perspective"):
        ds = SyntheticMotion(SyntheticConfig(num_clips=1_000_000, camera=camera))
        for batch_size in (64, 256):
            it = iter(DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=0))
            next(it)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                n += next(it)[schema.INPUT].shape[0]
            rate = n / (time.perf_counter() - start)
            print(f"{camera:12s} DataLoader(batch_size={batch_size}, num_workers=0): {rate:7.0f} clips/s")
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            ds[n]
            n += 1
        print(f"{camera:12s} one item at a time (__getitem__):      {n / (time.perf_counter() - start):7.0f} clips/s")


if __name__ == "__main__":
    _benchmark()
