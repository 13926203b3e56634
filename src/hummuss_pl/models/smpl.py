"""A thin wrapper over the `smplx` package's SMPL layer: rotations + betas → vertices and H36M joints in mm.

Model files (licensed, never shipped or downloaded here):
    SMPL_NEUTRAL.pkl   the SMPLify neutral model `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl` from
                       https://smplify.is.tue.mpg.de (or the SMPL site, https://smpl.is.tue.mpg.de),
                       renamed, as in MotionBERT's README (data/mesh/SMPL_NEUTRAL.pkl)
    J_regressor_h36m   (17, 6890) .npy mapping vertices to the H36M-17 joints: MotionBERT's
                       data/mesh/J_regressor_h36m_correct.npy (SPIN/VIBE ship it as J_regressor_h36m.npy)

The official pickles contain `chumpy` arrays, and chumpy does not import on current numpy.
`load_smpl_model_file` never imports chumpy: its unpickler maps every `chumpy.*` class to a stub that
keeps the pickled state, and plain arrays are then rebuilt from the stubs' `x` (a terminal chumpy
`Ch` stores its value there). The cleaned arrays are handed to `smplx.SMPLLayer` through its
`data_struct` argument, so smplx never opens the file itself.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import roma
import torch
from torch import Tensor, nn

__all__ = [
    "NUM_SMPL_JOINTS",
    "NUM_VERTICES",
    "SMPL",
    "SMPLFiles",
    "SMPLModelFileError",
    "SMPLOutput",
    "SMPL_FLIP_PAIRS",
    "SMPL_PARENTS",
    "flip_smpl_pose",
    "build_smpl",
    "load_smpl_model_file",
    "resolve_smpl_model_path",
    "smpl_files",
]

NUM_VERTICES = 6890
NUM_SMPL_JOINTS = 24
# The SMPL kinematic tree (kintree_table[0] of the official files, root = −1).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# Left/right joint pairs of SMPL's 24 joints (hips, knees, ankles, feet, collars, shoulders, elbows,
# wrists, hands).
SMPL_FLIP_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
MODEL_FILE_NAME = "SMPL_NEUTRAL.pkl"
H36M_REGRESSOR_FILE = "J_regressor_h36m_correct.npy"  # MotionBERT's name (SPIN/VIBE: J_regressor_h36m.npy)
MEAN_PARAMS_FILE = "smpl_mean_params.npz"
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")

_WHERE_TO_GET = (
    "Download the neutral model from https://smplify.is.tue.mpg.de (SMPLify: "
    "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl; registration and licence required) and rename it to "
    "SMPL_NEUTRAL.pkl, as in MotionBERT's README (data/mesh/SMPL_NEUTRAL.pkl)."
)


class SMPLModelFileError(FileNotFoundError):
    """A SMPL model or regressor file is missing or unreadable; the message says where to get it."""


@dataclass(frozen=True)
class SMPLFiles:
    """The SMPL files of one folder, as MotionBERT's data/mesh holds them."""

    model: Path  # SMPL_NEUTRAL.pkl
    regressor: Path  # J_regressor_h36m_correct.npy (17, 6890)
    mean_params: Path  # smpl_mean_params.npz (SPIN's initial pose / shape)


def smpl_files(smpl_dir: str | Path) -> SMPLFiles:
    """Where the SMPL files are expected in `smpl_dir` (not checked here)."""
    folder = Path(smpl_dir).expanduser()
    return SMPLFiles(folder / MODEL_FILE_NAME, folder / H36M_REGRESSOR_FILE, folder / MEAN_PARAMS_FILE)


class SMPLOutput(NamedTuple):
    vertices: Tensor  # (..., 6890, 3) mm
    joints: Tensor  # (..., 17, 3) mm, H36M-17 order (J_regressor_h36m @ vertices)


# ----------------------------------------------------------------------------------------------
# Reading the official pickles without chumpy
# ----------------------------------------------------------------------------------------------


class _ChumpyStub:
    """Stands in for any chumpy class while unpickling; keeps the pickled state."""

    _chumpy_class = "chumpy"

    def __new__(cls, *args: Any, **kwargs: Any) -> "_ChumpyStub":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # never called by pickle; harmless otherwise
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state


