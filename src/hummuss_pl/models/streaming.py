"""The streaming interface every backbone offers: feed one frame, get that frame's output.

    s = model.streamer(batch_size, **options)
    y_t = s.push(x_t, rate=None)     # x_t (B, J, 3) → (B, J, 3), causal: uses frames ≤ t only
    s.reset()                        # start new streams

Benchmarks and the inference CLI only talk to this interface, so HumMUSS's recurrent step and
MotionBERT's sliding-window and KV-cache baselines are measured and used alike. Options differ
per backbone: HumMUSS takes none; MotionBERT takes mode="window" (window=W ≤ maxlen) or mode="kv"
(max_frames=T ≤ maxlen, the cache's capacity). MotionBERT's window streamer also offers
`prefill(frames)`, which loads history without computing outputs (a push's output depends only on
the frames in its window).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


class Streamer(ABC):
    """Stateful frame-by-frame inference for `batch_size` parallel streams."""

    batch_size: int
    frames: int  # frames pushed since the last reset

    @abstractmethod
    def push(self, x: Tensor, rate: float | Tensor | None = None) -> Tensor:
        """Consume one frame x (B, J, 3); return the output for it, (B, J, 3).

        `rate` (Δ multiplier, fps_train / fps_input) is honoured by models with a continuous-time
        notion of frame spacing; `None` means the training rate.
        """

    @abstractmethod
    def reset(self) -> None:
        """Forget all frames pushed so far."""


def input_major_weights(model: nn.Module) -> nn.Module:
    """Stores each `nn.Linear` weight of `model` input-major (its transpose contiguous), in place.

    Shapes, values, parameter objects and state_dict entries stay as they are; only the memory
    layout changes. A frame-by-frame step multiplies a few rows (batch × joints) by every weight,
    and for such skinny products the CPU BLAS reads an input-major (in, out) matrix faster than
    the (out, in) one `nn.Linear` keeps: 17 rows × (256 → 1280) took 60 instead of 81 µs (2
    threads), 134 instead of 188 µs (1 thread); from a few hundred rows on both layouts cost the
    same. Training on such a model works unchanged (gradients and optimizer states follow the
    parameter's layout). The per-frame streamers call this; returns `model`.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.weight.is_contiguous():
                module.weight.data = module.weight.data.t().contiguous().t()  # (out, in) with strides (1, out)
    return model
