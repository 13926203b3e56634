"""Input checks shared by the backbones: (B, F, J, C) clips and (B, J, C) frames of 2D keypoints."""

from __future__ import annotations

import torch
from torch import Tensor

# Normalised screen coordinates put the image between -1 and 1 (its width); 100 is fifty image widths
# away: only pixels passed without normalising, or garbage, get there (1e30 gave NaN poses silently).
MAX_COORDINATE = 100.0


def check_keypoints(x: object, model: str, num_joints: int, channels: int, per_frame: bool, frames_note: str = "") -> None:
    """Raises a ValueError naming the expected shape when `x` is not a non-empty, finite float tensor
    of shape (batch, frames, joints, channels) (or (batch, joints, channels) with `per_frame`)."""
    frames = "" if per_frame else f"frames{frames_note}, "
    shape = f"(batch, {frames}joints={num_joints}, channels={channels})"
    rank = 3 if per_frame else 4
    if not isinstance(x, Tensor) or x.dim() != rank or tuple(x.shape[-2:]) != (num_joints, channels):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{model} expects x of shape {shape} with channels (x, y, confidence); got {got}")
    if 0 in x.shape[: rank - 2]:
        raise ValueError(f"{model} got an empty input of shape {tuple(x.shape)}; expected {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{model} expects a floating-point x of shape {shape}; got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(
            f"{model} expects finite x of shape {shape}; got NaN or infinite values in x of shape {tuple(x.shape)}. "
            "Mark missing joints with zeros (confidence 0) instead"
        )
    largest = float(x[..., :2].abs().max())
    if largest > MAX_COORDINATE:
        raise ValueError(
            f"{model} expects x, y in MotionBERT's normalised screen coordinates (about -1..1 across the image); got values "
            f"up to {largest:.3g}. Normalise pixels first (hummuss_pl.batch.normalize_screen(xy, width, height))"
        )


def as_dtype_of(x: Tensor, weight: Tensor) -> Tensor:
    """`x` in the dtype of the model's weights (float64 keypoints from numpy meet float32 weights)."""
    return x if x.dtype == weight.dtype else x.to(weight.dtype)


def check_batch_size(batch_size: object, what: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive integer (the number of streams); got {batch_size!r}")
    return batch_size
