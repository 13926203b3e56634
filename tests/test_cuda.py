"""What only a GPU can show: the SSM stays float32 under CUDA autocast, a bf16-mixed training step
is finite and close to float32, streaming on the GPU equals the convolution, every recipe fits in
bf16-mixed on the GPU. Run by scripts/gpu_check.sh on a CUDA machine; without CUDA there is
nothing to run here."""

import pytest
import torch

from hummuss_pl.models import DSSM, HumMUSS, HumMUSSConfig, MotionBERT, MotionBERTConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: run scripts/gpu_check.sh on a GPU machine")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("length", [17, 243])
def test_dssm_is_float32_under_cuda_autocast(length):
    torch.manual_seed(0)
    ssm = DSSM(16, 32).to(CUDA)
    u = torch.randn(2, length, 16, device=CUDA)
    with torch.no_grad():
        expected = ssm(u)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            got = ssm(u.bfloat16())
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), ssm(u.bfloat16().float()).detach(), atol=1e-2, rtol=1e-2)
    assert expected.dtype == torch.float32


@pytest.mark.parametrize("causal", [True, False])
def test_bf16_mixed_training_step_is_finite_and_close_to_float32(causal):
    torch.manual_seed(1)
    model = HumMUSS(HumMUSSConfig.small(causal)).to(CUDA)
    x = torch.randn(4, 81, 17, 3, device=CUDA)
    target = torch.randn(4, 81, 17, 3, device=CUDA)
    fp32 = (model(x) - target).norm(dim=-1).mean()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = (model(x).float() - target).norm(dim=-1).mean()
    loss.backward()
    assert torch.isfinite(loss) and abs(loss.item() - fp32.item()) <= 0.02 * fp32.item()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    torch.optim.AdamW(model.parameters()).step()


def test_streaming_on_the_gpu_equals_the_convolution():
    torch.manual_seed(2)
    model = HumMUSS(HumMUSSConfig.small(causal=True)).to(CUDA).eval()
    x = torch.randn(3, 243, 17, 3, device=CUDA)
    with torch.no_grad():
        conv = model(x)
        streamer = model.streamer(3)
        steps = torch.stack([streamer.push(x[:, t]) for t in range(243)], 1)
    assert (steps - conv).abs().max().item() <= 1e-4


def test_motionbert_runs_on_the_gpu_under_autocast():
    model = MotionBERT(MotionBERTConfig.tiny(causal=True)).to(CUDA)
    x = torch.randn(2, 27, 17, 3, device=CUDA)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = model(x)
    assert y.shape == (2, 27, 17, 3) and torch.isfinite(y).all()


# Every recipe's Lightning fit on the GPU in bf16-mixed: two training batches and one validation
# batch of synthetic data (the CPU tests of each task run the same recipes; here the data, the
# metrics, the SMPL layer and the SSMs all live on CUDA).
def _recipe_args(recipe: str, smpl_dir) -> list[str]:
    from helpers import TINY_QUICKSTART
    from test_task_action import SYNTH
    from test_task_mesh import SMALL_JSON, cli_args
    from test_task_pose3d import QUIET, SYNTHETIC

    if recipe == "quickstart":
        return TINY_QUICKSTART
    if recipe == "pose3d_3dhp_scratch":
        return ["--config", f"experiments/finetune/{recipe}.yaml", *SYNTHETIC, *QUIET]
    if recipe == "mesh_3dpw_hybrik":
        return cli_args(recipe, "hummuss-tiny-causal", "--data.init_args.synthetic", "true", "--data.init_args.data_root", "null",
                        "--data.init_args.smpl_dir", str(smpl_dir), "--data.init_args.synthetic_mesh", SMALL_JSON)  # fmt: skip
    return ["--config", f"experiments/finetune/{recipe}.yaml", *SYNTH]


@pytest.mark.parametrize("backbone", ["hummuss-tiny-causal", "hummuss-tiny-bidirectional"])
@pytest.mark.parametrize("recipe", ["quickstart", "pose3d_3dhp_scratch", "mesh_3dpw_hybrik", "action_ntu60_xsub"])
def test_every_recipe_fits_on_the_gpu_in_bf16(recipe, backbone, smpl_dir, tmp_path):
    from helpers import run_cli

    args = [*_recipe_args(recipe, smpl_dir), "--model.init_args.backbone", backbone, "--trainer.accelerator", "gpu",
            "--trainer.devices", "1", "--trainer.precision", "bf16-mixed", "--trainer.fast_dev_run", "2"]  # fmt: skip
    cli = run_cli(["fit", *args], tmp_path)
    assert cli.trainer.state.finished and cli.trainer.strategy.root_device.type == "cuda"
    assert next(cli.model.backbone.parameters()).device.type == "cuda"
    metrics = cli.trainer.callback_metrics
    assert "train/loss" in metrics and all(torch.isfinite(v) for v in metrics.values()), metrics
