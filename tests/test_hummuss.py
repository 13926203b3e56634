"""The HumMUSS backbone: shapes, both modes equal, causality, rate, validation, parameter counts."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers import saved_bytes
from hummuss_pl.models import DSSM, HumMUSS, HumMUSSConfig
from hummuss_pl.models.gdssm import Aggregate

MODELS_DIR = Path(__file__).resolve().parents[1] / "src" / "hummuss_pl" / "models"


def stream(model: HumMUSS, x: torch.Tensor, rate=1.0) -> torch.Tensor:
    state, outs = model.init_state(x.shape[0]), []
    for t in range(x.shape[1]):
        y_t, state = model.step(x[:, t], state, rate)
        outs.append(y_t)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("rate", [1.0, 0.5, 2.5, torch.tensor([0.5, 1.0, 3.0])], ids=["1", "0.5", "2.5", "per-sample"])
def test_streaming_reproduces_convolution_over_243_frames(rate):
    torch.manual_seed(0)
    model = HumMUSS(HumMUSSConfig.small(causal=True)).eval()
    x = torch.randn(3, 243, 17, 3)
    with torch.no_grad():
        conv = model(x, rate)
        steps = stream(model, x, rate)
    assert conv.shape == steps.shape == (3, 243, 17, 3)
    assert (conv - steps).abs().max().item() <= 1e-5


def test_per_step_rates_act_from_their_step_on_and_per_sample():
    """Variable frame rate (camera timestamps): each step's rate is its own, per stream."""
    torch.manual_seed(8)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True)).eval()
    x = torch.randn(2, 30, 17, 3)
    rates = torch.rand(30, 2) * 2.5 + 0.5  # (T, B): a different rate for every step and stream

    def run(x: torch.Tensor, rate_at) -> torch.Tensor:
        state, outs = model.init_state(x.shape[0]), []
        for t in range(x.shape[1]):
            y_t, state = model.step(x[:, t], state, rate_at(t))
            outs.append(y_t)
        return torch.stack(outs, 1)

    with torch.no_grad():
        batched = run(x, lambda t: rates[t])
        separate = [run(x[i : i + 1], lambda t, i=i: float(rates[t, i])) for i in range(2)]
        changed = rates.clone()
        changed[15:, 0] *= 2
        later = run(x, lambda t: changed[t])
    for i in range(2):
        assert (batched[i : i + 1] - separate[i]).abs().max().item() <= 1e-6
    assert torch.equal(later[:, :15], batched[:, :15])  # a rate only acts from its own step on
    assert (later[0, 15:] - batched[0, 15:]).abs().max().item() > 1e-4
    assert torch.equal(later[1], batched[1])  # and only on its own stream


def test_streamer_equals_step():
    torch.manual_seed(1)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True)).eval()
    x = torch.randn(2, 20, 17, 3)
    s = model.streamer(2)
    with torch.no_grad():
        pushed = torch.stack([s.push(x[:, t]) for t in range(20)], 1)
        expected = stream(model, x)
    assert torch.equal(pushed, expected) and s.frames == 20
    s.reset()
    assert s.frames == 0 and torch.equal(s.push(x[:, 0]), pushed[:, 0])


def test_streamer_lays_linear_weights_out_input_major_and_changes_nothing_else():
    """`input_major_weights` (called by the streamers) changes the memory layout of every Linear
    weight only: same parameters, values, outputs and state_dict; the model still trains and loads."""
    torch.manual_seed(3)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = list(model.parameters())
    x = torch.randn(2, 12, 17, 3)
    with torch.no_grad():
        expected = model(x)
    model.streamer(2)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.weight.t().is_contiguous() and not m.weight.is_contiguous() for m in linears)
    assert list(model.parameters()) == params  # the same Parameter objects (optimizers keep them)
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], v) for k, v in before.items())
    close = lambda y: torch.allclose(y, expected, rtol=1e-5, atol=1e-6)  # noqa: E731 - the BLAS may sum in another order
    with torch.no_grad():
        assert close(model(x))
    model(x).square().mean().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in params if p.requires_grad)
    fresh = HumMUSS(HumMUSSConfig.tiny(causal=True))
    fresh.load_state_dict(after)  # an input-major state_dict loads into a fresh model, and back
    model.load_state_dict(fresh.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh(x), expected) and close(model(x))


