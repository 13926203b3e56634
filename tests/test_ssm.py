"""The DSSM layer: numerics of the kernel, both convolution paths, recurrence, rate, precision."""

import math

import pytest
import torch

from hummuss_pl.models import DSSM, param_groups
from helpers import saved_bytes, spy
import hummuss_pl.models.ssm as ssm_module
from hummuss_pl.models.ssm import DEPTHWISE_MAX_LEN, TOEPLITZ_MAX_SEQUENCES, causal_conv, joint_conv, lag_taps, power_sum, toeplitz, toeplitz_conv


def reference_bbar(lam: torch.Tensor, dt: float) -> torch.Tensor:
    """(e^{ΛΔ} − 1)/Λ in complex128: Taylor series Δ Σ_n (ΛΔ)^n/(n+1)! where |ΛΔ| < 0.5 (no
    cancellation), the plain formula elsewhere (cancellation-free there)."""
    z = lam * dt
    series, term = torch.zeros_like(z), torch.ones_like(z)
    for n in range(25):
        series = series + term / float(math.factorial(n + 1))
        term = term * z
    return torch.where(z.abs() < 0.5, dt * series, (torch.exp(z) - 1) / lam)


def reference_kernel(ssm: DSSM, length: int, rate: float = 1.0) -> torch.Tensor:
    """K[h, k] = 2 Re Σ_m C B̄ e^{ΛΔk}, written out independently in complex128."""
    p = {n: t.detach().double() for n, t in ssm.named_parameters()}
    lam = torch.complex(-torch.exp(p["lambda_re"]), p["lambda_im"])  # (H, M)
    dt = torch.exp(p["log_dt"]) * rate  # (H,)
    c = torch.complex(p["C"][..., 0], p["C"][..., 1])
    out = torch.zeros(ssm.channels, length, dtype=torch.float64)
    for h in range(ssm.channels):
        bbar = reference_bbar(lam[h], float(dt[h]))
        k = torch.arange(length, dtype=torch.float64)
        powers = torch.exp(lam[h][:, None] * dt[h] * k)  # (M, L)
        out[h] = 2 * (c[h][:, None] * bbar[:, None] * powers).sum(0).real
    return out


def direct_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """y[t] = Σ_{s≤t} k[t−s] u[s] by a double loop-free sum in float64; u (B, L, H), k (H, L)."""
    length = u.shape[1]
    t = torch.arange(length)
    lag = t[:, None] - t[None, :]
    mat = torch.where(lag >= 0, k[:, lag.clamp(min=0)], torch.zeros(()))  # (H, L, L)
    return torch.einsum("hts,bsh->bth", mat.double(), u.double())


def test_bbar_has_no_cancellation_for_tiny_lambda_dt():
    ssm = DSSM(4, 8)
    with torch.no_grad():
        ssm.lambda_re.fill_(math.log(1e-4))  # Re Λ = -1e-4
        ssm.lambda_im.copy_(torch.tensor([0.0, 1e-4, 1e-2, 3.0]).repeat(4, 1))
        ssm.log_dt.fill_(math.log(1e-3))  # |ΛΔ| down to 1e-7
    _, _, b32, _ = ssm._discretise(1.0, torch.float32)
    lam = torch.complex(-torch.exp(ssm.lambda_re.detach().double()), ssm.lambda_im.detach().double())
    ref = reference_bbar(lam, 1e-3)
    rel = ((b32.to(torch.complex128) - ref).abs() / ref.abs()).max().item()
    assert rel < 1e-6, f"B̄ relative error {rel:.2e} in float32"
    # the textbook formula (e^z - 1)/Λ in complex64 fails here: this test can tell the difference
    naive = (torch.exp((lam * 1e-3).to(torch.complex64)) - 1) / lam.to(torch.complex64)
    assert ((naive.to(torch.complex128) - ref).abs() / ref.abs()).max().item() > 1e-3


