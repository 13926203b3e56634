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

from torch import Tensor


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
