"""Cameras, forward kinematics on the H36M-17 skeleton and projection to the model's 2D input."""

from __future__ import annotations

import numpy as np

from hummuss_pl.skeleton import H36M_PARENTS, NUM_JOINTS

from .config import SyntheticConfig
from .motions import (  # the time basis and the angle channels
    _AX,
    _AY,
    _AZ,
    _COS,
    _ELBOWS,
    _FLIGHT,
    _KNEES,
    _LAT,
    _NB,
    _ONE,
    _RELU_2,
    _RELU_NEG,
    _RELU_POS,
    _SIN,
    _SLOW,
)


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