@pytest.mark.parametrize("rate", [1.0, 0.5, 4.0])
def test_kernel_matches_float64_reference(rate):
    torch.manual_seed(0)
    ssm = DSSM(6, 32, dt_min=1e-3, dt_max=1e-1)
    with torch.no_grad():
        ssm.lambda_re[0].fill_(math.log(1e-5))  # one channel with tiny |ΛΔ|
    k = ssm.kernel(243, rate)
    ref = reference_kernel(ssm, 243, rate)
    assert k.dtype == torch.float32 and k.shape == (6, 243)
    err = (k.double() - ref).abs().max().item()
    assert err <= 1e-5 * ref.abs().max().item(), err


@pytest.mark.parametrize("length", [2048, 1000])
def test_kernel_matches_float64_reference_at_long_lengths(length):
    """Past a thousand frames the phase k·Im(ΛΔ) reaches tens of thousands of radians; the split
    powers exp(qS·z)·exp(r·z) must stay as accurate as exp(k·z)."""
    torch.manual_seed(0)
    ssm = DSSM(4, 64, dt_min=1e-2, dt_max=1e-1)
    with torch.no_grad():
        ssm.lambda_re.fill_(math.log(1e-3))  # slow decay: the kernel's tail matters at 2048
    k = ssm.kernel(length)
    ref = reference_kernel(ssm, length)
    assert (k.double() - ref).abs().max().item() <= 1e-5 * ref.abs().max().item()
    assert ref[:, -200:].abs().max() > 1e-2 * ref.abs().max()  # the tail is not negligible


@pytest.mark.parametrize("length", [1, 2, 17, 30])
def test_power_sum_values_and_gradients_equal_the_direct_sum(length):
    """Values and gradients (w.r.t. the complex weights and exponents) of the split-lag sum equal
    2 Re Σ_m w_m exp(k·z_m) written directly; gradcheck compares with finite differences too."""
    torch.manual_seed(8)
    w = torch.randn(3, 5, dtype=torch.complex128, requires_grad=True)
    z = torch.complex(-torch.rand(3, 5, dtype=torch.float64), 3 * torch.randn(3, 5, dtype=torch.float64)).requires_grad_()
    k = torch.arange(length, dtype=torch.float64)
    direct = 2 * (w[..., None] * torch.exp(z[..., None] * k)).sum(-2).real  # (3, L)
    split = power_sum(w, z, length)
    assert split.shape == (3, length) and torch.allclose(split, direct, rtol=1e-12, atol=1e-12)
    g = torch.randn(3, length, dtype=torch.float64)
    grads_direct = torch.autograd.grad(direct, (w, z), g)
    grads_split = torch.autograd.grad(split, (w, z), g)
    for a, b in zip(grads_split, grads_direct):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda w, z: power_sum(w, z, length), (w, z))


def test_training_keeps_no_state_by_length_tensors_for_the_kernel():
    """What autograd saves for one DSSM's training forward (kernel + FFT convolution) at 2048 frames
    is far below one H × M × L complex128 tensor (the powers the kernel used to keep) and grows
    sub-linearly in M·L: the kernel keeps only the (H, M, Q + S) split powers."""
    torch.manual_seed(9)
    ssm = DSSM(16, 128)

    def saved_bytes(length: int) -> int:
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            ssm.kernel(length)
        return total

    powers_2048 = 16 * 64 * 2048 * 16  # H × M × L complex128
    assert saved_bytes(2048) < powers_2048 / 5  # measured: 8.5× below
    assert saved_bytes(2048) < 4 * saved_bytes(243)  # 8.4× the length, ≈ 2.9× the √length


