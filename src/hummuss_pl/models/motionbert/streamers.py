"""Streaming a causal MotionBERT one frame at a time, behind the `Streamer` interface HumMUSS shares:
a sliding-window recompute (what the HumMUSS paper timed) and a KV cache (up to `maxlen` frames)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..inputs import check_keypoints
from ..streaming import Streamer, input_major_weights

if TYPE_CHECKING:  # the model imports this module when it builds a streamer
    from .model import MotionBERT, Rate


def _check_stream_input(model: MotionBERT, x: Tensor, rate: Rate, batch_size: int) -> None:
    if rate is not None:
        model._check_rate(rate)
    model._check_input(x, per_frame=True)
    if x.shape[0] != batch_size:
        raise ValueError(f"this streamer was made for batch_size={batch_size}; got x of shape {tuple(x.shape)}")


class MotionBERTWindowStreamer(Streamer):
    """Sliding-window recompute, the "official implementation" streaming the HumMUSS paper timed.

    Each push runs the causal model on the last W frames (all frames while fewer than W have been
    pushed) and returns the output of the newest one. Inside the window frames sit at positions
    0 … W−1 of `temp_embed`, so once the stream is longer than W the output at t equals
    model(x[t−W+1 … t])[-1], not a function of the whole history. Cost per frame grows with W (the
    per-token layers linearly, temporal attention quadratically) but not with the stream length.

    A push's output depends only on the buffered frames, never on earlier outputs, so `prefill`
    can load history (recorded frames, or a benchmark's context) without the per-frame recomputes.
    """

    def __init__(self, model: MotionBERT, batch_size: int, window: int | None = None, device: torch.device | str | None = None) -> None:
        model._require_causal("streamer")
        maxlen = model.cfg.maxlen
        window = maxlen if window is None else int(window)
        if not 1 <= window <= maxlen:
            raise ValueError(f"window must be in [1, maxlen={maxlen}] (temp_embed has maxlen rows); got {window}")
        self.model, self.batch_size, self.window = model, batch_size, window
        self.device = device if device is not None else model.temp_embed.device
        cfg = model.cfg
        # Every frame is written twice, at slot s and s + W, so the last W frames are always the
        # contiguous slice [s+1, s+1+W) and no per-frame roll or concatenation is needed.
        self._buffer = torch.zeros(
            batch_size, 2 * window, cfg.num_joints, cfg.in_channels, device=self.device, dtype=model.temp_embed.dtype
        )
        self.reset()

    def reset(self) -> None:
        self.frames = 0

    @torch.no_grad()
    def prefill(self, frames: Tensor) -> None:
        """Append frames (B, n, J, 3), oldest first, to the streams without computing their outputs.

        Leaves the streamer exactly as n calls `push(frames[:, i])` would (same buffer, same
        `self.frames`), minus their n window recomputes; only the newest min(n, window) frames are
        kept, as pushing would. The next `push` then returns what it would after those pushes.
        """
        cfg = self.model.cfg
        check_keypoints(frames, "MotionBERT", cfg.num_joints, cfg.in_channels, per_frame=False)
        if frames.shape[0] != self.batch_size:
            raise ValueError(f"this streamer was made for batch_size={self.batch_size}; got frames of shape {tuple(frames.shape)}")
        w, n = self.window, frames.shape[1]
        keep = min(n, w)
        end = self.frames + n  # stream length after the prefill
        slots = torch.arange(end - keep, end, device=self._buffer.device) % w  # (keep,): each frame's slot s, as push uses
        recent = frames[:, n - keep :]  # (B, keep, J, 3)
        self._buffer[:, slots] = recent
        self._buffer[:, slots + w] = recent
        self.frames = end

    @torch.no_grad()
    def push(self, x: Tensor, rate: Rate = None) -> Tensor:
        _check_stream_input(self.model, x, rate, self.batch_size)  # before writing: a (J, 3) frame would broadcast
        w, n = self.window, self.frames
        s = n % w
        self._buffer[:, s] = x
        self._buffer[:, s + w] = x
        clip = self._buffer[:, : n + 1] if n < w else self._buffer[:, s + 1 : s + 1 + w]  # (B, ≤W, J, 3), oldest first
        rep = self.model.representation(clip)  # (B, ≤W, J, dim_rep)
        self.frames = n + 1
        return self.model.head(rep[:, -1])  # (B, J, 3)


class MotionBERTKVStreamer(Streamer):
    """KV-cache streaming: each push computes only the new frame's tokens.

    What is cached: every block of both streams (stage_st and stage_ts, in each layer) has one
    temporal attention; for it the keys and values of all earlier frames' tokens at that
    sub-layer's input are kept, in (B, J, H, max_frames, C/H) buffers allocated once (max_frames
    defaults to maxlen; a smaller one saves memory for streams known to be shorter). The spatial
    attention of the new frame needs only that frame's tokens, and the MLPs, fusion and head are
    per token, so nothing else depends on the past. The output equals the causal model run on the
    whole prefix (up to float rounding).

    Valid only for the first maxlen frames of a stream: `temp_embed` is an absolute position
    table with maxlen rows, so frame maxlen has no embedding, and sliding the window instead would
    move every cached frame to a new position and change every cached key and value. Pushing
    frame max_frames + 1 raises (the streamer stays usable after `reset()`); use mode="window" for
    longer streams. Like HumMUSS's streamer it lays the model's Linear weights out input-major
    (`input_major_weights`; values unchanged): each push multiplies a few rows by every weight.
    """

    def __init__(
        self, model: MotionBERT, batch_size: int, device: torch.device | str | None = None, max_frames: int | None = None
    ) -> None:
        model._require_causal("streamer")
        self.model, self.batch_size = input_major_weights(model), batch_size
        self.device = device if device is not None else model.temp_embed.device
        self.max_frames = model._kv_capacity(max_frames)
        self._cache = model.init_kv_cache(batch_size, self.device, self.max_frames)
        self.reset()

    def reset(self) -> None:
        self.frames = 0  # the buffers are overwritten row by row, so they need no clearing

    @torch.no_grad()
    def push(self, x: Tensor, rate: Rate = None) -> Tensor:
        _check_stream_input(self.model, x, rate, self.batch_size)
        maxlen = self.model.cfg.maxlen
        if self.frames >= self.max_frames:
            if self.max_frames == maxlen:
                raise RuntimeError(
                    f"the KV cache holds at most maxlen={maxlen} frames: MotionBERT's temporal embedding is absolute, so "
                    f"frame {self.frames + 1} has no position and sliding would invalidate every cached key/value. Call "
                    "reset() to start new streams, or use model.streamer(..., mode='window') for streams longer than maxlen."
                )
            raise RuntimeError(
                f"this KV cache was made for max_frames={self.max_frames} frames and is full, so frame {self.frames + 1} "
                f"has no room. Make the streamer with a larger max_frames (at most maxlen={maxlen}), call reset() to "
                "start new streams, or use model.streamer(..., mode='window') for streams of any length."
            )
        rep = self.model._step(x, self._cache, self.frames)  # (B, J, dim_rep)
        self.frames += 1
        return self.model.head(rep)  # (B, J, 3)
