"""Strict weight loading, the one way weights enter a model here: every missing, unexpected and
mis-shaped key is listed, nothing is loaded unless all of them fit. `read_checkpoint` is the one way
checkpoint files are read: a file torch cannot read says so in one line naming it."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read: cut short (a crash or a full disk while writing it), another
    kind of file, or unreadable."""


def read_checkpoint(path: str | Path, weights_only: bool = True) -> Any:
    """`torch.load(path)` onto the CPU, tensor data memory-mapped where the file allows it (torch's zip
    format), so reading a large checkpoint's header costs little.

    A file torch cannot read raises CheckpointFileError naming it ("truncated or not a checkpoint", with
    torch's reason); a file holding objects that `weights_only` refuses raises torch's UnpicklingError
    unchanged, for the caller to explain.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=zipfile.is_zipfile(path))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        raise CheckpointFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    except OSError as err:  # torch's reader of pre-zip files seeking past the end of a file cut short
        raise CheckpointFileError(f"{path}: truncated or not a checkpoint ({_first_line(err)})") from None
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):
            raise
        raise CheckpointFileError(f"{path}: truncated or not a checkpoint ({_first_line(err)})") from None
    except Exception as err:  # noqa: BLE001 - torch reports a broken file with many types (RuntimeError, EOFError, KeyError, ...)
        raise CheckpointFileError(f"{path}: truncated or not a checkpoint ({_first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160]}" if text else type(err).__name__


def mismatches(module: nn.Module, state: Mapping[str, object]) -> list[str]:
    """What keeps `state` from loading into `module` strictly, one line per kind (empty: it fits)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = lambda v: tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__  # noqa: E731
    misshaped = [f"{k}: checkpoint {shape(state[k])} vs model {shape(own[k])}" for k in own
                 if k in state and (not isinstance(state[k], Tensor) or state[k].shape != own[k].shape)]  # fmt: skip
    kinds = (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped keys", misshaped))
    return [f"  {title} ({len(keys)}): " + ", ".join(keys) for title, keys in kinds if keys]


def load_strict(module: nn.Module, state: Mapping[str, Tensor], what: str, error: type[Exception] = ValueError,
                hints: Iterable[str] = ()) -> None:  # fmt: skip
    """Loads `state` into `module` with strict=True, or raises `error` naming `what` (e.g. the file),
    listing every mismatch, then `hints` (lines that may say why)."""
    problems = mismatches(module, state)
    if problems:
        raise error("\n".join([f"{what} does not fit the model:", *problems, *(f"  hint: {h}" for h in hints)]))
    module.load_state_dict(state, strict=True)