@pytest.mark.parametrize("reverse", [0, 2, 6])
def test_joint_convolution_and_its_gradients_equal_the_direct_convolution(reverse):
    """The depthwise convolution of short sequences and its hand-written backward (the taps'
    gradient from diagonal sums of one bmm), causal, mixed and all anti-causal channels."""
    torch.manual_seed(10)
    length, h = 17, 6
    u = torch.randn(10, length, h, dtype=torch.float64, requires_grad=True)
    k = torch.randn(h, length, dtype=torch.float64, requires_grad=True)
    g = torch.randn(10, length, h, dtype=torch.float64)

    def reference(u, k):
        causal = direct_conv(u, k)  # every channel causal
        anti = direct_conv(u.flip(-2), k).flip(-2)  # every channel anti-causal
        return torch.cat([causal[..., : h - reverse], anti[..., h - reverse :]], dim=-1)

    y = joint_conv(u.unflatten(0, (2, 5)), lag_taps(k, reverse)).flatten(0, 1)  # any leading dims
    assert torch.allclose(y, reference(u, k), atol=1e-10)
    expected = torch.autograd.grad(reference(u, k), (u, k), g)
    got = torch.autograd.grad(y, (u, k), g)
    for a, b in zip(got, expected):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-10)
    assert torch.autograd.gradcheck(joint_conv, (u[:2, :7], lag_taps(k[:, :7], reverse).detach().requires_grad_()))


def test_fft_convolution_gradients_equal_the_direct_convolution():
    """The FFT convolution's hand-written backward, on its hardest case: causal and reverse
    channels, one kernel per sample broadcast over a second batch axis (per-sample rates)."""
    torch.manual_seed(12)
    batch, joints, length, h, rev = 3, 2, 70, 6, 2
    u = torch.randn(batch, joints, length, h, dtype=torch.float64, requires_grad=True)
    k = torch.randn(batch, 1, h, length, dtype=torch.float64, requires_grad=True)  # (*R, H, L), R = (B, 1)
    g = torch.randn(batch, joints, length, h, dtype=torch.float64)

    def reference(u, k):
        out = []
        for b in range(batch):
            causal = direct_conv(u[b], k[b, 0])  # (J, L, H), every channel causal
            anti = direct_conv(u[b].flip(-2), k[b, 0]).flip(-2)  # every channel anti-causal
            out.append(torch.cat([causal[..., : h - rev], anti[..., h - rev :]], dim=-1))
        return torch.stack(out)

    y = causal_conv(u, k, rev)
    assert torch.allclose(y, reference(u, k), atol=1e-10)
    expected = torch.autograd.grad(reference(u, k), (u, k), g)
    got = torch.autograd.grad(y, (u, k), g)
    for a, b in zip(got, expected):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-10)
    assert torch.autograd.gradcheck(lambda u, k: causal_conv(u, k, rev), (u[:1, :1, :9], k[:1, :, :, :9]))


def test_fft_convolution_keeps_only_its_input_and_kernel_for_backward():
    """Autograd through rfft/irfft would keep the zero-padded input and u's spectrum (4× u)."""
    u = torch.randn(4, 300, 32, requires_grad=True)
    k = torch.randn(32, 300, requires_grad=True)
    assert saved_bytes(lambda: causal_conv(u, k, 8)) == u.numel() * 4 + k.numel() * 4


@pytest.mark.parametrize("length", [5, DEPTHWISE_MAX_LEN, DEPTHWISE_MAX_LEN + 1, 300])
def test_both_convolution_paths_equal_direct_convolution(length):
    torch.manual_seed(1)
    u = torch.randn(3, length, 8)
    k = torch.randn(8, length)
    ref = direct_conv(u, k)
    assert torch.allclose(causal_conv(u, k).double(), ref, atol=1e-4)
    assert torch.allclose(joint_conv(u, lag_taps(k)).double(), ref, atol=1e-4)
    if length <= DEPTHWISE_MAX_LEN:
        assert torch.allclose(toeplitz_conv(u, toeplitz(lag_taps(k))).double(), ref, atol=1e-4)


