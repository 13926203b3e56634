"""Strict weight loading, the one way weights enter a model here: every missing, unexpected and
mis-shaped key is listed, nothing is loaded unless all of them fit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import Tensor, nn


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