def _stub_class(module: str, name: str) -> type:
    return type(name, (_ChumpyStub,), {"_chumpy_class": f"{module}.{name}", "__module__": __name__})


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _stub_class(module, name)
        return super().find_class(module, name)


def _to_plain(key: str, value: Any, path: Path) -> Any:
    if not isinstance(value, _ChumpyStub):
        return value
    state = value.__dict__.get("_state")
    if isinstance(state, dict) and "x" in state:
        return np.asarray(state["x"])
    raise SMPLModelFileError(
        f"{path}: entry {key!r} is a chumpy expression ({value._chumpy_class}), not a stored array, so it "
        "cannot be read without chumpy. Convert the file once with smplx's tools/clean_ch.py (needs chumpy), "
        "then point to the cleaned pickle.")


def resolve_smpl_model_path(model_path: str | Path) -> Path:
    """A file path as is, or `<dir>/SMPL_NEUTRAL.pkl` for a directory; raises SMPLModelFileError if missing."""
    path = Path(model_path).expanduser()
    file = path / MODEL_FILE_NAME if path.is_dir() else path
    if not file.is_file():
        where = f"directory {path} has no {MODEL_FILE_NAME}" if path.is_dir() else f"{file} does not exist"
        raise SMPLModelFileError(f"SMPL model file not found: {where}. {_WHERE_TO_GET}")
    return file


def load_smpl_model_file(model_path: str | Path) -> dict[str, Any]:
    """Reads an SMPL-format pickle (official, chumpy-flavoured, or cleaned) without importing chumpy.

    Returns the file's dict with every chumpy array replaced by a numpy array (J_regressor stays
    scipy.sparse when stored so; smplx densifies it). Checks that the keys smplx needs are present."""
    file = resolve_smpl_model_path(model_path)
    try:
        with open(file, "rb") as fh:
            data = _NoChumpyUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
        raise SMPLModelFileError(f"{file} is not a readable SMPL model pickle ({type(err).__name__}: {err}). "
                                 f"{_WHERE_TO_GET}") from err
    if not isinstance(data, dict):
        raise SMPLModelFileError(f"{file}: expected a pickled dict of SMPL arrays; got {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise SMPLModelFileError(f"{file} lacks the SMPL keys {missing} (has {sorted(data)}); "
                                 "is it an SMPL model file?")
    return {key: _to_plain(key, value, file) for key, value in data.items()}


def _load_regressor(path: str | Path, num_vertices: int) -> np.ndarray:
    file = Path(path).expanduser()
    if not file.is_file():
        raise SMPLModelFileError(
            f"H36M joint regressor not found: {file}. Use MotionBERT's data/mesh/J_regressor_h36m_correct.npy "
            "(or J_regressor_h36m.npy from SPIN/VIBE's data download): a (17, 6890) array.")
    reg = np.load(file)
    if reg.shape != (17, num_vertices):
        raise ValueError(f"{file}: the H36M joint regressor must have shape (17, {num_vertices}); got {reg.shape}")
    return reg


# ----------------------------------------------------------------------------------------------
# The layer
# ----------------------------------------------------------------------------------------------


