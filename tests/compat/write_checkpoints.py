"""Writes the checkpoint fixtures of tests/test_compat.py: one tiny checkpoint per task, saved by a real
Trainer after two training steps on synthetic data, plus `expected.pt` with a fixed input and what each
task computed from it when the checkpoint was written.

These files pin the checkpoint format: a later version of the package must still load them and give
the same outputs. Regenerate them only on purpose (a deliberate format change), never to make
tests/test_compat.py pass:

    WANDB_MODE=disabled .venv/bin/python tests/compat/write_checkpoints.py

The files in this folder were written at commit 924d508 (before the package layout was reorganised).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: helpers, smpl_fixture

from helpers import run_cli  # noqa: E402
from hummuss_pl.data.synthetic_mesh import SyntheticMeshConfig  # noqa: E402
from smpl_fixture import write_smpl_files  # noqa: E402

from hummuss_pl.data.modules import ActionDataModule, MeshDataModule, Pose3DDataModule  # noqa: E402
from hummuss_pl.data.synthetic import SyntheticConfig  # noqa: E402
from hummuss_pl.models.heads import ActionHeadConfig, MeshHeadConfig  # noqa: E402
from hummuss_pl.tasks import ActionTask, MeshTask, OptimConfig, Pose3DTask  # noqa: E402


def fit_and_save(task: L.LightningModule, data: L.LightningDataModule, path: Path) -> None:
    trainer = L.Trainer(max_steps=2, limit_val_batches=1, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                        accelerator="cpu", reload_dataloaders_every_n_epochs=1)  # fmt: skip
    trainer.fit(task, data)
    trainer.save_checkpoint(path)


def main() -> None:
    torch.manual_seed(0)
    expected: dict[str, dict] = {}
    x = torch.randn(2, 27, 17, 3)  # (B, T, J, 3)
    optim = OptimConfig(lr=1e-3)

    # through `hummuss fit`, so that it also holds what the CLI stores (the task's class path)
    with tempfile.TemporaryDirectory() as folder:
        cli = run_cli(["fit", "--config", "experiments/quickstart.yaml", "--model.init_args.backbone", "hummuss-tiny-causal",
                       "--model.init_args.reference_fps", "30", "--data.init_args.num_workers", "0",
                       "--data.init_args.batch_size", "4", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
                       "--trainer.enable_progress_bar", "false"], Path(folder))  # fmt: skip
        shutil.copy(cli.trainer.checkpoint_callback.last_model_path, HERE / "pretrain_hummuss.ckpt")
        pretrain = cli.model
    expected["pretrain_hummuss"] = {"input": x, "output": pretrain.eval()(x, 1.0).detach()}

    pose3d = Pose3DTask("motionbert-tiny-causal", optim)
    corpus = SyntheticConfig(num_clips=16, camera="perspective")
    data = Pose3DDataModule(synthetic=True, clip_len=27, batch_size=4, num_workers=0, synthetic_corpus=corpus,
                            synthetic_test_sequences=1, synthetic_test_frames=30, anchor="last")  # fmt: skip
    fit_and_save(pose3d, data, HERE / "pose3d_motionbert.ckpt")
    expected["pose3d_motionbert"] = {"input": x, "output": pose3d.eval()(x).detach()}

    action = ActionTask("hummuss-tiny-bidirectional", optim, head=ActionHeadConfig(num_classes=10, hidden=16))
    corpus = SyntheticConfig(num_clips=16, clip_len=27, fps=30.0, layout="action")
    fit_and_save(action, ActionDataModule(synthetic=True, synthetic_corpus=corpus, clip_len=27, batch_size=4, num_workers=0),
                 HERE / "action_hummuss.ckpt")  # fmt: skip
    persons = torch.stack([x, torch.zeros_like(x)], 1)  # (B, M=2, T, J, 3)
    expected["action_hummuss"] = {"input": persons, "output": action.eval()(persons).detach()}

    with tempfile.TemporaryDirectory() as folder:
        smpl_dir = write_smpl_files(Path(folder))["model"].parent
        mesh = MeshTask("hummuss-tiny-causal", optim, head=MeshHeadConfig(hidden=16), smpl_dir=str(smpl_dir))
        small = SyntheticMeshConfig(train_videos=2, test_videos=1, frames=32, train_images=8, test_images=0)
        data = MeshDataModule(synthetic=True, smpl_dir=str(smpl_dir), synthetic_mesh=small, batch_size=2,
                              image_batch_size=2, num_workers=0)  # fmt: skip
        fit_and_save(mesh, data, HERE / "mesh_hummuss.ckpt")
        params = mesh.eval()(x[:, :16])
        expected["mesh_hummuss"] = {"input": x[:, :16], "output": torch.cat([params.rotmat.flatten(-2), params.betas[..., None, :].expand(-1, -1, 24, -1)], -1).detach()}
    torch.save(expected, HERE / "expected.pt")
    for path in sorted(HERE.glob("*.ckpt")):
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
