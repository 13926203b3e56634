"""Diagonal state space layer (DSSM, SPEC §1): one function, two modes.

Per channel h (H channels) the layer is a continuous-time diagonal SSM with M = N/2 complex modes
(conjugate pairs tied, so "state size N" means M complex numbers):

    Λ = -exp(Λ_re) + i·Λ_im,   B = 1,   C complex,   Δ = exp(log Δ) · rate
    Ā = exp(ΛΔ),   B̄ = (exp(ΛΔ) - 1) / Λ                                  (zero-order hold)
    recurrent:    x_k = Ā x_{k-1} + B̄ u_k,   y_k = 2 Re(Σ_m C_m x_k,m) + D u_k
    convolution:  K[k] = 2 Re(Σ_m C_m B̄_m Ā_m^k),  y = K * u + D u            (causal)

Both modes compute the same function; `tests/test_ssm.py` holds them equal. The skip term D·u is
used (`skip=True`, the S4/DSS convention).

Numerics (see docs in README, "Numerics"):
- Ā − 1 is formed in real arithmetic as (expm1(a)·cos b − 2 sin²(b/2)) + i·e^a·sin b with
  a + ib = ΛΔ, so B̄ keeps full relative precision when |ΛΔ| is tiny (no cancellation).
- Discretisation and the kernel's powers Ā^k are computed in float64 (complex128) and cast to
  float32: the phase k·Im(ΛΔ) reaches thousands of radians at L = 243 and float32 would round it.
  The tensors are small (H × M × L); on MPS, which has no float64, float32 is used.
- The convolution (FFT of size 2L, no wrap-around; or a depthwise convolution for short sequences), the
  state and the recurrence run in float32 with autocast disabled; outputs are cast back to the
  input's dtype.

Rate: `rate` multiplies Δ (rate = fps_train / fps_input). It is a Python float, or a tensor
broadcastable to the input's leading (batch) dimensions, e.g. one rate per sample; in step mode it
may change at every step (camera timestamps).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn

Rate = float | Tensor

# Sequences up to this length are convolved directly (`joint_conv`, a depthwise convolution with the
# kernel as taps) instead of by FFT: for the spatial SSM (L = number of joints) that is faster and has
# no complex arithmetic.
DEPTHWISE_MAX_LEN = 64
# Inference over at most this many such sequences (a one-stream streaming step runs the spatial
# SSMs on one skeleton) multiplies by the kernel's Toeplitz matrix instead (`toeplitz_conv`): there
# the convolution call costs more than the product. 17 joints × 512 channels, 2 threads, alone: 29
# vs 67 µs for one sequence, 42 vs 72 for two, 89 vs 72 for four; in a paper-model step of one
# stream 12.4 vs 13.2 ms, of two streams no difference. Under torch.compile every length ≤
# DEPTHWISE_MAX_LEN takes the Toeplitz product, whose multiply-and-sum Inductor fuses into one
# loop (no (…, L, L, H) tensor) and differentiates itself; `_JointConv`, opaque to it, made the
# compiled training step slower than eager (paper model, 243 frames, 2 threads: 2.86 → 2.56 s
# causal, 3.22 → 2.82 s bidirectional; eager 2.59 / 2.63 s).
TOEPLITZ_MAX_SEQUENCES = 1
_CACHE_SIZE = 16


def _wide_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _float32_only(device_type: str) -> AbstractContextManager:
    """Autocast off for the SSM. The context is only entered when autocast is on: entering it costs
    more than a small op, and a streaming step runs through it 20 times per frame."""
    return torch.autocast(device_type=device_type, enabled=False) if torch.is_autocast_enabled(device_type) else nullcontext()


def _conj_last(x: Tensor, count: int) -> Tensor:
    """x (..., H) complex with its last `count` channels conjugated."""
    if not count:
        return x
    h = x.shape[-1]
    return torch.cat([x[..., : h - count], x[..., h - count :].conj()], dim=-1)


def _spectrum(k: Tensor, n: int, reverse: int) -> Tensor:
    """rfft of the kernels k (*R, H, L) at size n, as (*R, n//2+1, H), conjugated on the last
    `reverse` channels (conjugating a real signal's spectrum reverses it in time: those channels
    correlate)."""
    return _conj_last(torch.fft.rfft(k, n=n).transpose(-1, -2), reverse)  # (*R, H, n//2+1) → (*R, n//2+1, H)


# The FFTs run along the sequence axis -2 in place: on this layout they are faster than a
# transpose to channel-major and an FFT along the last axis (8.6 vs 12.7 ms for 17 × 243 × 256,
# one thread).
def _rfft_tokens(u: Tensor, n: int) -> Tensor:
    """rfft along the sequence axis of u (..., L, H) at size n → (..., n//2+1, H)."""
    return torch.fft.rfft(u, n=n, dim=-2)


def _from_spectrum(y_f: Tensor, n: int, length: int) -> Tensor:
    """irfft of y_f (..., n//2+1, H) along the frequency axis, cut to `length` → (..., length, H)."""
    return torch.fft.irfft(y_f, n=n, dim=-2)[..., :length, :]


def _spectral_conv(u: Tensor, k: Tensor, reverse: int) -> Tensor:
    """`causal_conv`'s values: irfft(rfft(u) · K) at size 2L, cut to u's length L."""
    n = 2 * u.shape[-2]
    return _from_spectrum(_rfft_tokens(u, n) * _spectrum(k, n, reverse), n, u.shape[-2])


class _FFTConv(torch.autograd.Function):
    """`causal_conv` with a hand-written backward that keeps only u and the kernel: autograd would
    keep the zero-padded input of the FFT and u's spectrum, four times u's size. The gradients are
    convolutions too (d/du: by the conjugated spectrum; d/dk: u's spectrum, recomputed, times the
    gradient's), each cut to L lags, so the size-2L FFT leaves them free of wrap-around as well."""

    @staticmethod
    def forward(ctx, u: Tensor, k: Tensor, reverse: int) -> Tensor:
        ctx.save_for_backward(u, k)
        ctx.reverse = reverse
        return _spectral_conv(u, k, reverse)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        u, k = ctx.saved_tensors
        length = u.shape[-2]
        n = 2 * length
        k_f = _spectrum(k, n, ctx.reverse)  # (*R, n//2+1, H), as used in forward
        g_f = _rfft_tokens(grad, n)  # (..., n//2+1, H)
        grad_u = grad_k = None
        if ctx.needs_input_grad[0]:  # y = irfft(U K) → dL/du = irfft(G conj(K)), the adjoint (correlation)
            grad_u = _from_spectrum(g_f * k_f.conj(), n, length)
        if ctx.needs_input_grad[1]:  # dL/dk[l] = Σ g[t] u[t − l] (causal) or Σ g[t] u[t + l] (reverse)
            cross = (g_f * _rfft_tokens(u, n).conj()).sum_to_size(k_f.shape)  # (*R, n//2+1, H): summed over the batch
            grad_k = _from_spectrum(_conj_last(cross, ctx.reverse), n, length).transpose(-1, -2)  # (*R, L, H) → (*R, H, L)
        return grad_u, grad_k, None


def causal_conv(u: Tensor, k: Tensor, reverse: int = 0) -> Tensor:
    """Causal convolution along the sequence axis: y[t] = Σ_{s≤t} k[t-s] · u[s].

    u: (..., L, H) float32; k: (*R, H, L) with R broadcastable to u's leading dims. The last
    `reverse` channels are convolved anti-causally instead, y[t] = Σ_{s≥t} k[s-t] · u[s] (the
    causal convolution of the time-reversed sequence, reversed back), by conjugating their
    kernel's spectrum. Uses an FFT of size 2L (a size-L FFT would wrap the tail of the signal
    around to its start; with 2L the correlation's negative lags land in the zero padding).
    """
    if torch.is_grad_enabled() and (u.requires_grad or k.requires_grad):
        return _FFTConv.apply(u, k, reverse)
    return _spectral_conv(u, k, reverse)


def _to_hln(x: Tensor) -> Tensor:
    """(N, L, H) → (H, L, N) through one 2D transpose of (N, L·H), the fast copy: a 3D permute
    copy is ~8× slower. The result is a view whose (L, N) matrices have unit column stride, as
    bmm needs."""
    n, length, h = x.shape
    return x.reshape(n, length * h).t().contiguous().view(length, h, n).transpose(0, 1)  # (L·H, N) → (H, L, N)


def lag_taps(k: Tensor, reverse: int = 0) -> Tensor:
    """The kernels k (H, L) as taps over lags −(L−1) … L−1, (H, 2L − 1), for `joint_conv`: tap i
    weighs u[t + i − (L − 1)]. A causal channel holds k reversed in taps 0 … L−1 (tap L−1−d is
    k[d], the weight of u[t − d]), zeros after; the last `reverse` (anti-causal) channels hold k in
    taps L−1 … 2L−2 (tap L−1+d weighs u[t + d]), zeros before."""
    length, causal = k.shape[-1], k.shape[0] - reverse
    pad = torch.nn.functional.pad
    return torch.cat([pad(k[:causal].flip(-1), (0, length - 1)), pad(k[causal:], (length - 1, 0))])


def _depthwise(u: Tensor, taps: Tensor) -> Tensor:
    """y[n, t, h] = Σ_i taps[h, i] · u[n, t + i − (L−1), h] (zero outside 0 … L−1); u (N, L, H),
    taps (H, 2L − 1) → (N, L, H). One depthwise convolution over the channels-last view
    (N, H, 1, L) of u (token-major activations are that layout already), so nothing is copied
    in or out."""
    n, length, h = u.shape
    u = u.contiguous()  # a strided view would take a slow path (60 ms instead of 0.7 at 243 × 17 × 512)
    y = torch.nn.functional.conv2d(u.permute(0, 2, 1).unsqueeze(2), taps[:, None, None, :], padding=(0, length - 1), groups=h)
    return y.squeeze(2).permute(0, 2, 1).contiguous()  # (N, H, 1, L) channels-last → (N, L, H), no copy


def _lag_sums(gram: Tensor) -> Tensor:
    """Sums of (H, L, L) matrices along their diagonals → (H, 2L − 1), entry j the sum of
    gram[h, t, s] over t − s = j − (L − 1). With the columns reversed, row t's entry s' lands at
    j = t + s'; padding the rows to 2L and reading them back as rows of 2L − 1 shifts row t by t."""
    h, length, _ = gram.shape
    rows = torch.nn.functional.pad(gram.flip(-1), (0, length))  # (H, L, 2L)
    return rows.flatten(-2)[:, : length * (2 * length - 1)].view(h, length, 2 * length - 1).sum(-2)


class _JointConv(torch.autograd.Function):
    """`joint_conv` for training, keeping u and the taps. Its backward:
        d/du:     the same depthwise convolution with the taps reversed (a correlation's adjoint);
        d/dtaps:  G[h, t, s] = Σ_n g[n, t, h] u[n, s, h] (one bmm over channels, channel-major),
                  summed along its diagonals: tap i collects lag t − s = L − 1 − i.
    Autograd would take the depthwise convolution's weight gradient, which is slow on the CPU (73
    vs ~5 ms at 243 × 17 joints × 512 channels, 2 threads)."""

    @staticmethod
    def forward(ctx, u: Tensor, taps: Tensor) -> Tensor:
        ctx.save_for_backward(u, taps)
        return _depthwise(u, taps)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        u, taps = ctx.saved_tensors
        grad = grad.contiguous()
        grad_u = _depthwise(grad, taps.flip(-1)) if ctx.needs_input_grad[0] else None
        grad_taps = None
        if ctx.needs_input_grad[1]:
            gram = torch.bmm(_to_hln(grad), _to_hln(u).transpose(1, 2))  # (H, L, N) @ (H, N, L) → (H, L, L)
            grad_taps = _lag_sums(gram).flip(-1)
        return grad_u, grad_taps


def joint_conv(u: Tensor, taps: Tensor) -> Tensor:
    """The convolution of `causal_conv` for short sequences such as a skeleton's joints: one
    depthwise convolution with taps = lag_taps(k, reverse) (causal and anti-causal channels alike).

    u: (..., L, H); taps: (H, 2L − 1).
    """
    lead, (length, h) = u.shape[:-2], u.shape[-2:]
    u = u.reshape(-1, length, h)  # (N, L, H)
    if torch.is_grad_enabled() and (u.requires_grad or taps.requires_grad):
        y = _JointConv.apply(u, taps)
    else:  # inference: the same convolution, traceable by torch.jit / torch.export
        y = _depthwise(u, taps)
    return y.view(*lead, length, h)


def toeplitz(taps: Tensor) -> Tensor:
    """The taps (H, 2L − 1) of `joint_conv` as one (L, L) matrix per channel, laid out channels
    innermost: T[t, s, h] = taps[h, s − t + L − 1], the weight of u[s] in y[t] → (L, L, H)."""
    length = (taps.shape[-1] + 1) // 2
    pos = torch.arange(length, device=taps.device)
    return taps[:, pos[None, :] - pos[:, None] + length - 1].permute(1, 2, 0).contiguous()  # (H, L_t, L_s) → (L_t, L_s, H)


def toeplitz_conv(u: Tensor, matrix: Tensor) -> Tensor:
    """`joint_conv` as the product with `toeplitz(taps)`, for a few sequences (its cost grows with
    L² per sequence): u (..., L, H), matrix (L, L, H) → (..., L, H)."""
    return (matrix * u.unsqueeze(-3)).sum(-2)  # (L_t, L_s, H) · (..., 1, L_s, H), summed over s


def _lag_powers(z: Tensor, lags: Tensor) -> Tensor:
    """exp(lag·z) for each lag, z (..., M) complex → (..., len(lags), 2M) real: [Re | Im] along
    the last axis. Formed from e^{lag·Re z} and the cosine and sine of lag·Im z (vectorised,
    where complex exp is not), with the modes innermost so that every op runs over M at a time."""
    mag = torch.exp(lags[:, None] * z.real[..., None, :])  # (..., n, M)
    phase = lags[:, None] * z.imag[..., None, :]
    return (torch.stack([torch.cos(phase), torch.sin(phase)], dim=-2) * mag.unsqueeze(-2)).flatten(-2)  # (..., n, 2, M) → (..., n, 2M)


def _split_powers(w: Tensor, z: Tensor, length: int) -> tuple[Tensor, Tensor, Tensor]:
    """The split-lag factors of `power_sum`, in real arithmetic, each (..., lags, 2M) as [Re | Im]:
    X = exp(qS·z) (Q lags), the left operand [Re P | −Im P] with P = w·X (Q lags) and
    E = exp(r·z) (S lags), so that K (..., Q, S) = 2 · left @ Eᵀ."""
    step = math.isqrt(length - 1) + 1 if length > 1 else 1  # S = ⌈√length⌉
    blocks = -(-length // step)  # Q = ⌈length / S⌉
    lag = torch.arange(step, device=z.device, dtype=z.real.dtype)
    inner = _lag_powers(z, lag)  # (..., S, 2M)
    outer = _lag_powers(z, lag[:blocks] * step)  # (..., Q, 2M)
    # [Re P | −Im P] = [w_re·Re X − w_im·Im X | −w_re·Im X − w_im·Re X]
    x = outer.unflatten(-1, (2, -1))  # (..., Q, 2, M)
    w_re, w_im = w.real[..., None, :], w.imag[..., None, None, :]  # (..., 1, M), (..., 1, 1, M)
    left = x * torch.stack([w_re, -w_re], dim=-2) - x.flip(-2) * w_im  # (..., Q, 2, M)
    return outer, left.flatten(-2), inner  # (..., Q, 2M), (..., Q, 2M), (..., S, 2M)


def _split_product(left: Tensor, inner: Tensor, length: int) -> Tensor:
    """K = 2 · left @ Eᵀ (..., Q, S), read as K[qS + r] and cut to `length` → (..., length)."""
    return (2 * (left @ inner.transpose(-1, -2))).flatten(-2)[..., :length]  # (..., Q, S) → (..., Q·S)


class _PowerSum(torch.autograd.Function):
    """`power_sum` with a hand-written backward. With G = dL/dK laid out as (Q, S) (K[qS + r]):
        dL/dw = 2 conj(Σ_q X[q] · Σ_r G[q, r] E[r]),   dL/dz = 2 conj(w · Σ_q X[q] · Σ_r k·G[q, r] E[r])
    (torch's convention for complex inputs, k = qS + r): one real matmul of [G; k·G] by
    [Re E | Im E] and products over (Q, M), where autograd would run a dozen elementwise backward
    passes of the exponentials and broadcasts. Keeps w, X and E."""

    @staticmethod
    def forward(ctx, w: Tensor, z: Tensor, length: int) -> Tensor:
        w, z = torch.broadcast_tensors(w, z)
        outer, left, inner = _split_powers(w, z, length)
        ctx.save_for_backward(w, outer, inner)
        ctx.length = length
        return _split_product(left, inner, length)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        w, outer, inner = ctx.saved_tensors
        blocks, step = outer.shape[-2], inner.shape[-2]
        g = torch.nn.functional.pad(grad.to(inner.dtype), (0, blocks * step - ctx.length))
        lag = torch.arange(blocks * step, device=g.device, dtype=g.dtype)
        g2 = torch.cat([g, g * lag], dim=-1).unflatten(-1, (2 * blocks, step))  # (..., 2Q, S): [G; k·G]
        ge = (g2 @ inner).unflatten(-2, (2, blocks)).unflatten(-1, (2, -1))  # (..., 2, Q, 2, M): Σ_r G E, Σ_r k·G E
        ge_re, ge_im = ge[..., 0, :], ge[..., 1, :]  # (..., 2, Q, M)
        x = outer.unflatten(-1, (2, -1)).unsqueeze(-4)  # (..., 1, Q, 2, M)
        x_re, x_im = x[..., 0, :], x[..., 1, :]  # (..., 1, Q, M)
        s = torch.complex((ge_re * x_re - ge_im * x_im).sum(-2), (ge_re * x_im + ge_im * x_re).sum(-2))  # (..., 2, M)
        return 2 * s[..., 0, :].conj(), 2 * (w * s[..., 1, :]).conj(), None


def power_sum(w: Tensor, z: Tensor, length: int) -> Tensor:
    """K[..., k] = 2 Re Σ_m w_m exp(k·z_m) for k = 0 … length − 1; w, z: (..., M) complex → (..., length) real.

    Split lags: k = q·S + r with S = ⌈√length⌉, so exp(k·z) = exp(qS·z) · exp(r·z) and
        K[..., q, r] = 2 Re Σ_m (w_m exp(qS·z_m)) · exp(r·z_m),
    one (Q × M) by (M × S) matrix product per channel, written in real arithmetic
    (Re(ab) = Re a Re b − Im a Im b). Only (..., M, Q + S) exponentials are computed, and only they
    are kept for the backward pass, instead of the (..., M, length) powers: at 2048 frames and
    M = 64 that is 46× fewer, and the memory no longer grows with H × M × L. The backward pass is
    written out (`_PowerSum`).
    Each power is formed from the exact products k·Re z and k·Im z in z's precision (float64 for
    the kernel: the phase k·Im z reaches thousands of radians), so the split loses no accuracy.
    """
    if torch.is_grad_enabled() and (w.requires_grad or z.requires_grad):
        return _PowerSum.apply(w, z, length)
    _, left, inner = _split_powers(w, z, length)
    return _split_product(left, inner, length)


class DSSM(nn.Module):
    """H independent diagonal SSMs (SPEC §1) over the sequence axis -2 of (..., L, H) inputs.

    Args:
        channels: H, the number of independent single-input single-output SSMs.
        state_size: N; the layer keeps N/2 complex modes per channel.
        dt_min, dt_max: range of the log-uniform initialisation of Δ.
        skip: use the D·u skip term.
        reverse: the last `reverse` channels run anti-causally (backwards along the sequence, as
            on the flipped input): a bidirectional block's two directions in one layer, no flips.
        ssm_lr: learning-rate cap for Λ and log Δ (they get no weight decay); see `param_groups`.
    """

    def __init__(
        self,
        channels: int,
        state_size: int = 128,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        skip: bool = True,
        ssm_lr: float | None = 1e-3,
        reverse: int = 0,
    ) -> None:
        super().__init__()
        if state_size < 2 or state_size % 2:
            raise ValueError(f"state_size must be an even number >= 2 (N/2 complex modes); got {state_size}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max; got dt_min={dt_min}, dt_max={dt_max}")
        if not 0 <= reverse <= channels:
            raise ValueError(f"reverse must be between 0 and channels={channels}; got {reverse}")
        self.channels, self.modes, self.ssm_lr, self.reverse = channels, state_size // 2, ssm_lr, reverse
        h, m = channels, state_size // 2
        lo, hi = math.log(dt_min), math.log(dt_max)
        self.log_dt = nn.Parameter(torch.rand(h) * (hi - lo) + lo)
        # S4D-Lin: Re Λ = -1/2 (so Λ_re = log 1/2), Im Λ_m = π·m for m = 0 … M-1 (counted from 0 as
        # in S4D's code, so one mode starts at frequency 0; SPEC §1 writes the index from 1).
        self.lambda_re = nn.Parameter(torch.full((h, m), math.log(0.5)))
        self.lambda_im = nn.Parameter(math.pi * torch.arange(m, dtype=torch.float32).repeat(h, 1))
        self.C = nn.Parameter(torch.randn(h, m, 2) * math.sqrt(0.5))  # (H, M, re/im): complex normal
        self.D = nn.Parameter(torch.randn(h)) if skip else None
        self._cache: OrderedDict[Hashable, object] = OrderedDict()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, state_size={2 * self.modes}, skip={self.D is not None}, reverse={self.reverse}"

    def optim_hints(self) -> dict[str, dict]:
        """Optimiser settings for this module's own parameters (read by `param_groups`)."""
        hint = {"weight_decay": 0.0, "lr_max": self.ssm_lr}
        return {name: hint for name in ("log_dt", "lambda_re", "lambda_im")}

    # ------------------------------------------------------------------ discretisation
    def real_exponents(self, rate: Rate, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Re Λ, Im Λ (H, M); a, b with ΛΔ = a + ib; Re(Ā − 1), Im(Ā − 1) (each (*R, H, M)), in
        real arithmetic in `dtype`. Ā − 1 = (expm1(a)·cos b − 2 sin²(b/2)) + i·e^a·sin b has no
        cancellation when |ΛΔ| is tiny."""
        dt = torch.exp(self.log_dt.to(dtype))  # (H,)
        if isinstance(rate, Tensor):
            dt = rate.to(dtype)[..., None] * dt  # (*R, H)
        else:
            dt = dt * rate
        lam_re = -torch.exp(self.lambda_re.to(dtype))  # (H, M)
        lam_im = self.lambda_im.to(dtype)
        a, b = lam_re * dt[..., None], lam_im * dt[..., None]  # (*R, H, M): ΛΔ = a + ib
        return lam_re, lam_im, a, b, torch.expm1(a) * torch.cos(b) - 2 * torch.sin(b / 2) ** 2, torch.exp(a) * torch.sin(b)

    def _discretise(self, rate: Rate, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """ΛΔ, Ā, B̄ (each (*R, H, M), complex) and C (H, M), complex, all in `dtype`'s precision."""
        lam_re, lam_im, a, b, am1_re, am1_im = self.real_exponents(rate, dtype)
        expm1 = torch.complex(am1_re, am1_im)
        b_bar = expm1 / torch.complex(lam_re, lam_im)
        c = torch.view_as_complex(self.C.to(dtype).contiguous())  # (H, M)
        return torch.complex(a, b), expm1 + 1, b_bar, c

    def _cached(self, key: Hashable, compute: Callable[[], Tensor | tuple]) -> Tensor | tuple:
        """Memoise `compute()` for inference (grad disabled) until a parameter changes.

        The key includes every parameter's version counter, which in-place updates (optimizer steps,
        `load_state_dict`) advance; writes through `.data` bypass it, so call `clear_cache()` then.
        """
        if torch.is_grad_enabled():
            return compute()
        p = self.log_dt
        key = (key, p.device, p.dtype, *(q._version for q in self._parameters.values() if q is not None))
        if key not in self._cache:
            self._cache[key] = compute()
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return self._cache[key]

    def clear_cache(self) -> None:
        self._cache.clear()

    @staticmethod
    def _rate_key(rate: Rate) -> float | None:
        return float(rate) if not isinstance(rate, Tensor) else None

    # ------------------------------------------------------------------ convolution mode
    def kernel(self, length: int, rate: Rate = 1.0) -> Tensor:
        """K of shape (*R, H, L) in float32 (R: the shape of a tensor `rate`, else empty)."""
        if isinstance(rate, Tensor) and rate.numel() > 1:
            # One kernel per distinct rate keeps memory at (#rates, H, M, L), not (batch, H, M, L).
            uniq, inverse = torch.unique(rate, return_inverse=True)
            return self._kernel(length, uniq)[inverse]  # (*R, H, L)
        return self._kernel(length, rate)

    def _kernel(self, length: int, rate: Rate) -> Tensor:
        dtype = _wide_dtype(self.log_dt.device)
        lam_dt, _, b_bar, c = self._discretise(rate, dtype)
        return power_sum(c * b_bar, lam_dt, length).float()

    def response(self, length: int, rate: Rate = 1.0) -> Tensor:
        """The kernel with the skip term folded into lag 0 (y = K * u + D·u = K' * u), (*R, H, L)."""
        k = self.kernel(length, rate)
        if self.D is None:
            return k
        k = k.clone()
        k[..., 0] += self.D
        return k

    def forward(self, u: Tensor, rate: Rate = 1.0) -> Tensor:
        """u: (..., L, H) → y: (..., L, H), causal along L (the last `reverse` channels anti-causal)."""
        length = u.shape[-2]
        with _float32_only(u.device.type):
            x = u.float()
            rate_key = self._rate_key(rate)
            if rate_key is None:  # per-sample rates: one kernel per distinct rate, not cached
                y = causal_conv(x, self.response(length, rate), self.reverse)
            elif length <= DEPTHWISE_MAX_LEN:
                make = lambda: lag_taps(self.response(length, rate), self.reverse)  # noqa: E731
                taps = self._cached(("taps", length, rate_key), make)
                few = not torch.is_grad_enabled() and x.numel() <= TOEPLITZ_MAX_SEQUENCES * length * x.shape[-1]
                if few or torch.compiler.is_compiling():
                    y = toeplitz_conv(x, self._cached(("toeplitz", length, rate_key), lambda: toeplitz(taps)))
                else:
                    y = joint_conv(x, taps)
            else:
                y = causal_conv(x, self._cached(("kernel", length, rate_key), lambda: self.response(length, rate)), self.reverse)
        return y.to(u.dtype)

    # ------------------------------------------------------------------ recurrent mode
    def init_state(self, *batch_shape: int, device: torch.device | str | None = None) -> Tensor:
        """Zero state of shape (*batch_shape, H, M), complex64 (what it holds: `step`)."""
        device = self.log_dt.device if device is None else device
        return torch.zeros(*batch_shape, self.channels, self.modes, dtype=torch.complex64, device=device)

    def discretisation(self, rate: Rate = 1.0) -> tuple[Tensor, Tensor]:
        """For the recurrence, cached per float rate during inference: Ā (*R, H, M) complex64, and
        the input weights 2C·B̄ as float32 (re, im) pairs (*R, H, M, 2) (see `step`)."""

        def compute() -> tuple[Tensor, Tensor]:
            _, a_bar, b_bar, c = self._discretise(rate, _wide_dtype(self.log_dt.device))
            return a_bar.to(torch.complex64), torch.view_as_real((2 * c * b_bar).to(torch.complex64))

        key = self._rate_key(rate)
        return self._cached(("step", key), compute) if key is not None else compute()

    def step(self, u: Tensor, state: Tensor, rate: Rate = 1.0) -> tuple[Tensor, Tensor]:
        """One sample: u (..., H), state (..., H, M) → y (..., H), next state.

        The state holds each mode already weighted by its readout, s_m = 2C_m·x_m (x the SSM's
        state of SPEC §1): s ← Ā s + 2C B̄ u, and y = Re Σ_m s_m + D u (conjugate pairs tied). The
        readout is then a plain sum, one pass over the state without a weight (a weighted readout
        took 6 % of a batch-1 paper-model step). Ā and B̄ come from this step's own `rate` (a
        float, or a tensor broadcastable to u's leading dims): the new input is held over the
        elapsed interval, as in the convolution.

        With grad disabled (streaming inference) the state is updated in place and returned: it is
        tens of MB for a batch of streams and a fresh copy per step would triple the step's memory
        traffic. With grad enabled a new tensor is returned and the input state is left untouched.
        """
        if self.reverse:
            raise RuntimeError(f"DSSM.step: {self.reverse} of its channels run backwards in time (reverse > 0); only a causal DSSM can step")
        with _float32_only(u.device.type):
            x = u.float()
            # 2C B̄·u in real arithmetic on the state's (re, im) view (..., H, M, 2): u is real, and
            # a complex addcmul takes twice as long for the same values.
            a_bar, b_in = self.discretisation(rate)
            if torch.is_grad_enabled():
                state = torch.view_as_complex(torch.addcmul(torch.view_as_real(a_bar * state), b_in, x[..., None, None]))
            else:
                torch.view_as_real(state.mul_(a_bar)).addcmul_(b_in, x[..., None, None])  # in place, through a view
            y = state.sum(-1).real  # (..., H)
            if self.D is not None:
                y = torch.addcmul(y, x, self.D)
        return y.to(u.dtype), state


def param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """AdamW/SGD parameter groups for any model built from these modules.

    Parameters named in a module's `optim_hints()` (the SSM's Λ and log Δ) go to their own groups
    with the hinted weight decay and lr = min(lr, hint["lr_max"]) (the S4 convention); everything
    else shares one group with `weight_decay`. Frozen parameters are left out. Each group carries a
    `name` for logging.
    """
    hinted: dict[int, dict] = {}
    for module in model.modules():
        hints = getattr(module, "optim_hints", None)
        if hints is None:
            continue
        for name, hint in hints().items():
            p = getattr(module, name)
            if p is not None:
                hinted[id(p)] = hint
    main: list[nn.Parameter] = []
    special: dict[tuple, list[nn.Parameter]] = {}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        hint = hinted.get(id(p))
        if hint is None:
            main.append(p)
            continue
        group_lr = lr if hint.get("lr_max") is None else min(lr, hint["lr_max"])
        special.setdefault((group_lr, hint.get("weight_decay", weight_decay)), []).append(p)
    groups = [{"name": "main", "params": main, "lr": lr, "weight_decay": weight_decay}] if main else []
    for i, ((group_lr, wd), params) in enumerate(special.items()):
        groups.append({"name": f"ssm{i}" if i else "ssm", "params": params, "lr": group_lr, "weight_decay": wd})
    return groups
