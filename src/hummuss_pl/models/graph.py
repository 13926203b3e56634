"""The causal HumMUSS step as a function of real tensors only, for exporters (ONNX, TorchScript).

    graph = StepGraph(model)                     # a causal HumMUSS; copied, the model is left alone
    state = graph.init_state(batch_size)         # 2·depth float32 zeros (B, J, H, M, 2)
    joints3d, *state = graph(keypoints, rate, *state)   # keypoints (B, J, 3), rate (B,)

`StepGraph` runs `HumMUSS.step` itself, on a copy of the model in which

- each temporal DSSM is a `RealStateDSSM`: its state is the complex64 state (…, H, M) as float32
  (re, im) pairs (…, H, M, 2) (the layout of `torch.view_as_real`), and Ā, B̄ are computed from the
  rate at every step in real float64 arithmetic (ONNX has no complex numbers; it has no expm1
  either, and the exporter writes exp(a) − 1, which float64 keeps to ~1e-11 relative error even at
  |a| = 1e-5, far below the float32 state's);
- each spatial DSSM is a `FixedKernelDSSM`: at rate 1 over the J joints its convolution is one fixed
  depthwise convolution, its (H, 2J − 1) taps computed once when the graph is built;
- the per-call input checks are left to the caller: checks that read values (finite keypoints,
  positive rates) cannot raise inside a graph, and a tracer would freeze their outcome into it.

It returns new state tensors (never updates them in place), so an exporter sees a pure function.
`tests/test_export.py` holds it equal to `HumMUSS.step` and to the whole-clip convolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .hummuss import HumMUSS
from .ssm import DSSM, Rate, joint_conv, lag_taps

WIDE = torch.float64  # the discretisation's precision, as `DSSM._discretise` on the CPU


def _same_dssm(cls: type[DSSM], ssm: DSSM) -> DSSM:
    """A `cls` (a DSSM subclass) with the hyper-parameters and weights of `ssm`."""
    new = cls(ssm.channels, 2 * ssm.modes, skip=ssm.D is not None, ssm_lr=ssm.ssm_lr, reverse=ssm.reverse)
    new.load_state_dict(ssm.state_dict())
    return new


class RealStateDSSM(DSSM):
    """A DSSM whose recurrent state is real: (…, H, M, 2) float32 (re, im) pairs.

    Same weights and function as `DSSM.step`; Ā = e^a (cos b + i sin b) and B̄ = (Ā − 1)/Λ with
    a + ib = ΛΔ are formed in real float64 arithmetic, Ā − 1 without cancellation for small |ΛΔ|
    (its real part as expm1(a)·cos b − 2 sin²(b/2)).
    """

    def init_state(self, *batch_shape: int, device: torch.device | str | None = None) -> Tensor:
        """Zero state of shape (*batch_shape, H, M, 2), float32."""
        device = self.log_dt.device if device is None else device
        return torch.zeros(*batch_shape, self.channels, self.modes, 2, device=device)

    def real_discretisation(self, rate: Rate) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Re Ā, Im Ā and the input weights Re, Im of 2C·B̄ (what `DSSM.step` multiplies u by),
        each (*R, H, M) float32 (R: the shape of a tensor `rate`)."""
        lam_re, lam_im, _, _, am1_re, am1_im = self.real_exponents(rate, WIDE)  # (H, M), (*R, H, M)
        # B̄ = (Ā − 1) / Λ = (Ā − 1) · conj(Λ) / |Λ|²
        norm = lam_re**2 + lam_im**2
        b_re = (am1_re * lam_re + am1_im * lam_im) / norm
        b_im = (am1_im * lam_re - am1_re * lam_im) / norm
        c_re, c_im = (2 * self.C.to(WIDE)).unbind(-1)  # (H, M) each
        return (am1_re + 1).float(), am1_im.float(), (c_re * b_re - c_im * b_im).float(), (c_re * b_im + c_im * b_re).float()

    def step(self, u: Tensor, state: Tensor, rate: Rate = 1.0) -> tuple[Tensor, Tensor]:
        """One sample: u (…, H), state (…, H, M, 2) → y (…, H), next state (a new tensor); the
        state is `DSSM.step`'s (modes weighted by their readout), so y = Σ_m Re s_m + D u."""
        x = u.float()
        a_re, a_im, b_re, b_im = self.real_discretisation(rate)  # (*R, H, M) each
        s_re, s_im = state.unbind(-1)  # (…, H, M) each
        xm = x[..., None]  # (…, H, 1)
        next_re = a_re * s_re - a_im * s_im + b_re * xm
        next_im = a_re * s_im + a_im * s_re + b_im * xm
        y = next_re.sum(-1)  # (…, H)
        if self.D is not None:
            y = y + x * self.D
        return y.to(u.dtype), torch.stack([next_re, next_im], -1)  # (…, H, M, 2)


