"""HumMUSS backbone (SPEC §3–5): spatiotemporal GDSSM layers, convolution and streaming modes.

    x (B, F, J, 3) ─ lift (3 → D) ─ D_layers × SpatioTemporalLayer ─ LN ─ Linear(D → D_rep) ─ tanh
      = representation (B, F, J, D_rep) ─ head (D_rep → 3) = 3D joints (B, F, J, 3)

The final LN + Linear + tanh mirrors MotionBERT's `norm` / `pre_logits` (the paper only says "a
final layer to the representation dimension"). There is no positional encoding: the SSMs carry
time, so any number of frames works and frame rate is a Δ multiplier (`rate`).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor, nn

from .gdssm import Aggregate, AggregationMode, BiGDSSM, UniGDSSM
from .inputs import as_dtype_of, check_batch_size, check_keypoints
from .ssm import Rate
from .streaming import Streamer, input_major_weights

HumMUSSState = list[Tensor]


@dataclass(frozen=True)
class HumMUSSConfig:
    """Every hyper-parameter of the backbone; the model's only constructor input.

    `expand` is n (width factor of the gated paths; None: the paper's 3 for causal and 2.5 for
    bidirectional models, so `causal` alone selects the paper's 16M variant), `spatial_reduce` /
    `temporal_reduce` are k (the SSM runs on D/k channels), `state_size` is N (N/2 complex modes
    per channel).
    """

    causal: bool = False
    num_joints: int = 17
    in_channels: int = 3  # x, y, confidence
    out_channels: int = 3
    depth: int = 5
    dim: int = 256
    dim_rep: int = 512
    state_size: int = 128
    expand: float | None = None
    spatial_reduce: int = 1
    temporal_reduce: int = 2
    block_aggregation: AggregationMode = "gate"  # inside GDSSM blocks (paper Table 5)
    fusion: AggregationMode = "learned"  # of the two streams (paper Table 6)
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    ssm_skip: bool = True
    ssm_lr: float | None = 1e-3  # lr cap for Λ and log Δ (no weight decay for them)

    def __post_init__(self) -> None:
        if self.expand is None:
            object.__setattr__(self, "expand", 3.0 if self.causal else 2.5)
        for name in ("num_joints", "in_channels", "out_channels", "depth", "dim", "dim_rep", "state_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"HumMUSSConfig.{name} must be positive; got {getattr(self, name)}")
        for name in ("spatial_reduce", "temporal_reduce"):
            if self.dim % getattr(self, name):
                raise ValueError(f"HumMUSSConfig.{name}={getattr(self, name)} must divide dim={self.dim}")
        if self.dim * self.expand != int(self.dim * self.expand):
            raise ValueError(f"HumMUSSConfig: dim × expand must be whole; got {self.dim} × {self.expand}")

    @classmethod
    def paper(cls, causal: bool) -> "HumMUSSConfig":
        """The paper's 16M models (supplementary §7): n = 3 causal, n = 2.5 bidirectional."""
        return cls(causal=causal)

    @classmethod
    def small(cls, causal: bool) -> "HumMUSSConfig":
        """A few-hundred-thousand-parameter model for quick runs on a CPU."""
        return replace(cls.paper(causal), depth=2, dim=64, dim_rep=128, state_size=32)

    @classmethod
    def tiny(cls, causal: bool) -> "HumMUSSConfig":
        """The smallest sensible model, for unit tests."""
        return replace(cls.paper(causal), depth=2, dim=16, dim_rep=32, state_size=8)

    def as_dict(self) -> dict:
        return asdict(self)


class SpatioTemporalLayer(nn.Module):
    """Two streams over (B, F, J, D), fused per token (SPEC §3).

    stream 1: spatial block over joints, then temporal block over frames  → x_ts
    stream 2: temporal block over frames, then spatial block over joints  → x_st
    out = fuse(x_st, x_ts). The temporal blocks are causal (UniGDSSM) in the causal model; the
    spatial blocks are always bidirectional and never see a rate (joints have no time unit).
    """

    def __init__(self, cfg: HumMUSSConfig) -> None:
        super().__init__()
        ssm = dict(dt_min=cfg.dt_min, dt_max=cfg.dt_max, skip=cfg.ssm_skip, ssm_lr=cfg.ssm_lr)

        def spatial() -> BiGDSSM:
            return BiGDSSM(cfg.dim, cfg.expand, cfg.spatial_reduce, cfg.state_size, cfg.block_aggregation, **ssm)

        def temporal() -> nn.Module:
            block = UniGDSSM if cfg.causal else BiGDSSM
            return block(cfg.dim, cfg.expand, cfg.temporal_reduce, cfg.state_size, cfg.block_aggregation, **ssm)

        self.spatial_1, self.temporal_1 = spatial(), temporal()
        self.temporal_2, self.spatial_2 = temporal(), spatial()
        self.fuse = Aggregate(cfg.dim, cfg.fusion)

    @staticmethod
    def _over_frames(block: nn.Module, x: Tensor, rate: Rate) -> Tensor:
        return block(x.transpose(1, 2), rate).transpose(1, 2)  # (B, J, F, D) → block over F → (B, F, J, D)

    def forward(self, x: Tensor, rate: Rate) -> Tensor:
        """x: (B, F, J, D); rate: float or (B, 1) tensor."""
        x_ts = self._over_frames(self.temporal_1, self.spatial_1(x), rate)
        x_st = self.spatial_2(self._over_frames(self.temporal_2, x, rate))
        return self.fuse(x_st, x_ts)

    def step(self, x: Tensor, state: tuple[Tensor, Tensor], rate: Rate) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One frame of the causal layer: x (B, J, D); state: one (B, J, H, M) per temporal block."""
        x_ts, s1 = self.temporal_1.step(self.spatial_1(x), state[0], rate)
        x_t, s2 = self.temporal_2.step(x, state[1], rate)
        return self.fuse(self.spatial_2(x_t), x_ts), (s1, s2)


class HumMUSS(nn.Module):
    """The HumMUSS backbone with its lifting head (Drep → 3), built from a `HumMUSSConfig`.

    Inputs are 2D keypoints with confidence, (B, F, J, 3) for clips and (B, J, 3) for one frame;
    masked joints are zeros (confidence 0). `rate` = fps_train / fps_input multiplies the temporal
    SSMs' Δ: a float, or a (B,) tensor with one rate per sample.
    """

    def __init__(self, cfg: HumMUSSConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lift = nn.Linear(cfg.in_channels, cfg.dim)
        self.layers = nn.ModuleList(SpatioTemporalLayer(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.to_rep = nn.Linear(cfg.dim, cfg.dim_rep)
        self.head = nn.Linear(cfg.dim_rep, cfg.out_channels)

    # ------------------------------------------------------------------ validation
    def _check_input(self, x: Tensor, per_frame: bool) -> None:
        check_keypoints(x, "HumMUSS", self.cfg.num_joints, self.cfg.in_channels, per_frame)

    @staticmethod
    def _check_rate(rate: Rate, batch: int) -> Rate:
        """Validates `rate`; a per-sample tensor becomes (B, 1) so it broadcasts over joints."""
        if isinstance(rate, Tensor):
            if rate.dim() == 0:
                rate = rate.reshape(1).expand(batch)
            if rate.dim() != 1 or rate.shape[0] != batch:
                raise ValueError(f"rate must be a float or a tensor of shape (batch={batch},); got shape {tuple(rate.shape)}")
            if not (torch.isfinite(rate).all() and (rate > 0).all()):
                raise ValueError("rate must be finite and > 0 (rate = fps_train / fps_input)")
            return rate[:, None]  # (B, 1)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise ValueError(f"rate must be a number or a (batch,) tensor (rate = fps_train / fps_input); got {rate!r}")
        rate = float(rate)
        if not (rate > 0 and rate < float("inf")):
            raise ValueError(f"rate must be finite and > 0 (rate = fps_train / fps_input); got {rate}")
        return rate

    # ------------------------------------------------------------------ convolution mode
    def representation(self, x: Tensor, rate: Rate = 1.0) -> Tensor:
        """x: (B, F, J, 3) → (B, F, J, D_rep)."""
        self._check_input(x, per_frame=False)
        rate = self._check_rate(rate, x.shape[0])
        h = self.lift(as_dtype_of(x, self.lift.weight))  # (B, F, J, D)
        for layer in self.layers:
            h = layer(h, rate)
        return torch.tanh(self.to_rep(self.norm(h)))

    def forward(self, x: Tensor, rate: Rate = 1.0) -> Tensor:
        """x: (B, F, J, 3) → 3D joints (B, F, J, 3)."""
        return self.head(self.representation(x, rate))

    # ------------------------------------------------------------------ streaming mode
    def _require_causal(self, what: str) -> None:
        if not self.cfg.causal:
            raise RuntimeError(
                f"HumMUSS.{what} needs a causal model: a bidirectional model looks at future frames, so it "
                "cannot run one frame at a time. Build it with HumMUSSConfig(causal=True) (e.g. HumMUSSConfig.paper(causal=True))."
            )

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> HumMUSSState:
        """Zero state for `batch_size` streams: one (B, J, H, M) complex tensor per temporal SSM."""
        self._require_causal("init_state")
        check_batch_size(batch_size, "HumMUSS.init_state")
        j = self.cfg.num_joints
        return [block.init_state(batch_size, j, device=device) for layer in self.layers for block in (layer.temporal_1, layer.temporal_2)]

    def step_representation(self, x: Tensor, state: HumMUSSState, rate: Rate = 1.0) -> tuple[Tensor, HumMUSSState]:
        """One frame: x (B, J, 3) → representation (B, J, D_rep), next state."""
        self._require_causal("step")
        self._check_input(x, per_frame=True)
        if len(state) != 2 * len(self.layers):
            raise ValueError(f"state has {len(state)} tensors; expected {2 * len(self.layers)} (use model.init_state)")
        if state[0].shape[0] != x.shape[0]:
            raise ValueError(f"state is for batch {state[0].shape[0]} but x has batch {x.shape[0]}")
        rate = self._check_rate(rate, x.shape[0])
        h, new_state = self.lift(as_dtype_of(x, self.lift.weight)), []  # (B, J, D)
        for i, layer in enumerate(self.layers):
            h, layer_state = layer.step(h, (state[2 * i], state[2 * i + 1]), rate)
            new_state.extend(layer_state)
        return torch.tanh(self.to_rep(self.norm(h))), new_state

    def step(self, x: Tensor, state: HumMUSSState, rate: Rate = 1.0) -> tuple[Tensor, HumMUSSState]:
        """One frame: x (B, J, 3) → 3D joints (B, J, 3), next state. Equals `forward` frame by frame.

        Under `torch.no_grad()` / `torch.inference_mode()` the state tensors are updated in place
        (the returned list holds the same tensors); clone them to keep a snapshot.
        """
        rep, state = self.step_representation(x, state, rate)
        return self.head(rep), state

    def streamer(self, batch_size: int, device: torch.device | str | None = None, compile: bool = False) -> "HumMUSSStreamer":
        """A `Streamer` over `step` (the interface MotionBERT's streaming baselines share);
        `compile=True` runs the step through `torch.compile` (compiled on the first push)."""
        self._require_causal("streamer")
        return HumMUSSStreamer(self, batch_size, device, compile)


class HumMUSSStreamer(Streamer):
    """Frame-by-frame inference for a causal HumMUSS: constant time and memory per frame. It lays
    the model's Linear weights out input-major (`input_major_weights`; values unchanged)."""

    def __init__(self, model: HumMUSS, batch_size: int, device: torch.device | str | None = None, compile: bool = False) -> None:
        self.model, self.batch_size = input_major_weights(model), batch_size
        self.device = device if device is not None else next(model.parameters()).device
        self.compiled = compile
        self._step = torch.compile(model.step, dynamic=False) if compile else model.step
        self.reset()

    def reset(self) -> None:
        self.state = self.model.init_state(self.batch_size, self.device)
        self.frames = 0

    @torch.no_grad()
    def push(self, x: Tensor, rate: Rate | None = None) -> Tensor:
        rate = 1.0 if rate is None else rate
        if self.compiled and not isinstance(rate, Tensor):  # a tensor: a new rate is data, not a recompile
            rate = torch.full((x.shape[0],), float(rate), device=x.device)
        y, self.state = self._step(x, self.state, rate)
        self.frames += 1
        return y
