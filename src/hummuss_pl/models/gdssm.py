"""Gated DSSM blocks (SPEC §2): bidirectional (BiGDSSM) and causal (UniGDSSM).

Both blocks take (..., L, D) with the sequence on axis -2, and add their output to the input
(residual). σ = GELU. Every ⊙ in the SPEC equations is an `Aggregate`, so the paper's Table 5
ablation (multiplicative gate vs mean vs learned weights) is a constructor argument.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ssm import DSSM, Rate

AggregationMode = Literal["gate", "mean", "learned"]


class Aggregate(nn.Module):
    """Combines two tensors of shape (..., D) into one.

    gate:    a ⊙ b (multiplicative gating, the paper's default inside blocks)
    mean:    (a + b) / 2
    learned: [w_a, w_b] = softmax([a, b] W), W: 2D → 2, per token; w_a·a + w_b·b
             (W starts at 0 and its bias at 0.5, so both inputs start equally weighted,
             as MotionBERT's stream fusion.)
    """

    def __init__(self, dim: int, mode: AggregationMode = "gate") -> None:
        super().__init__()
        if mode not in ("gate", "mean", "learned"):
            raise ValueError(f"aggregation must be one of 'gate', 'mean', 'learned'; got {mode!r}")
        self.mode = mode
        self.weight = nn.Linear(2 * dim, 2) if mode == "learned" else None
        if self.weight is not None:
            nn.init.zeros_(self.weight.weight)
            nn.init.constant_(self.weight.bias, 0.5)

    def extra_repr(self) -> str:
        return f"mode={self.mode}"

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if self.mode == "gate":
            return a * b
        if self.mode == "mean":
            return (a + b) / 2
        w = torch.softmax(self.weight(torch.cat([a, b], dim=-1)), dim=-1)  # (..., 2)
        return w[..., :1] * a + w[..., 1:] * b

    def activated(self, a: Tensor, b: Tensor, gelu_a: bool, gelu_b: bool) -> Tensor:
        """self(σ(a) if gelu_a else a, σ(b) if gelu_b else b), the same values. In training, a
        gate keeps only a and b for its backward pass and recomputes the GELUs there: a wide
        GELU output is not kept beside its input."""
        if self.mode != "gate":
            return self(F.gelu(a) if gelu_a else a, F.gelu(b) if gelu_b else b)
        if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
            return _GeluGate.apply(a, b, gelu_a, gelu_b)
        return _gelu_product(a, b, gelu_a, gelu_b)


def _times_gelu(x: Tensor, gelu: bool, other: Tensor) -> Tensor:
    """(σ(x) if gelu else x) ⊙ other, written into σ(x)'s own fresh output when there is one: a wide
    block's training step allocates tens of these tensors, and on the CPU each new one costs page
    faults as well as a pass (3–4 % of a 2-thread training step at 243 frames)."""
    if not gelu:
        return x * other
    act = F.gelu(x)
    if act.shape != other.shape or act.dtype != other.dtype:  # broadcast or type promotion: a new tensor
        return act * other
    return act.mul_(other)


def _gelu_product(a: Tensor, b: Tensor, gelu_a: bool, gelu_b: bool) -> Tensor:
    """(σ(a) if gelu_a else a) ⊙ (σ(b) if gelu_b else b), with one wide temporary fewer."""
    return _times_gelu(a, gelu_a, F.gelu(b) if gelu_b else b) if gelu_a else _times_gelu(b, gelu_b, a)


class _GeluGate(torch.autograd.Function):
    """σ(a) ⊙ σ(b), each GELU optional, saving a and b only (the GELUs are recomputed in backward)."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, gelu_a: bool, gelu_b: bool) -> Tensor:
        ctx.save_for_backward(a, b)
        ctx.gelus = (gelu_a, gelu_b)
        return _gelu_product(a, b, gelu_a, gelu_b)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        a, b = ctx.saved_tensors
        gelu_a, gelu_b = ctx.gelus
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = _times_gelu(b, gelu_b, grad)  # dL/dσ(a), then through σ'(a) in place
            grad_a = _gelu_backward_(grad_a, a) if gelu_a else grad_a
        if ctx.needs_input_grad[1]:
            grad_b = _times_gelu(a, gelu_a, grad)
            grad_b = _gelu_backward_(grad_b, b) if gelu_b else grad_b
        return grad_a, grad_b, None, None


def _gelu_backward_(grad: Tensor, x: Tensor) -> Tensor:
    """grad ⊙ σ'(x) in x's shape and dtype (grad summed over the dims that x was broadcast along,
    where σ'(x) is constant), overwriting grad, a fresh tensor of the caller's."""
    grad = grad.sum_to_size(x.shape).to(x.dtype)
    return torch.ops.aten.gelu_backward.grad_input(grad, x, grad_input=grad)


def _width(dim: int, factor: float, what: str) -> int:
    width = dim * factor
    if width != int(width) or width < 1:
        raise ValueError(f"{what}: dim {dim} × {factor} must be a positive whole number")
    return int(width)


class _GatedBlock(nn.Module):
    """What both blocks share: LN at the input, widths n·D (wide) and D/k (narrow), and the output
    x + mix_out(·, x_id) W_out (W_out: nD → D)."""

    def __init__(self, dim: int, expand: float, reduce: int, aggregation: AggregationMode) -> None:
        super().__init__()
        self.wide, self.narrow = _width(dim, expand, "expand"), _width(dim, 1 / reduce, "reduce")
        self.norm = nn.LayerNorm(dim)
        self.mix_out = Aggregate(self.wide, aggregation)
        self.w_out = nn.Linear(self.wide, dim)

    def _project_in(self, x: Tensor) -> tuple[Tensor, ...]:
        """LN(x) W_in, split into the parts of `self.split` (the subclass's `w_in` columns). With
        grad enabled, one product per part: the backward pass then takes each part's gradient as
        it comes, where the split of one product would first concatenate them into a new
        (tokens, width) tensor (without it a 2-thread training step at 243 frames is 6–8 % faster).
        Without grad (inference, a streaming step) one product is one call instead of two; under
        torch.compile too, where the split's backward is fused anyway and per-part products made
        the compiled step slower (3.6 vs 3.0–3.2 s, 2 threads, 243 frames)."""
        x = self.norm(x)
        if not torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self.w_in(x).split(self.split, dim=-1)
        weights, biases = self.w_in.weight.split(self.split), self.w_in.bias.split(self.split)
        return tuple(F.linear(x, w, b) for w, b in zip(weights, biases))


class BiGDSSM(_GatedBlock):
    """Bidirectional gated DSSM block (SPEC §2, paper §4.1).

        x_N  = LN(x)
        x_id = σ(x_N W_id)                          D → nD
        x_f  = DSSM_f(σ(x_N W_f1)) W_f2             D → D/k → D
        x_b  = flip(DSSM_b(flip(σ(x_N W_b1))) W_b2) D → D/k → D
        x_cb = σ((x_f ⊙ x_b) W_cb)                   D → nD
        out  = x + (x_cb ⊙ x_id) W_out               nD → D

    Layout: W_id, W_f1, W_b1 act on the same x_N, so they are one projection `w_in` (columns
    [x_id | f | b]; flipping commutes with a per-token map). DSSM_f and DSSM_b are one `DSSM` with
    2·D/k independent channels: [0, D/k) run forward in time, [D/k, 2D/k) backwards (`reverse`:
    flip, causal DSSM, flip back, computed without the flips). The GELUs of x_id and x_cb are taken
    inside the output gate (`Aggregate.activated`), which in training keeps their inputs only. Same
    function and parameter count as separate layers, fewer kernels, copies and saved activations.
    """

    def __init__(self, dim: int, expand: float, reduce: int, state_size: int, aggregation: AggregationMode = "gate", **ssm_kwargs) -> None:
        super().__init__(dim, expand, reduce, aggregation)
        wide, narrow = self.wide, self.narrow
        self.split = (wide, 2 * narrow)
        self.w_in = nn.Linear(dim, wide + 2 * narrow)  # [W_id | W_f1 | W_b1]
        self.ssm = DSSM(2 * narrow, state_size, reverse=narrow, **ssm_kwargs)  # [forward | backward] channels
        self.w_f2, self.w_b2 = nn.Linear(narrow, dim), nn.Linear(narrow, dim)
        self.mix_fb = Aggregate(dim, aggregation)
        self.w_cb = nn.Linear(dim, wide)

    def forward(self, x: Tensor, rate: Rate = 1.0) -> Tensor:
        """x: (..., L, D) → (..., L, D)."""
        id_in, fb_in = self._project_in(x)  # pre-activations of x_id and [f | b]
        s_f, s_b = self.ssm(F.gelu(fb_in), rate).chunk(2, dim=-1)  # (..., L, D/k) each: forward, backward in time
        cb_in = self.w_cb(self.mix_fb(self.w_f2(s_f), self.w_b2(s_b)))
        return x + self.w_out(self.mix_out.activated(cb_in, id_in, gelu_a=True, gelu_b=True))  # x_cb ⊙ x_id


class UniGDSSM(_GatedBlock):
    """Causal gated DSSM block (SPEC §2, paper §4.2), with a recurrent `step`.

        x_id = σ(LN(x) W_id)                        D → nD
        x_f  = DSSM_f(σ(x_N W_f1)) W_f2             D → D/k → nD
        out  = x + (x_f ⊙ x_id) W_out               nD → D

    W_id and W_f1 are one projection `w_in` (columns [x_id | f]); the GELU of x_id is taken inside
    the gate (`Aggregate.activated`).
    """

    def __init__(self, dim: int, expand: float, reduce: int, state_size: int, aggregation: AggregationMode = "gate", **ssm_kwargs) -> None:
        super().__init__(dim, expand, reduce, aggregation)
        self.split = (self.wide, self.narrow)
        self.w_in = nn.Linear(dim, self.wide + self.narrow)  # [W_id | W_f1]
        self.ssm = DSSM(self.narrow, state_size, **ssm_kwargs)
        self.w_f2 = nn.Linear(self.narrow, self.wide)

    def _paths(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The pre-activation of x_id, and σ(x_N W_f1)."""
        id_in, f_in = self._project_in(x)
        return id_in, F.gelu(f_in)

    def _finish(self, x: Tensor, id_in: Tensor, s: Tensor) -> Tensor:
        return x + self.w_out(self.mix_out.activated(self.w_f2(s), id_in, gelu_a=False, gelu_b=True))  # x_f ⊙ x_id

    def forward(self, x: Tensor, rate: Rate = 1.0) -> Tensor:
        """x: (..., L, D) → (..., L, D), causal along L."""
        id_in, f = self._paths(x)
        return self._finish(x, id_in, self.ssm(f, rate))

    def init_state(self, *batch_shape: int, device: torch.device | str | None = None) -> Tensor:
        return self.ssm.init_state(*batch_shape, device=device)

    def step(self, x: Tensor, state: Tensor, rate: Rate = 1.0) -> tuple[Tensor, Tensor]:
        """One sequence position: x (..., D), state (..., H, M) → (..., D), next state."""
        id_in, f = self._paths(x)
        s, state = self.ssm.step(f, state, rate)
        return self._finish(x, id_in, s), state