class SMPL(nn.Module):
    """SMPL (neutral) via `smplx.SMPLLayer`, in millimetres, with H36M-17 joints.

    forward(pose, betas):
        pose   (..., 24, 3, 3) rotation matrices, or (..., 72) axis-angle (SMPL joint order; joint 0 is
               the global orientation)
        betas  (..., 10)
    → SMPLOutput(vertices (..., 6890, 3) mm, joints (..., 17, 3) mm). No translation is applied.
    The model's arrays are buffers (they follow .to(device/dtype)) and are not saved in state_dict
    (the SMPL licence forbids redistribution; checkpoints stay free of it).
    """

    def __init__(self, model_path: str | Path, h36m_regressor_path: str | Path, num_betas: int = 10) -> None:
        super().__init__()
        import smplx  # heavy import, only when a mesh model is built
        from smplx.utils import Struct

        file = resolve_smpl_model_path(model_path)
        data = load_smpl_model_file(file)
        num_vertices = np.asarray(data["v_template"]).shape[0]
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note about 10-beta models
            self.layer = smplx.SMPLLayer(model_path=str(file), data_struct=Struct(**data), num_betas=num_betas)
        self.num_betas = self.layer.num_betas
        reg = torch.as_tensor(_load_regressor(h36m_regressor_path, num_vertices), dtype=torch.float32)
        self.register_buffer("J_regressor_h36m", reg, persistent=False)  # (17, V)
        # The licensed model data must not end up in checkpoints: every buffer is non-persistent.
        for module in self.layer.modules():
            for name, buf in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buf, persistent=False)
        self.model_path = file

    @property
    def faces(self) -> np.ndarray:
        return self.layer.faces

    def forward(self, pose: Tensor, betas: Tensor) -> SMPLOutput:
        if pose.shape[-3:] == (NUM_SMPL_JOINTS, 3, 3):
            lead, rotmat = pose.shape[:-3], pose
        elif pose.shape[-1:] == (NUM_SMPL_JOINTS * 3,):
            lead = pose.shape[:-1]
            rotmat = roma.rotvec_to_rotmat(pose.reshape(lead + (NUM_SMPL_JOINTS, 3)))  # (..., 24, 3, 3)
        else:
            raise ValueError(f"SMPL pose must be rotation matrices (..., 24, 3, 3) or axis-angle (..., 72); "
                             f"got {tuple(pose.shape)}")
        if betas.shape != lead + (self.num_betas,):
            raise ValueError(f"SMPL betas must have shape {tuple(lead) + (self.num_betas,)} to match pose "
                             f"{tuple(pose.shape)}; got {tuple(betas.shape)}")
        dtype = self.layer.shapedirs.dtype
        rotmat = rotmat.reshape(-1, NUM_SMPL_JOINTS, 3, 3).to(dtype)  # (B, 24, 3, 3)
        out = self.layer(betas=betas.reshape(-1, self.num_betas).to(dtype), global_orient=rotmat[:, :1],
                         body_pose=rotmat[:, 1:], pose2rot=False)
        vertices = out.vertices * 1000.0  # (B, V, 3) m → mm
        joints = torch.einsum("jv,bvc->bjc", self.J_regressor_h36m.to(vertices.dtype), vertices)  # (B, 17, 3)
        return SMPLOutput(vertices.reshape(lead + vertices.shape[-2:]), joints.reshape(lead + (17, 3)))


def build_smpl(smpl_dir: str | Path, owner: str) -> SMPL:
    """The neutral SMPL layer from the files in `smpl_dir`; a missing file raises SMPLModelFileError
    naming `owner` (the argument that set the folder, e.g. "MeshTask.smpl_dir") and the file."""
    files = smpl_files(smpl_dir)
    try:
        return SMPL(files.model, files.regressor)
    except SMPLModelFileError as err:
        raise SMPLModelFileError(f"{owner}={str(smpl_dir)!r}: {err} The folder must hold {MODEL_FILE_NAME} and "
                                 f"{H36M_REGRESSOR_FILE} (MotionBERT's data/mesh layout).") from err


def flip_smpl_pose(pose: Tensor) -> Tensor:
    """Mirrors SMPL poses across the x = 0 plane (flip test-time augmentation, as MotionBERT's
    `flip_thetas`): swap left/right joints and conjugate each rotation by diag(−1, 1, 1), which for
    axis-angle negates the y and z components. pose: (..., 72) axis-angle or (..., 24, 3, 3)."""
    perm = list(range(NUM_SMPL_JOINTS))
    for a, b in SMPL_FLIP_PAIRS:
        perm[a], perm[b] = b, a
    if pose.shape[-3:] == (NUM_SMPL_JOINTS, 3, 3):
        mirror = torch.tensor([-1.0, 1.0, 1.0], dtype=pose.dtype, device=pose.device)
        flipped = pose[..., perm, :, :]
        return flipped * mirror[:, None] * mirror[None, :]  # M R M, M = diag(−1, 1, 1)
    if pose.shape[-1:] == (NUM_SMPL_JOINTS * 3,):
        aa = pose.reshape(pose.shape[:-1] + (NUM_SMPL_JOINTS, 3))[..., perm, :]
        mirror = torch.tensor([1.0, -1.0, -1.0], dtype=pose.dtype, device=pose.device)
        return (aa * mirror).reshape(pose.shape)
    raise ValueError(f"pose must be axis-angle (..., 72) or rotation matrices (..., 24, 3, 3); got {tuple(pose.shape)}")