class FixedKernelDSSM(DSSM):
    """A DSSM at rate 1 over sequences of one fixed length L (the spatial SSMs over the J joints):
    its convolution is a depthwise convolution with fixed (H, 2L − 1) taps (skip term and backward
    channels included), computed once."""

    def fix_length(self, length: int) -> FixedKernelDSSM:
        with torch.no_grad():
            self.register_buffer("taps", lag_taps(self.response(length), self.reverse).contiguous())  # (H, 2L − 1)
        return self

    def forward(self, u: Tensor, rate: Rate = 1.0) -> Tensor:
        """u: (…, L, H) → (…, L, H)."""
        return joint_conv(u.float(), self.taps).to(u.dtype)


class _GraphHumMUSS(HumMUSS):
    """HumMUSS without per-call input checks (the graph's caller checks its inputs); `rate` must be
    a (B,) tensor."""

    def _check_input(self, x: Tensor, per_frame: bool) -> None:
        pass

    @staticmethod
    def _check_rate(rate: Tensor, batch: int) -> Tensor:
        return rate[:, None]  # (B,) → (B, 1), broadcast over the joints


class StepGraph(nn.Module):
    """One frame of a causal HumMUSS as a pure function of float32 tensors (see the module doc):
    forward(keypoints (B, J, 3), rate (B,), *state) → (joints3d (B, J, 3), *next_state)."""

    def __init__(self, model: HumMUSS) -> None:
        super().__init__()
        if not isinstance(model, HumMUSS) or not model.cfg.causal:
            what = type(model).__name__ if not isinstance(model, HumMUSS) else "a bidirectional HumMUSS"
            raise ValueError(f"StepGraph needs a causal HumMUSS (HumMUSSConfig(causal=True)); got {what}, which has no "
                             "frame-by-frame step with a constant-size state")  # fmt: skip
        copy = _GraphHumMUSS(model.cfg)
        copy.load_state_dict(model.state_dict())
        for layer in copy.layers:
            for block in (layer.temporal_1, layer.temporal_2):
                block.ssm = _same_dssm(RealStateDSSM, block.ssm)
            for block in (layer.spatial_1, layer.spatial_2):
                block.ssm = _same_dssm(FixedKernelDSSM, block.ssm).fix_length(model.cfg.num_joints)
        self.model = copy.float().cpu()
        self.eval()

    def init_state(self, batch_size: int) -> list[Tensor]:
        """Zero state for `batch_size` streams: 2·depth float32 tensors (B, J, H, M, 2)."""
        return self.model.init_state(batch_size)

    def state_shapes(self) -> list[tuple[int, ...]]:
        """The shape of each state tensor without its batch axis: (J, H, M, 2)."""
        return [tuple(s.shape[1:]) for s in self.init_state(1)]

    def forward(self, keypoints: Tensor, rate: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        joints, next_state = self.model.step(keypoints, list(state), rate)
        return (joints, *next_state)
