"""Official MotionBERT checkpoints: strict import (`latest_epoch.bin`, `best_epoch.bin`, action / mesh
runs) and export in the layout the official scripts read."""

from __future__ import annotations

import os
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import Tensor

from ..weights import load_strict, read_checkpoint
from .model import MotionBERT


class MotionBERTCheckpointError(ValueError):
    """A checkpoint whose keys or shapes do not fit the model (the message lists them all)."""


def _numpy_safe_globals() -> list:
    """Numpy scalar reconstruction, which official files need for `min_loss` (a numpy float64).

    Files pickled under numpy 1 name the function `numpy.core.multiarray.scalar`, under numpy 2
    `numpy._core.multiarray.scalar`; both are allow-listed. These only rebuild numbers.
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch's usual installs
        return []
    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    dtypes = [type(np.dtype(code)) for code in ("f2", "f4", "f8", "i4", "i8", "u1", "b1")]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype, *dtypes]


def _read_checkpoint_file(path: str | os.PathLike, weights_only: bool) -> object:
    if not weights_only:
        return read_checkpoint(path, weights_only=False)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return read_checkpoint(path, weights_only=True)  # CheckpointFileError: truncated or not a checkpoint
    except pickle.UnpicklingError as err:
        raise MotionBERTCheckpointError(
            f"{os.fspath(path)} holds Python objects other than tensors, numbers and containers, so it was not unpickled "
            f"(torch.load(weights_only=True) refused it: {str(err).strip().splitlines()[-1][:300]}). Official MotionBERT "
            "files do not need that. If you trust the file, pass weights_only=False, which runs its pickle code."
        ) from err


def _split_state_dict(ckpt: Mapping) -> tuple[dict[str, Tensor], list[str]]:
    """The backbone's state_dict from a checkpoint, with `module.` / `backbone.` stripped, and the
    keys left out (heads of action/mesh models)."""
    if "model_pos" in ckpt:
        sd = ckpt["model_pos"]
    elif "model" in ckpt:
        sd = ckpt["model"]
    elif all(isinstance(v, Tensor) for v in ckpt.values()):
        sd = ckpt
    else:
        raise MotionBERTCheckpointError(
            "expected an official MotionBERT checkpoint (a dict with 'model_pos' for pretrain/pose runs or 'model' for "
            f"action/mesh runs) or a bare state_dict of tensors; got a dict with keys {sorted(map(str, ckpt))[:10]}"
        )
    if not isinstance(sd, Mapping):
        raise MotionBERTCheckpointError(f"the checkpoint's model entry is a {type(sd).__name__}, not a state_dict")
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    ignored: list[str] = []
    if any(k.startswith("backbone.") for k in sd):  # ActionNet / MeshRegressor: backbone + head
        ignored = [k for k in sd if not k.startswith("backbone.")]
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    return sd, ignored


def _hints(model: MotionBERT, sd: Mapping[str, Tensor]) -> list[str]:
    """Why official weights may not fit: the wrong variant (width) or temporal length."""
    hints = []
    w = sd.get("joints_embed.weight")
    if isinstance(w, Tensor) and w.dim() == 2 and w.shape[0] != model.cfg.dim_feat:
        hints.append(f"the checkpoint has dim_feat={w.shape[0]} but the model {model.cfg.dim_feat}; "
                     "MotionBERTConfig.base() is the 512-wide MB_release model, MotionBERTConfig.lite() the 256-wide MB_lite one")  # fmt: skip
    te = sd.get("temp_embed")
    if isinstance(te, Tensor) and te.dim() == 4 and te.shape[1] != model.cfg.maxlen:
        hints.append(f"the checkpoint has maxlen={te.shape[1]} (temp_embed rows); set MotionBERTConfig.maxlen to match")
    return hints


def load_motionbert_checkpoint(
    model: MotionBERT, path_or_dict: str | os.PathLike | Mapping, *, weights_only: bool = True
) -> MotionBERT:
    """Load official MotionBERT weights into `model` strictly; returns `model`.

    Accepts a file path or an already loaded dict: official `latest_epoch.bin` / `best_epoch.bin`
    / `epoch_N.bin` (dicts with 'model_pos'; or 'model' for action/mesh runs, whose `backbone.*`
    part is taken and whose head keys are ignored with a warning), or a bare state_dict. The
    `module.` prefix of DataParallel checkpoints is stripped. Files are read on the CPU with
    torch.load(weights_only=True), numpy scalars allowed; `weights_only=False` unpickles anything
    and is for trusted files only. Any missing, unexpected or mis-shaped key raises
    `MotionBERTCheckpointError` listing all of them. Official weights are bidirectional; loading
    them into a causal config is allowed (the keys are the same) and gives the causal variant.
    """
    if isinstance(path_or_dict, Mapping):
        ckpt = path_or_dict
    elif isinstance(path_or_dict, (str, os.PathLike)):
        ckpt = _read_checkpoint_file(path_or_dict, weights_only)
    else:
        raise TypeError(f"path_or_dict must be a file path or a dict; got {type(path_or_dict).__name__}")
    if not isinstance(ckpt, Mapping):
        raise MotionBERTCheckpointError(f"expected the checkpoint to be a dict; got {type(ckpt).__name__}")
    sd, ignored = _split_state_dict(ckpt)
    what = "the checkpoint" if isinstance(path_or_dict, Mapping) else os.fspath(path_or_dict)
    load_strict(model, sd, what, MotionBERTCheckpointError, _hints(model, sd))
    if ignored:
        shown = ", ".join(ignored[:8]) + (", …" if len(ignored) > 8 else "")
        warnings.warn(
            f"load_motionbert_checkpoint: took the backbone.* weights; ignored {len(ignored)} other keys (the task head): {shown}",
            stacklevel=2,
        )
    return model


def export_motionbert_checkpoint(
    model: MotionBERT,
    path: str | os.PathLike,
    *,
    epoch: int = 0,
    lr: float = 5e-4,
    min_loss: float | None = None,
) -> None:
    """Write `model`'s weights as an official pretrain/pose3d checkpoint (like `latest_epoch.bin`).

    The file has the top-level keys official `train.py`'s `save_checkpoint` writes, {'epoch', 'lr',
    'optimizer', 'model_pos', 'min_loss'}, with `module.`-prefixed keys in 'model_pos' (the
    official scripts wrap the model in `nn.DataParallel` before `load_state_dict(strict=True)`).
    Its `--evaluate` / `--pretrained` paths, `infer_wild.py` and the action / mesh scripts read
    'model_pos'. Official `--resume` also reads:

    - 'epoch': epochs already done; training resumes at that epoch index (0: from the start).
    - 'lr': the current learning rate, which it decays (`lr *= lr_decay`) and saves again, so it
      must be a number; the default 5e-4 is the official pretraining configs' `learning_rate`
      (MB_pretrain / MB_lite; pose3d fine-tuning uses 2e-4). Pass the rate your run ended at.
    - 'optimizer': None here, so it builds a fresh AdamW at the config's learning rate.
    - 'min_loss': the best validation MPJPE so far; None lets it keep its initial 100000.

    The official code has no causal mask, so a causal model exported this way runs bidirectionally
    there.
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise ValueError(f"lr must be a positive number (official train.py --resume multiplies it by lr_decay); got {lr!r}")
    weights = OrderedDict(("module." + k, v.detach().to("cpu", copy=True)) for k, v in model.state_dict().items())
    ckpt = {"epoch": int(epoch), "lr": float(lr), "optimizer": None, "model_pos": weights, "min_loss": min_loss}
    torch.save(ckpt, path)
