"""Checkpoints written by an earlier version of the package still load and compute what they did.

tests/compat/ holds one tiny checkpoint per task and `expected.pt` (a fixed input and each task's
output when the checkpoint was written), all written by tests/compat/write_checkpoints.py at the
commit named there. A change that moves or renames a class stored in checkpoints (configs, tasks)
must keep these loading: through `load_from_checkpoint` (torch's weights_only unpickler, Lightning's
default), as `pretrained` weights, and as a `--ckpt_path` to resume from.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from helpers import run_cli

from hummuss_pl.tasks import ActionTask, MeshTask, Pose3DTask, PretrainTask

COMPAT = Path(__file__).parent / "compat"
TASKS = {"pretrain_hummuss": PretrainTask, "pose3d_motionbert": Pose3DTask, "action_hummuss": ActionTask, "mesh_hummuss": MeshTask}


@pytest.fixture(scope="module")
def expected() -> dict:
    return torch.load(COMPAT / "expected.pt", weights_only=True)


def outputs(name: str, task, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        if name != "mesh_hummuss":
            return task(x)
        params = task(x)
        return torch.cat([params.rotmat.flatten(-2), params.betas[..., None, :].expand(-1, -1, 24, -1)], -1)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_old_checkpoint_loads_and_computes_the_same(name, expected, smpl_dir):
    extra = {"smpl_dir": str(smpl_dir)} if name == "mesh_hummuss" else {}  # the SMPL folder it was written with is gone
    task = TASKS[name].load_from_checkpoint(COMPAT / f"{name}.ckpt", map_location="cpu", **extra).eval()
    torch.testing.assert_close(outputs(name, task, expected[name]["input"]), expected[name]["output"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_old_checkpoint_gives_pretrained_weights(name, expected):
    saved = torch.load(COMPAT / f"{name}.ckpt", weights_only=True)
    task = PretrainTask(saved["hyper_parameters"]["backbone"], pretrained=str(COMPAT / f"{name}.ckpt"))
    task.load_pretrained()
    weights = {k[len("backbone."):]: v for k, v in saved["state_dict"].items() if k.startswith("backbone.")}
    for key, value in task.backbone.state_dict().items():
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0)


@pytest.mark.slow
def test_old_checkpoint_resumes_through_the_cli(tmp_path):
    """`hummuss fit --ckpt_path <old pretraining checkpoint>` continues from its step with its weights."""
    ckpt = tmp_path / "old.ckpt"
    shutil.copy(COMPAT / "pretrain_hummuss.ckpt", ckpt)
    args = ["fit", "--config", "experiments/quickstart.yaml", "--model.init_args.backbone", "hummuss-tiny-causal",
            "--model.init_args.reference_fps", "30", "--data.init_args.num_workers", "0",
            "--data.init_args.batch_size", "4", "--trainer.max_steps", "4", "--trainer.limit_val_batches", "1",
            "--trainer.enable_progress_bar", "false", "--ckpt_path", str(ckpt)]  # fmt: skip
    cli = run_cli(args, tmp_path)
    assert cli.trainer.global_step == 4  # two steps in the old checkpoint, two more here
    resumed = torch.load(cli.trainer.checkpoint_callback.last_model_path, weights_only=True)
    assert resumed["hyper_parameters"]["backbone"] == torch.load(ckpt, weights_only=True)["hyper_parameters"]["backbone"]
