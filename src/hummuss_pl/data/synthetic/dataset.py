"""Rendering items (motion → camera → sample dict) and the `SyntheticMotion` dataset."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import (
    FPS,
    HAS_3D,
    INDEX,
    INPUT,
    LABEL,
    NUM_CLASSES,
    SCALE_MM,
    SOURCE,
    SUBJECT,
    TARGET_3D,
    TIMES,
)
from hummuss_pl.skeleton import NUM_JOINTS

from .config import SOURCE_NAME, SYNTHETIC_NOTICE, SyntheticConfig
from .kinematics import _camera_arrays, _pose, _project, _world_pose
from .motions import (
    _SECOND_ACTOR_LATERAL_M,
    SECOND_ACTOR_DEPTH_M,
    SYNTHETIC_CLASSES,
    _draw_item,
    _Draws,
    _motion_arrays,
)


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
        shift[:, 1, 1] = SECOND_ACTOR_DEPTH_M * (2 * su[:, 2] - 1)
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
            INPUT: x, TARGET_3D: y, HAS_3D: True, FPS: fps, SCALE_MM: float(scale_mm[n * actors]), SOURCE: SOURCE_NAME,
            LABEL: labels[d.cls], NUM_CLASSES: len(cfg.classes), SUBJECT: d.subjects[0], TIMES: times32, INDEX: int(indices[n]),
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


class SyntheticMotion(Dataset):
    """Map-style dataset of `config.num_clips` procedural clips (sample dicts per batch.py).

    Keys: INPUT (T, 17, 3) 2D + confidence 1 (clean; corrupt on the device with data.corruption),
    TARGET_3D (T, 17, 3), HAS_3D True, FPS, SCALE_MM, SOURCE "synthetic", LABEL (index into
    config.classes), NUM_CLASSES (len(config.classes)), SUBJECT, TIMES (T,), INDEX (hummuss_pl.batch).
    With layout "action" INPUT and TARGET_3D
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


def benchmark(seconds: float = 2.0) -> None:
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
                n += next(it)[INPUT].shape[0]
            rate = n / (time.perf_counter() - start)
            print(f"{camera:12s} DataLoader(batch_size={batch_size}, num_workers=0): {rate:7.0f} clips/s")
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            ds[n]
            n += 1
        print(f"{camera:12s} one item at a time (__getitem__):      {n / (time.perf_counter() - start):7.0f} clips/s")