def test_causal_model_ignores_future_frames_and_bidirectional_does_not():
    torch.manual_seed(2)
    x = torch.randn(2, 60, 17, 3)
    x_changed = x.clone()
    x_changed[:, 31:] = torch.randn(2, 29, 17, 3)
    for causal in (True, False):
        model = HumMUSS(HumMUSSConfig.tiny(causal=causal)).eval()
        with torch.no_grad():
            diff = (model(x) - model(x_changed))[:, :31].abs().max().item()
        if causal:
            assert diff <= 1e-6  # FFT rounding only
        else:
            assert diff > 1e-3


@pytest.mark.parametrize("causal", [False, True])
def test_paper_presets_have_16m_parameters(causal, report):
    model = HumMUSS(HumMUSSConfig.paper(causal))
    n = sum(p.numel() for p in model.parameters())
    report(f"HumMUSS paper preset ({'causal' if causal else 'bidirectional'}) parameters", f"{n:,}")
    assert abs(n - 16e6) <= 0.05 * 16e6


def test_paper_presets_match_supplementary_hyperparameters():
    for causal, n in ((True, 3.0), (False, 2.5)):
        cfg = HumMUSSConfig.paper(causal)
        assert (cfg.depth, cfg.dim, cfg.dim_rep, cfg.state_size) == (5, 256, 512, 128)
        assert (cfg.spatial_reduce, cfg.temporal_reduce, cfg.expand) == (1, 2, n)
        model = HumMUSS(cfg)
        layer = model.layers[0]
        assert type(layer.temporal_1).__name__ == ("UniGDSSM" if causal else "BiGDSSM")
        assert type(layer.spatial_1).__name__ == "BiGDSSM"
        assert layer.temporal_1.ssm.channels == (128 if causal else 2 * 128) and layer.spatial_1.ssm.channels == 2 * 256
        assert layer.temporal_1.ssm.modes == 64


