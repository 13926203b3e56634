"""torch.compile on the backbone (the tasks' `compile` option) and on the streaming step: same
outputs and gradients as eager on a tiny model, checkpoints unchanged. Compiling takes 10–60 s on
a CPU, hence slow."""

import pytest
import torch
from helpers import spy

import hummuss_pl.models.ssm as ssm_module
from hummuss_pl.models import DSSM, HumMUSS, HumMUSSConfig
from hummuss_pl.tasks import PretrainTask

pytestmark = pytest.mark.slow


def test_task_compile_option_gives_the_eager_outputs_gradients_and_checkpoint_keys():
    """The bidirectional model: its spatial and temporal blocks take both anti-causal paths (the
    anti-causal taps and the conjugated spectrum); the causal blocks' step is compiled
    in the streaming test below."""
    backbone = "hummuss-tiny-bidirectional"
    torch.manual_seed(0)
    eager = PretrainTask(backbone)
    compiled = PretrainTask(backbone, compile=True)
    compiled.load_state_dict(eager.state_dict())  # strict: the compiled task has the eager parameter names
    assert list(compiled.state_dict()) == list(eager.state_dict())
    assert compiled.hparams.compile is True
    x = torch.randn(2, 20, 17, 3)  # (B, F, J, 3): the depthwise (joints) and FFT (frames) paths
    grads = []
    for task in (eager, compiled):
        y = task.backbone(x)
        (y.square().mean()).backward()
        grads.append([p.grad for p in task.backbone.parameters()])
    with torch.no_grad():
        assert (compiled.backbone(x) - eager.backbone(x)).abs().max().item() <= 1e-5
    for a, b in zip(*grads):
        assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())


def test_compiled_streaming_step_equals_the_eager_step():
    torch.manual_seed(1)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True)).eval()
    x = torch.randn(2, 12, 17, 3)
    eager, compiled = model.streamer(2), model.streamer(2, compile=True)
    rates = [1.0, 1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0]
    for t, rate in enumerate(rates):
        a, b = eager.push(x[:, t], rate), compiled.push(x[:, t], rate)
        assert (a - b).abs().max().item() <= 1e-5, t


def test_compiled_training_convolves_joints_by_the_toeplitz_product_with_eager_values(monkeypatch):
    """Compiled, a short sequence's convolution is the Toeplitz product (which Inductor fuses and
    differentiates; eager training's `_JointConv` is opaque to it): same values and gradients."""
    torch.manual_seed(3)
    ssm = DSSM(6, 16, reverse=2)
    u = torch.randn(4, 17, 6, requires_grad=True)  # (N, L = 17 joints, H)
    calls = spy(monkeypatch, ssm_module, "toeplitz_conv")
    results = []
    for run in (ssm, torch.compile(ssm)):
        y = run(u)
        results.append((y.detach(), torch.autograd.grad(y.square().sum(), [u, *ssm.parameters()])))
        assert len(calls) == (run is not ssm)  # eager training: the depthwise convolution
    (y_eager, g_eager), (y_compiled, g_compiled) = results
    assert (y_compiled - y_eager).abs().max().item() <= 1e-5
    for a, b in zip(g_compiled, g_eager):
        assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())