@pytest.mark.parametrize("sequences", sorted({1, TOEPLITZ_MAX_SEQUENCES, TOEPLITZ_MAX_SEQUENCES + 1, 4}))
def test_few_sequences_in_inference_take_the_toeplitz_product(sequences, monkeypatch):
    """Inference over at most TOEPLITZ_MAX_SEQUENCES short sequences (a streaming step's skeletons)
    multiplies by the Toeplitz matrix (causal and reverse channels alike), more takes the depthwise
    convolution, training always does; all give the same values."""
    torch.manual_seed(12)
    ssm = DSSM(6, 16, reverse=2)
    u = torch.randn(sequences, 17, 6)
    calls = spy(monkeypatch, ssm_module, "toeplitz_conv")
    with torch.no_grad():
        inferred = ssm(u)
    assert len(calls) == (sequences <= TOEPLITZ_MAX_SEQUENCES)
    trained = ssm(u.requires_grad_())
    assert len(calls) == (sequences <= TOEPLITZ_MAX_SEQUENCES)
    assert torch.allclose(inferred, trained, atol=1e-6)


@pytest.mark.parametrize("length", [17, 100], ids=["depthwise", "fft"])
@pytest.mark.parametrize("rate", [1.0, torch.tensor([0.5, 2.0, 1.0])], ids=["float", "per-sample"])
def test_reverse_channels_equal_the_flipped_causal_layer(length, rate):
    """reverse=r: the last r channels give exactly flip(causal DSSM(flip(u))) (the bidirectional
    block's backward direction without the flips); the first channels are untouched."""
    assert (length <= DEPTHWISE_MAX_LEN) == (length == 17)
    torch.manual_seed(11)
    both = DSSM(6, 16, reverse=4)
    causal = DSSM(6, 16)
    causal.load_state_dict(both.state_dict())
    u = torch.randn(3, length, 6)
    with torch.no_grad():
        got = both(u, rate)
        forward_part = causal(u, rate)[..., :2]
        backward_part = causal(u.flip(-2), rate).flip(-2)[..., 2:]
    assert (got[..., :2] - forward_part).abs().max().item() <= 1e-5
    assert (got[..., 2:] - backward_part).abs().max().item() <= 1e-5
    with pytest.raises(RuntimeError, match="backwards in time"):
        both.step(u[:, 0], both.init_state(3))


def test_fft_convolution_does_not_wrap_around():
    """An impulse at the last position must not leak into earlier outputs (n ≥ 2L)."""
    u = torch.zeros(1, 200, 1)
    u[0, -1, 0] = 1.0
    k = torch.ones(1, 200)
    y = causal_conv(u, k)
    assert y[0, :-1].abs().max().item() < 1e-6
    assert y[0, -1, 0].item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("length", [17, 243])
@pytest.mark.parametrize("rate", [1.0, 2.5, torch.tensor([0.5, 1.0, 3.0])])
def test_recurrence_equals_convolution(length, rate):
    torch.manual_seed(2)
    ssm = DSSM(16, 32)
    u = torch.randn(3, length, 16)
    with torch.no_grad():
        y = ssm(u, rate)  # a tensor rate has one entry per sample (u's leading dims)
        state, outs = ssm.init_state(3), []
        for t in range(length):
            y_t, state = ssm.step(u[:, t], state, rate)
            outs.append(y_t)
    assert (y - torch.stack(outs, 1)).abs().max().item() <= 1e-5


def test_per_step_rate_equals_held_input_at_fine_rate():
    """Δ scaled by r at a step == r fine steps holding the same input (ZOH): exact, any r per step."""
    torch.manual_seed(3)
    ssm = DSSM(8, 16)
    u = torch.randn(2, 12, 8)
    rates = [1, 2, 3, 1, 4, 2, 2, 1, 3, 1, 1, 2]
    with torch.no_grad():
        s_coarse, s_fine = ssm.init_state(2), ssm.init_state(2)
        for t, r in enumerate(rates):
            y_coarse, s_coarse = ssm.step(u[:, t], s_coarse, float(r))
            for _ in range(r):
                y_fine, s_fine = ssm.step(u[:, t], s_fine, 1.0)
            assert torch.allclose(y_coarse, y_fine, atol=1e-5), t


