"""The motion library: time basis, class templates, subjects and each item's random draws.

A motion is a continuous function of time: joint angles are `basis(t) @ coef`, with the basis a few
time functions (constant, sin/cos of the tempo and its harmonics, rectified sines, slow sway tones)
and `coef` a class template plus per-item jitter. `kinematics` turns angles into joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import numpy as np

from hummuss_pl.skeleton import H36M_FLIP_PERM, NUM_JOINTS

if TYPE_CHECKING:
    from .config import SyntheticConfig

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "walk", "run", "jump", "wave", "squat", "turn", "kick", "punch", "jumping_jack", "idle",
)  # fmt: skip
SUBJECT_ID_STRIDE = 1_000_000  # subject ids: split_code * stride + k
_GRAVITY = 9.81


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
STAGE_REACH_M = max(s.radius_m[1] for s in _CLASS_SPECS.values()) + _STAGE_OFFSET_M * math.sqrt(2)
_SECOND_ACTOR_LATERAL_M = (0.9, 1.4)
SECOND_ACTOR_DEPTH_M = 0.5


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
    base = cfg.split_code * SUBJECT_ID_STRIDE
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