def test_models_package_does_not_import_lightning():
    code = (
        "import sys, hummuss_pl.models; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'lightning_fabric')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in MODELS_DIR.rglob("*.py"):
        text = path.read_text()
        assert "import lightning" not in text and "from lightning" not in text, path
        assert "pytorch_lightning" not in text, path


VARIANTS = [
    (causal, agg, fusion)
    for causal in (False, True)
    for agg in ("gate", "mean", "learned")
    for fusion in ("learned", "mean", "gate")
    if agg == "gate" or fusion == "learned"  # each ablation axis varied on its own
]


@pytest.mark.parametrize("causal,aggregation,fusion", VARIANTS)
def test_every_variant_trains_gradients_reach_every_parameter(causal, aggregation, fusion):
    torch.manual_seed(3)
    cfg = replace(HumMUSSConfig.tiny(causal), block_aggregation=aggregation, fusion=fusion)
    model = HumMUSS(cfg)
    x = torch.randn(2, 9, 17, 3)
    rep = model.representation(x)
    y = model(x)
    assert rep.shape == (2, 9, 17, cfg.dim_rep) and y.shape == (2, 9, 17, 3)
    (y.square().mean() + rep.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    assert not missing, missing


@pytest.mark.parametrize("mode", ["gate", "mean", "learned"])
@pytest.mark.parametrize("gelu_a,gelu_b", [(True, True), (False, True), (True, False), (False, False)])
def test_activated_aggregation_equals_gelu_then_aggregate(mode, gelu_a, gelu_b):
    """Aggregate.activated (the gate recomputes its GELUs in backward): same values and gradients."""
    torch.manual_seed(13)
    agg = Aggregate(6, mode).double()
    a, b = (torch.randn(4, 6, dtype=torch.float64, requires_grad=True) for _ in range(2))
    act = lambda t, on: torch.nn.functional.gelu(t) if on else t  # noqa: E731
    expected = agg(act(a, gelu_a), act(b, gelu_b))
    got = agg.activated(a, b, gelu_a, gelu_b)
    assert torch.allclose(got, expected, rtol=0, atol=1e-15)
    g = torch.randn_like(got)
    for x, y in zip(torch.autograd.grad(got, (a, b), g), torch.autograd.grad(expected, (a, b), g)):
        assert torch.allclose(x, y, atol=1e-14)
    assert torch.autograd.gradcheck(lambda a, b: agg.activated(a, b, gelu_a, gelu_b), (a, b))
    with torch.no_grad():  # inference takes its own path (the gate writes into a GELU's output)
        assert torch.allclose(agg.activated(a, b, gelu_a, gelu_b), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("gelu_a,gelu_b", [(True, True), (False, True), (True, False)])
def test_activated_gate_broadcasts_and_promotes_like_a_product(gelu_a, gelu_b):
    """The gate reuses a GELU's output for the product only where that is the product's own shape
    and dtype: a broadcast or a type promotion gives what σ(a) ⊙ σ(b) gives, in value and dtype."""
    torch.manual_seed(14)
    agg = Aggregate(6, "gate")
    act = lambda t, on: torch.nn.functional.gelu(t) if on else t  # noqa: E731
    for a, b in [(torch.randn(6), torch.randn(4, 6)), (torch.randn(4, 6), torch.randn(4, 6, dtype=torch.float64))]:
        a.requires_grad_(), b.requires_grad_()
        expected = act(a, gelu_a) * act(b, gelu_b)
        with torch.no_grad():
            inferred = agg.activated(a, b, gelu_a, gelu_b)
        got = agg.activated(a, b, gelu_a, gelu_b)
        for y in (inferred, got):
            assert y.shape == expected.shape and y.dtype == expected.dtype
            assert torch.allclose(y, expected, rtol=0, atol=1e-6)
        got.sum().backward()  # an expanded (stride-0) incoming gradient
        grads = [t.grad.clone() for t in (a, b)]
        a.grad = b.grad = None
        expected.sum().backward()
        for x, t in zip(grads, (a, b)):
            assert torch.allclose(x, t.grad, atol=1e-6)
        a.grad = b.grad = None


@pytest.mark.parametrize("block", ["bidirectional", "causal"])
def test_blocks_keep_one_copy_of_each_activation_for_backward(block):
    """What a training forward of a gated block keeps, per token: the LayerNorm's input and output,
    the input projection's output (the GELUs' inputs), the SSM's input and output, the gate inputs,
    and each later projection's input; no GELU output beside its input and nothing of the FFT
    (bidirectional 5D + 3nD + 6D/k floats, causal 2D + 3nD + 3D/k; the old layout kept 2nD + 8D/k
    more for the bidirectional block, nD + 4D/k more for the causal one)."""
    from hummuss_pl.models.gdssm import BiGDSSM, UniGDSSM

    torch.manual_seed(14)
    dim, expand, reduce, tokens = 32, 3, 2, 64 * 100
    if block == "bidirectional":
        layer, per_token = BiGDSSM(dim, expand, reduce, 16), 5 * dim + 3 * expand * dim + 6 * dim // reduce
    else:
        layer, per_token = UniGDSSM(dim, expand, reduce, 16), 2 * dim + 3 * expand * dim + 3 * dim // reduce
    x = torch.randn(64, 100, dim, requires_grad=True)  # 100 frames: the FFT path
    saved = saved_bytes(lambda: layer(x)) / 4 / tokens
    assert per_token <= saved <= per_token + 16, (saved, per_token)  # + weights, kernel, LayerNorm statistics


def test_masked_joints_and_frames_give_finite_outputs_and_gradients():
    torch.manual_seed(4)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    x = torch.randn(2, 30, 17, 3)
    x[0, :, [3, 7, 16]] = 0.0  # masked joints (all channels, confidence included)
    x[1, 10:20] = 0.0  # masked frames
    x[1, :, :, 2] = 0.0  # zero confidence everywhere
    y = model(x)
    y.sum().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_single_frame_and_long_sequences_work():
    model = HumMUSS(HumMUSSConfig.tiny(causal=False)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 17, 3)).shape == (1, 1, 17, 3)
        assert model(torch.randn(1, 600, 17, 3)).shape == (1, 600, 17, 3)


@pytest.mark.parametrize("causal", [False, True])
def test_bf16_autocast_keeps_every_ssm_in_float32(causal):
    """Inside a bf16-autocast forward, every DSSM (spatial: depthwise path; temporal: FFT path)
    returns exactly its float32 result on the bf16 input it got; the model's output stays close to
    the float32 model."""
    torch.manual_seed(9)
    model = HumMUSS(HumMUSSConfig.tiny(causal)).eval()
    x = torch.randn(2, 80, 17, 3)
    mismatches: list[str] = []

    def check(module, args, out, name):
        with torch.autocast("cpu", enabled=False):
            expected = module.forward(args[0].float(), *args[1:]).to(out.dtype)  # .forward: no hook recursion
        if out.dtype != args[0].dtype or not torch.equal(out, expected):
            mismatches.append(name)

    hooks = [m.register_forward_hook(lambda m, a, o, n=n: check(m, a, o, n)) for n, m in model.named_modules() if isinstance(m, DSSM)]
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    for h in hooks:
        h.remove()
    assert not mismatches, mismatches
    assert low.dtype == torch.bfloat16 and torch.isfinite(low).all()
    assert ((low.float() - reference).norm() / reference.norm()).item() < 0.05


def test_rate_reaches_temporal_ssms_only():
    torch.manual_seed(5)
    model = HumMUSS(HumMUSSConfig.tiny(causal=False)).eval()
    seen: dict[str, list] = {}
    for name, module in model.named_modules():
        if isinstance(module, DSSM):
            module.register_forward_pre_hook(lambda m, args, name=name: seen.setdefault(name, []).append(args[1] if len(args) > 1 else 1.0))
    with torch.no_grad():
        model(torch.randn(1, 5, 17, 3), rate=2.0)
    assert seen
    for name, rates in seen.items():
        expected = 2.0 if ".temporal_" in name else 1.0
        assert rates == [expected], (name, rates)


def test_rate_changes_outputs_and_per_sample_rates_match_separate_calls():
    torch.manual_seed(6)
    model = HumMUSS(HumMUSSConfig.tiny(causal=False)).eval()
    x = torch.randn(2, 40, 17, 3)
    with torch.no_grad():
        both = model(x, torch.tensor([1.0, 3.0]))
        first, second = model(x[:1], 1.0), model(x[1:], 3.0)
    assert torch.allclose(both[:1], first, atol=1e-5) and torch.allclose(both[1:], second, atol=1e-5)
    assert not torch.allclose(first, model(x[:1], 3.0).detach(), atol=1e-3)


@pytest.mark.parametrize(
    "shape, match",
    [((2, 10, 17), "shape"), ((2, 10, 16, 3), "joints=17"), ((2, 10, 17, 2), "channels=3"), ((0, 10, 17, 3), "empty"), ((2, 0, 17, 3), "empty")],
)
def test_bad_input_shapes_raise(shape, match):
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_raise(bad):
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    x = torch.zeros(1, 4, 17, 3)
    x[0, 2, 5, 1] = bad
    with pytest.raises(ValueError, match=r"finite x of shape \(batch, frames, joints=17, channels=3\); got NaN or infinite"):
        model(x)
    state = model.init_state(1)
    with pytest.raises(ValueError, match=r"finite x of shape \(batch, joints=17, channels=3\); got NaN or infinite"):
        model.step(x[:, 2], state)


def test_bad_rates_and_states_raise():
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    x = torch.zeros(2, 4, 17, 3)
    for rate in (0.0, -1.0, float("nan"), torch.tensor([1.0, -2.0])):
        with pytest.raises(ValueError, match="rate"):
            model(x, rate)
    with pytest.raises(ValueError, match=r"shape \(batch=2,\)"):
        model(x, torch.ones(3))
    with pytest.raises(ValueError, match="joints=17"):
        model.step(torch.zeros(2, 4, 17, 3), model.init_state(2))
    with pytest.raises(ValueError, match="batch"):
        model.step(x[:, 0], model.init_state(3))
    with pytest.raises(ValueError, match="init_state"):
        model.step(x[:, 0], model.init_state(2)[:-1])


def test_step_on_bidirectional_model_raises():
    model = HumMUSS(HumMUSSConfig.tiny(causal=False))
    for call in (lambda: model.init_state(1), lambda: model.step(torch.zeros(1, 17, 3), []), lambda: model.streamer(1)):
        with pytest.raises(RuntimeError, match="causal"):
            call()


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="temporal_reduce"):
        HumMUSSConfig(dim=30, temporal_reduce=4)
    with pytest.raises(ValueError, match="expand"):
        HumMUSSConfig(dim=26, expand=2.25)
    with pytest.raises(ValueError, match="aggregation"):
        HumMUSS(replace(HumMUSSConfig.tiny(True), fusion="sum"))


def test_state_dict_round_trip_is_strict_and_exact():
    torch.manual_seed(7)
    cfg = HumMUSSConfig.tiny(causal=True)
    a, b = HumMUSS(cfg).eval(), HumMUSS(cfg).eval()
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.randn(1, 12, 17, 3)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_expand_defaults_to_the_paper_value_for_each_variant():
    assert HumMUSSConfig(causal=True).expand == 3.0 and HumMUSSConfig(causal=False).expand == 2.5
    assert HumMUSSConfig(causal=True) == HumMUSSConfig.paper(causal=True)
    assert HumMUSSConfig(causal=True, expand=2.0).expand == 2.0