def test_rate_compensates_subsampling_of_a_smooth_signal():
    """A smooth input sub-sampled ×2 and run at rate 2 gives the full-rate outputs at kept frames."""
    torch.manual_seed(4)
    ssm = DSSM(8, 16, dt_min=0.01, dt_max=0.05, skip=False)
    t = torch.arange(400, dtype=torch.float32)
    u = torch.stack([torch.sin(t / 40 + p) for p in range(8)], -1)[None]  # (1, 400, 8)
    with torch.no_grad():
        full = ssm(u)[:, ::2]
        with_rate = ssm(u[:, ::2], 2.0)
        without = ssm(u[:, ::2], 1.0)
    rel = lambda a: ((a - full).norm() / full.norm()).item()  # noqa: E731
    assert rel(with_rate) < 0.05
    assert rel(without) > 0.3


@pytest.mark.parametrize("length", [17, 100], ids=["depthwise", "fft"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_runs_in_float32_under_autocast(dtype, length):
    """Both convolution paths (the depthwise convolution, which autocast would otherwise run in low
    precision, and the FFT) and the step give exactly the float32 result, cast back."""
    assert (length <= DEPTHWISE_MAX_LEN) == (length == 17)  # each case takes the path it names
    torch.manual_seed(5)
    ssm = DSSM(8, 16)
    u = torch.randn(2, length, 8).to(dtype)
    with torch.no_grad():
        expected = ssm(u.float()).to(dtype)
        with torch.autocast("cpu", dtype=dtype):
            got = ssm(u)
            state = ssm.init_state(2)
            y_t, state = ssm.step(u[:, 0], state)
    assert got.dtype == dtype and torch.equal(got, expected)
    assert state.dtype == torch.complex64 and y_t.dtype == dtype


def test_inference_cache_follows_parameter_updates():
    torch.manual_seed(6)
    ssm = DSSM(8, 16)
    u = torch.randn(2, 100, 8)
    with torch.no_grad():
        before = ssm(u)
        assert torch.equal(ssm(u), before)  # served from the cache
        ssm.log_dt.add_(0.5)  # an optimizer step or load_state_dict bumps the version
        after = ssm(u)
        fresh = DSSM(8, 16)
        fresh.load_state_dict(ssm.state_dict())
    assert not torch.allclose(after, before)
    assert torch.equal(after, fresh(u).detach())


def test_param_groups_put_ssm_parameters_in_a_no_decay_group():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), DSSM(8, 16), torch.nn.Linear(8, 2))
    model[2].weight.requires_grad_(False)
    groups = param_groups(model, lr=3e-4, weight_decay=0.01)
    by_name = {g["name"]: g for g in groups}
    ssm = model[1]
    assert {id(p) for p in by_name["ssm"]["params"]} == {id(ssm.log_dt), id(ssm.lambda_re), id(ssm.lambda_im)}
    assert by_name["ssm"]["weight_decay"] == 0.0 and by_name["ssm"]["lr"] == 3e-4  # min(lr, ssm_lr=1e-3)
    assert by_name["main"]["weight_decay"] == 0.01
    seen = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(seen) == sorted(trainable)  # each trainable parameter exactly once, frozen ones left out
    capped = {g["name"]: g for g in param_groups(model, lr=1e-2, weight_decay=0.01)}
    assert capped["ssm"]["lr"] == 1e-3
    torch.optim.AdamW(groups)  # the groups are valid optimizer input


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="state_size"):
        DSSM(4, 7)
    with pytest.raises(ValueError, match="dt_min"):
        DSSM(4, 8, dt_min=0.1, dt_max=0.01)
    with pytest.raises(ValueError, match="reverse"):
        DSSM(4, 8, reverse=5)


def test_step_updates_state_in_place_only_without_grad():
    torch.manual_seed(7)
    ssm = DSSM(4, 8)
    u = torch.randn(2, 4)
    state = torch.randn(2, 4, 4, dtype=torch.complex64)
    y_grad, new = ssm.step(u, state)  # grad enabled: functional
    assert new is not state and not torch.equal(new, state)
    with torch.no_grad():
        y_inplace, same = ssm.step(u, state)
    assert same is state and torch.equal(same, new.detach())
    assert torch.equal(y_inplace, y_grad.detach())
