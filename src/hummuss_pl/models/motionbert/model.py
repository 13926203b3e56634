"""MotionBERT's DSTformer backbone, state_dict-compatible with the official release.

    x (B, F, J, 3) ─ joints_embed (3 → C) + pos_embed[J] + temp_embed[F]
      ─ depth × { stage_st block ∥ stage_ts block, fused per token by softmax(ts_attn[i]) }
      ─ norm ─ pre_logits.fc (C → dim_rep) ─ tanh = representation (B, F, J, dim_rep)
      ─ head (dim_rep → 3) = 3D joints (B, F, J, 3)

Compatibility with Walter0807/MotionBERT (`lib/model/DSTformer.py`): the parameter names, shapes
and their order in `state_dict()` are the official ones, so official checkpoints load strictly
(`load_motionbert_checkpoint`) and models trained here can be handed back to the official code
(`export_motionbert_checkpoint`). LayerNorm eps is 1e-6, qkv has a bias, there is no dropout or
drop-path (the official backbone never enables them).

Positions in time are a learned absolute table `temp_embed` of `maxlen` rows, so a clip has at
most `maxlen` frames and the model has no notion of frame rate: inputs must come at the rate it was
trained on. `rate` is accepted for API parity with HumMUSS only as 1.0 (or None).

`causal=True` masks temporal attention so frame t sees frames ≤ t (spatial attention over the
joints of one frame stays full). Keys are unchanged, so official weights load into it. Causal
models stream (`model.streamer`): a sliding-window recompute (what the HumMUSS paper timed) or a
KV cache (valid up to `maxlen` frames).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ..inputs import as_dtype_of, check_keypoints
from ..streaming import Streamer

Rate = float | Tensor | None
StreamMode = Literal["window", "kv"]

_LN_EPS = 1e-6  # the official backbone is built with partial(nn.LayerNorm, eps=1e-6)


@dataclass(frozen=True)
class MotionBERTConfig:
    """Every hyper-parameter of the DSTformer; the model's only constructor input.

    Field names follow the official YAML configs (`dim_feat`, `dim_rep`, `depth`, `num_heads`,
    `mlp_ratio`, `maxlen`, `num_joints`). The MLP hidden width is int(dim_feat × mlp_ratio).
    """

    causal: bool = False
    num_joints: int = 17
    in_channels: int = 3  # x, y, confidence
    out_channels: int = 3
    dim_feat: int = 256
    dim_rep: int = 512
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 4.0
    maxlen: int = 243

    def __post_init__(self) -> None:
        for name in ("num_joints", "in_channels", "out_channels", "dim_feat", "dim_rep", "depth", "num_heads", "maxlen"):
            if getattr(self, name) < 1:
                raise ValueError(f"MotionBERTConfig.{name} must be positive; got {getattr(self, name)}")
        if self.dim_feat % self.num_heads:
            raise ValueError(
                f"MotionBERTConfig.num_heads={self.num_heads} must divide dim_feat={self.dim_feat} (each head gets dim_feat / num_heads channels)"
            )
        if int(self.dim_feat * self.mlp_ratio) < 1:
            raise ValueError(f"MotionBERTConfig.mlp_ratio={self.mlp_ratio} gives an empty MLP for dim_feat={self.dim_feat}")

    @property
    def mlp_hidden(self) -> int:
        return int(self.dim_feat * self.mlp_ratio)

    @classmethod
    def lite(cls, causal: bool = False) -> "MotionBERTConfig":
        """MotionBERT-Lite (`configs/pretrain/MB_lite.yaml`): 16,001,549 parameters."""
        return cls(causal=causal, dim_feat=256, mlp_ratio=4.0, dim_rep=512, depth=5, num_heads=8, maxlen=243)

    @classmethod
    def base(cls, causal: bool = False) -> "MotionBERTConfig":
        """MotionBERT (`configs/pretrain/MB_pretrain.yaml`, the `MB_release` checkpoint): 42,466,317 parameters."""
        return cls(causal=causal, dim_feat=512, mlp_ratio=2.0, dim_rep=512, depth=5, num_heads=8, maxlen=243)

    @classmethod
    def tiny(cls, causal: bool = False) -> "MotionBERTConfig":
        """A few-ten-thousand-parameter model with a short `maxlen`, for unit tests."""
        return replace(cls.lite(causal), dim_feat=32, mlp_ratio=2.0, dim_rep=32, depth=2, num_heads=4, maxlen=48)

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------- building blocks
class Mlp(nn.Module):
    """fc1 (C → hidden) → GELU → fc2 (hidden → C), applied to each token."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis of (..., N, C).

    The fused `qkv` projection lays its 3C outputs out as (q|k|v, head, channel) and the heads are
    concatenated head-major before `proj`, as in the official weights. `proj` is registered before
    `qkv` only so that `state_dict()` lists the keys in the official order.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.proj = nn.Linear(dim, dim)
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """x (..., N, C) → (..., N, C); `causal` lets token n attend to tokens ≤ n only."""
        q, k, v = rearrange(self.qkv(x), "... n (three h c) -> three ... h n c", three=3, h=self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (..., H, N, c); scale c^-0.5
        return self.proj(rearrange(out, "... h n c -> ... n (h c)"))

    def step(self, x: Tensor, keys: Tensor, values: Tensor, t: int) -> Tensor:
        """Causal attention for the token at position t of every sequence, with a KV cache.

        x: (S, C), the new token of each of S sequences. keys / values: (S, H, T, c) buffers
        (T > t frames of capacity) whose rows < t hold the keys / values of earlier positions; row t
        is written here.
        """
        q, k, v = rearrange(self.qkv(x), "s (three h c) -> three s h c", three=3, h=self.num_heads)
        keys[:, :, t] = k
        values[:, :, t] = v
        out = F.scaled_dot_product_attention(q.unsqueeze(-2), keys[:, :, : t + 1], values[:, :, : t + 1])  # (S, H, 1, c)
        return self.proj(out.flatten(1))  # (S, H·c)


class Block(nn.Module):
    """One DSTformer block: a spatial (attention over joints + MLP) and a temporal (attention over
    frames + MLP) pre-norm residual pair, in the order `order` names ("st" or "ts").

    Submodules are registered in the official order; the order itself is not a parameter.
    """

    def __init__(self, cfg: MotionBERTConfig, order: Literal["st", "ts"]) -> None:
        super().__init__()
        c = cfg.dim_feat
        self.order = order
        self.norm1_s = nn.LayerNorm(c, eps=_LN_EPS)
        self.norm1_t = nn.LayerNorm(c, eps=_LN_EPS)
        self.attn_s = Attention(c, cfg.num_heads)
        self.attn_t = Attention(c, cfg.num_heads)
        self.norm2_s = nn.LayerNorm(c, eps=_LN_EPS)
        self.norm2_t = nn.LayerNorm(c, eps=_LN_EPS)
        self.mlp_s = Mlp(c, cfg.mlp_hidden)
        self.mlp_t = Mlp(c, cfg.mlp_hidden)

    def _spatial(self, h: Tensor) -> Tensor:
        """h (..., J, C): every frame's joints attend to each other (never masked)."""
        h = h + self.attn_s(self.norm1_s(h))
        return h + self.mlp_s(self.norm2_s(h))

    def _temporal(self, h: Tensor, causal: bool) -> Tensor:
        """h (B, F, J, C): every joint's frames attend to each other (masked to the past if causal)."""
        u = self.norm1_t(h).transpose(1, 2)  # (B, J, F, C): attention runs over F per joint
        h = h + self.attn_t(u, causal).transpose(1, 2)  # back to (B, F, J, C)
        return h + self.mlp_t(self.norm2_t(h))

    def _temporal_step(self, h: Tensor, keys: Tensor, values: Tensor, t: int) -> Tensor:
        """h (B, J, C) at frame t; keys / values (B, J, H, T, c) cache this block's attn_t."""
        b, j, c = h.shape
        u = self.norm1_t(h).reshape(b * j, c)  # (B·J, C): one sequence per (sample, joint)
        a = self.attn_t.step(u, keys.flatten(0, 1), values.flatten(0, 1), t)  # (B·J, C)
        h = h + a.reshape(b, j, c)
        return h + self.mlp_t(self.norm2_t(h))

    def forward(self, h: Tensor, causal: bool = False) -> Tensor:
        """h (B, F, J, C) → (B, F, J, C)."""
        if self.order == "st":
            return self._temporal(self._spatial(h), causal)
        return self._spatial(self._temporal(h, causal))

    def step(self, h: Tensor, keys: Tensor, values: Tensor, t: int) -> Tensor:
        """One frame of the causal block: h (B, J, C) at frame t → (B, J, C); fills cache row t."""
        if self.order == "st":
            return self._temporal_step(self._spatial(h), keys, values, t)
        return self._spatial(self._temporal_step(h, keys, values, t))


# ---------------------------------------------------------------------------------- the backbone
class MotionBERT(nn.Module):
    """The DSTformer backbone with its 3D head (dim_rep → 3), built from a `MotionBERTConfig`.

    Inputs are 2D keypoints with confidence, (B, F, J, 3) with 1 ≤ F ≤ maxlen; masked joints are
    zeros. `rate` exists only for API parity with HumMUSS: MotionBERT's learned absolute temporal
    embedding has no frame-rate parameter, so only None / 1.0 (input at the training frame rate) is
    accepted and any other value raises; resample the input instead.
    """

    def __init__(self, cfg: MotionBERTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.dim_feat
        # Direct parameters come first in state_dict(), then submodules in registration order.
        self.temp_embed = nn.Parameter(torch.zeros(1, cfg.maxlen, 1, c))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_joints, c))
        self.joints_embed = nn.Linear(cfg.in_channels, c)
        self.blocks_st = nn.ModuleList(Block(cfg, "st") for _ in range(cfg.depth))
        self.blocks_ts = nn.ModuleList(Block(cfg, "ts") for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(c, eps=_LN_EPS)
        self.pre_logits = nn.Sequential(OrderedDict(fc=nn.Linear(c, cfg.dim_rep), act=nn.Tanh()))
        self.head = nn.Linear(cfg.dim_rep, cfg.out_channels)
        self.ts_attn = nn.ModuleList(nn.Linear(2 * c, 2) for _ in range(cfg.depth))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation: truncated normal (std 0.02) for embeddings and Linear
        weights, zero biases, unit LayerNorms; fusion weights 0 and biases 0.5 (equal streams)."""
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        fusion = {id(m) for m in self.ts_attn}
        for m in self.modules():
            if isinstance(m, nn.Linear) and id(m) in fusion:
                nn.init.zeros_(m.weight)
                nn.init.constant_(m.bias, 0.5)
            elif isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ validation
    def _check_input(self, x: Tensor, per_frame: bool) -> None:
        cfg = self.cfg
        check_keypoints(x, "MotionBERT", cfg.num_joints, cfg.in_channels, per_frame, frames_note=f" ≤ maxlen={cfg.maxlen}")
        if not per_frame and x.shape[1] > cfg.maxlen:
            raise ValueError(
                f"MotionBERT got {x.shape[1]} frames but its temporal embedding (temp_embed) has only maxlen={cfg.maxlen} rows, "
                "one per absolute position. Split the clip into windows of at most maxlen frames, or, with a causal model, "
                "run it frame by frame with model.streamer(batch_size, mode='window'), which slides a maxlen-frame window."
            )

    @staticmethod
    def _check_rate(rate: Rate) -> None:
        """Only the training frame rate is possible: MotionBERT has no frame-rate parameter."""
        if rate is None:
            return
        ok = bool((rate == 1).all()) if isinstance(rate, Tensor) else float(rate) == 1.0
        if not ok:
            raise ValueError(
                f"MotionBERT has no frame-rate parameter (its temporal positions are a learned table indexed by frame), so "
                f"rate must be None or 1.0; got {rate if not isinstance(rate, Tensor) else rate.tolist()}. "
                "Resample the input to the frame rate the model was trained on instead."
            )

    # ------------------------------------------------------------------ whole clips
    def _fuse(self, i: int, x_st: Tensor, x_ts: Tensor) -> Tensor:
        """Per-token softmax weights over the two streams: (..., C) × 2 → (..., C)."""
        alpha = self.ts_attn[i](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)  # (..., 2)
        return x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]

    def representation(self, x: Tensor, rate: Rate = None) -> Tensor:
        """x: (B, F, J, 3), F ≤ maxlen → tanh features (B, F, J, dim_rep)."""
        self._check_input(x, per_frame=False)
        self._check_rate(rate)
        frames = x.shape[1]
        h = self.joints_embed(as_dtype_of(x, self.joints_embed.weight)) + self.pos_embed + self.temp_embed[:, :frames]  # (B, F, J, C)
        causal = self.cfg.causal
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts, strict=True)):
            h = self._fuse(i, blk_st(h, causal), blk_ts(h, causal))
        return self.pre_logits(self.norm(h))

    def forward(self, x: Tensor, rate: Rate = None) -> Tensor:
        """x: (B, F, J, 3), F ≤ maxlen → 3D joints (B, F, J, 3)."""
        return self.head(self.representation(x, rate))

    # ------------------------------------------------------------------ one frame with a KV cache
    def _require_causal(self, what: str) -> None:
        if not self.cfg.causal:
            raise RuntimeError(
                f"MotionBERT.{what} needs a causal model: a bidirectional model looks at future frames, so it cannot run "
                "one frame at a time. Build it with MotionBERTConfig(causal=True) (e.g. MotionBERTConfig.lite(causal=True)); "
                "official weights load into it unchanged."
            )

    def _kv_capacity(self, max_frames: int | None) -> int:
        """The frames a KV cache holds: `max_frames` (default maxlen), checked to be in [1, maxlen]."""
        maxlen = self.cfg.maxlen
        if max_frames is None:
            return maxlen
        if not 1 <= int(max_frames) <= maxlen:
            raise ValueError(
                f"max_frames must be in [1, maxlen={maxlen}]: the KV cache is valid only while the stream fits the "
                f"temporal embedding (temp_embed has maxlen rows); got {max_frames}. Use mode='window' for longer streams."
            )
        return int(max_frames)

    def init_kv_cache(
        self, batch_size: int, device: torch.device | str | None = None, max_frames: int | None = None
    ) -> list[tuple[Tensor, Tensor]]:
        """Empty key/value buffers for `batch_size` streams of up to `max_frames` frames (default and
        upper bound maxlen): one (keys, values) pair, each (B, J, H, max_frames, C/H), per temporal
        attention (blocks_st[0], blocks_ts[0], ...). Memory grows linearly with `max_frames`, so a
        stream known to stay short needs no maxlen-frame buffers."""
        self._require_causal("init_kv_cache")
        cfg = self.cfg
        p = self.temp_embed
        frames = self._kv_capacity(max_frames)
        shape = (batch_size, cfg.num_joints, cfg.num_heads, frames, cfg.dim_feat // cfg.num_heads)
        make = lambda: torch.empty(shape, device=p.device if device is None else device, dtype=p.dtype)  # noqa: E731
        return [(make(), make()) for _ in range(2 * cfg.depth)]

    def step_representation(self, x: Tensor, cache: list[tuple[Tensor, Tensor]], t: int) -> Tensor:
        """Frame t of a causal stream: x (B, J, 3) → representation (B, J, dim_rep).

        `cache` (from `init_kv_cache`) must hold frames 0 … t−1 of the same streams; row t is
        written here. Valid for t < the cache's max_frames ≤ maxlen only (see `MotionBERTKVStreamer`).
        Call under no_grad.
        """
        self._require_causal("step_representation")
        self._check_input(x, per_frame=True)
        if not 0 <= t < self.cfg.maxlen:
            raise ValueError(f"frame index t={t} is outside the temporal embedding [0, maxlen={self.cfg.maxlen})")
        if len(cache) != 2 * self.cfg.depth or cache[0][0].shape[0] != x.shape[0]:
            raise ValueError("cache does not fit this model and batch; make it with model.init_kv_cache(batch_size)")
        capacity = cache[0][0].shape[3]
        if t >= capacity:
            raise ValueError(f"frame index t={t} is past the cache's max_frames={capacity}; make it with init_kv_cache(..., max_frames=)")
        return self._step(x, cache, t)

    def _step(self, x: Tensor, cache: list[tuple[Tensor, Tensor]], t: int) -> Tensor:
        """`step_representation` without the checks (the KV streamer has made them)."""
        h = self.joints_embed(as_dtype_of(x, self.joints_embed.weight)) + self.pos_embed[0] + self.temp_embed[0, t]  # (B, J, C)
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts, strict=True)):
            x_st = blk_st.step(h, *cache[2 * i], t)
            x_ts = blk_ts.step(h, *cache[2 * i + 1], t)
            h = self._fuse(i, x_st, x_ts)
        return self.pre_logits(self.norm(h))

    def streamer(
        self,
        batch_size: int,
        mode: StreamMode = "window",
        window: int | None = None,
        device: torch.device | str | None = None,
        max_frames: int | None = None,
    ) -> Streamer:
        """A `Streamer` (the interface HumMUSS shares) over a causal model.

        mode="window": per frame, rerun the model on the last `window` (default maxlen) frames and
        keep the last output; any stream length. mode="kv": per frame, compute only the new frame's
        tokens against cached keys/values; streams of at most `max_frames` frames (default and upper
        bound maxlen; the cache is allocated for exactly that many). `window` is for mode="window"
        only, `max_frames` for mode="kv" only.
        """
        from .streamers import (  # they import this module
            MotionBERTKVStreamer,
            MotionBERTWindowStreamer,
        )

        self._require_causal("streamer")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        if mode == "window":
            if max_frames is not None:
                raise ValueError("max_frames is for mode='kv'; the window streamer takes streams of any length (set window=)")
            return MotionBERTWindowStreamer(self, batch_size, window, device)
        if mode == "kv":
            if window is not None:
                raise ValueError(
                    "window is for mode='window'; the KV cache covers frames 0 … max_frames−1 "
                    "of the stream (set max_frames=, at most maxlen)"
                )
            return MotionBERTKVStreamer(self, batch_size, device, max_frames)
        raise ValueError(f"MotionBERT.streamer: mode must be 'window' or 'kv'; got {mode!r}")
