"""Writes synthetic SMPL model files with the real shapes, for tests (no licensed data).

    write_smpl_model(path, chumpy=False)  SMPL-format pickle: v_template (6890, 3), shapedirs
        (6890, 3, 10), posedirs (6890, 3, 207), J_regressor (24, 6890) scipy.sparse.csc_matrix,
        weights (6890, 24), kintree_table (2, 24) with the real SMPL tree (root parent 2**32 − 1 as in
        the official files), f (13776, 3), bs_style / bs_type strings. With chumpy=True, v_template,
        shapedirs and J (24, 3) are pickled as objects of class `chumpy.ch.Ch` (state dict with the
        array under "x", like a terminal chumpy Ch), the way the official files store them; the fake
        `chumpy` modules exist in sys.modules only while the pickle is written. chumpy_expression="key"
        stores that key as a `chumpy.ch_ops.add` expression instead (to test the loader's error).
    write_h36m_regressor(path)            a random non-negative (17, 6890) regressor, rows summing to 1.
    write_mean_params(path)               smpl_mean_params.npz: pose (144,) 6D of random rotations
        (first two columns of each rotation matrix, row-major), shape (10,).
    write_smpl_files(dir)                 all of the above; returns their paths.

The "body" is a random blob of 6890 points about a metre across, skinned to the 24 joints: enough
for smplx to run for real; the numbers have no anatomical meaning.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.spatial.transform import Rotation

NUM_VERTICES, NUM_FACES, NUM_JOINTS = 6890, 13776, 24
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


def smpl_arrays(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    v_template = rng.normal(scale=0.3, size=(NUM_VERTICES, 3))
    owner = rng.integers(0, NUM_JOINTS, size=NUM_VERTICES)  # each vertex mostly follows one joint
    weights = 0.2 * rng.random((NUM_VERTICES, NUM_JOINTS)) / NUM_JOINTS
    weights[np.arange(NUM_VERTICES), owner] += 0.8
    weights /= weights.sum(axis=1, keepdims=True)
    rows, cols, vals = [], [], []
    for j in range(NUM_JOINTS):  # each joint: the mean of 12 of its vertices (rows sum to 1)
        members = np.flatnonzero(owner == j)[:12]
        rows += [j] * len(members)
        cols += list(members)
        vals += [1.0 / len(members)] * len(members)
    j_regressor = scipy.sparse.csc_matrix((vals, (rows, cols)), shape=(NUM_JOINTS, NUM_VERTICES))
    kintree = np.array([[2**32 - 1 if p < 0 else p for p in SMPL_PARENTS], list(range(NUM_JOINTS))], dtype=np.int64)
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(NUM_VERTICES, 3, 10)),
        "posedirs": rng.normal(scale=0.001, size=(NUM_VERTICES, 3, 207)),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, NUM_VERTICES, size=(NUM_FACES, 3)).astype(np.uint32),
        "J": j_regressor @ v_template,  # (24, 3), as the official files carry
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def _write_chumpy_flavoured(path: Path, data: dict, chumpy_keys: tuple[str, ...], expression_key: str | None) -> None:
    """Pickles `data` with `chumpy_keys` wrapped in a class named chumpy.ch.Ch, and `expression_key`
    (if any) as a chumpy.ch_ops.add expression (no stored value); the modules are faked for the write only."""

    class Ch:  # pickled by reference as chumpy.ch.Ch, with its __dict__ as state
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self._dirty_vars = set()
            self._itr = None
            self._depends_on_deps = {}
            self._make_dense = False
            self._make_sparse = False

    class add:  # noqa: N801 - chumpy's own class name
        def __init__(self, a: Ch, b: Ch) -> None:
            self.a, self.b, self._dirty_vars = a, b, set()

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    add.__module__, add.__qualname__ = "chumpy.ch_ops", "add"
    names = ("chumpy", "chumpy.ch", "chumpy.ch_ops")
    saved = {name: sys.modules.get(name) for name in names}
    package, module, ops = (types.ModuleType(name) for name in names)
    module.Ch, ops.add, package.ch, package.ch_ops = Ch, add, module, ops
    sys.modules.update(zip(names, (package, module, ops), strict=True))
    try:
        wrapped = {k: Ch(v) if k in chumpy_keys else v for k, v in data.items()}
        if expression_key is not None:
            value = np.asarray(data[expression_key])
            wrapped[expression_key] = add(Ch(value), Ch(np.zeros_like(value)))
        with open(path, "wb") as fh:
            pickle.dump(wrapped, fh, protocol=2)
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


def write_smpl_model(path: str | Path, chumpy: bool = False, seed: int = 0, chumpy_expression: str | None = None) -> Path:
    """chumpy_expression: store that key as a chumpy expression object (unreadable without chumpy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = smpl_arrays(seed)
    if chumpy or chumpy_expression:
        _write_chumpy_flavoured(path, data, ("v_template", "shapedirs", "J"), chumpy_expression)
    else:
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=4)
    return path


def write_h36m_regressor(path: str | Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    reg = rng.random((17, NUM_VERTICES)) * (rng.random((17, NUM_VERTICES)) < 0.01)
    reg /= reg.sum(axis=1, keepdims=True)
    path = Path(path)
    np.save(path, reg)
    return path


def write_mean_params(path: str | Path, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    rot = Rotation.random(NUM_JOINTS, random_state=seed).as_matrix()  # (24, 3, 3)
    path = Path(path)
    np.savez(path, pose=rot[:, :, :2].reshape(-1), shape=rng.normal(size=10), cam=np.array([0.9, 0.0, 0.0]))
    return path


def write_smpl_files(directory: str | Path, chumpy: bool = False) -> dict[str, Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    return {
        "model": write_smpl_model(d / "SMPL_NEUTRAL.pkl", chumpy=chumpy),
        "regressor": write_h36m_regressor(d / "J_regressor_h36m_correct.npy"),
        "mean_params": write_mean_params(d / "smpl_mean_params.npz"),
    }
