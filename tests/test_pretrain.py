"""Pretraining end to end: the quickstart config through the CLI, both curriculum phases, and
`--ckpt_path last` resuming the newest run directory exactly."""

import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import read_predictions, run_cli

from hummuss_pl.batch import INPUT, SCALE_MM
from hummuss_pl.data.modules import PretrainDataModule, SourceConfig
from hummuss_pl.metrics import root_relative
from hummuss_pl.models import backbone_as_dict
from hummuss_pl.tasks.base import OptimConfig
from hummuss_pl.tasks.pretrain import PretrainTask


def test_quickstart_config_runs_both_curriculum_phases(tmp_path):
    cli = run_cli(
        ["fit", "--config", "experiments/quickstart.yaml", "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2",
         "--trainer.limit_val_batches", "1", "--data.init_args.phases", '[{"start_epoch": 0, "sources": ["synthetic_3d"]}, {"start_epoch": 1, "sources": ["synthetic_2d"]}]',
         "--data.init_args.num_workers", "0", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]"],
        tmp_path,
    )
    metrics = cli.trainer.callback_metrics
    assert "train/loss_2d" in metrics and "val/mpjpe" in metrics  # phase 2 (2D-only here) trained L_2D
    assert cli.datamodule.phase_index == 1
    run = tmp_path / "checkpoints" / "quickstart" / "version_0"
    assert (run / "last.ckpt").is_file() and (run / "config-fit.yaml").is_file()
    assert any(p.name.startswith("best-") for p in run.iterdir())


QUICK = ["--config", "experiments/quickstart.yaml", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--data.init_args.num_workers", "0", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]", "--trainer.logger", "false",
         "--data.init_args.phases", '[{"start_epoch": 0, "sources": ["synthetic_3d"]}, {"start_epoch": 1, "sources": ["synthetic_3d", "synthetic_2d"]}]']  # fmt: skip


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_ckpt_path_last_resumes_the_newest_run_exactly(tmp_path):
    # The resumed epoch (2) is in the phase the first run reached (from epoch 1): resuming right at a phase
    # switch would build a fresh loader and hide a loader that replays an earlier epoch's order.
    quick = [*QUICK, "--model.init_args.backbone", "hummuss-tiny-causal", "--data.init_args.batch_size", "8"]
    for name in ("resumed", "straight"):
        (tmp_path / name).mkdir()
    with pytest.raises(FileNotFoundError, match="no earlier run"):
        run_cli(["fit", *quick, "--ckpt_path", "last"], tmp_path / "resumed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_cli(["fit", *quick, "--trainer.max_epochs", "2"], tmp_path / "resumed")
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]  # a fresh run dir is not "reused"
    runs = tmp_path / "resumed" / "checkpoints" / "quickstart"
    (runs / "version_1").mkdir()  # newer, but without a last.ckpt (as a second DDP rank used to leave one)
    cli = run_cli(["fit", *quick, "--trainer.max_epochs", "3", "--ckpt_path", "last"], tmp_path / "resumed")
    assert cli.run_dir == Path("checkpoints/quickstart/version_0")  # resumed in place
    assert sorted(p.name for p in runs.iterdir()) == ["version_0", "version_1"]
    assert cli.trainer.current_epoch == 3 and cli.trainer.global_step == 6 and cli.datamodule.phase_index == 1
    run_cli(["fit", *quick, "--trainer.max_epochs", "3"], tmp_path / "straight")
    resumed = weights(runs / "version_0" / "last.ckpt")
    straight = weights(tmp_path / "straight" / "checkpoints" / "quickstart" / "version_0" / "last.ckpt")
    assert resumed.keys() == straight.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


def test_predict_writes_the_models_outputs_for_the_held_out_clips(tmp_path):
    from torch.utils.data import ConcatDataset


    run_cli(["fit", *QUICK, "--trainer.max_epochs", "1"], tmp_path)
    ckpt = tmp_path / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"
    cli = run_cli(["predict", *QUICK, "--ckpt_path", "last"], tmp_path)  # version_0's last.ckpt, in a new run directory
    assert cli.run_dir.name == "version_1" and not list(cli.run_dir.glob("*.ckpt"))  # predict writes no checkpoints
    out = read_predictions(cli)
    held_out = ConcatDataset(cli.datamodule._val)
    assert sorted(out["index"].tolist()) == list(range(len(held_out)))
    assert out["pose_3d"].shape == (len(held_out), 27, 17, 3) and set(out["source"]) == {"synthetic"}
    task = PretrainTask.load_from_checkpoint(ckpt).eval()
    for row in (0, len(held_out) - 1):
        item = held_out[int(out["index"][row])]
        with torch.no_grad():
            expected = root_relative(task(torch.as_tensor(item[INPUT])[None]))[0]
        torch.testing.assert_close(out["pose_3d"][row], expected)
        assert float(out["scale_mm"][row]) == pytest.approx(item[SCALE_MM])


# ------------------------------------------------------------------------------------ pretrained vs checkpoint
TINY = "hummuss-tiny-causal"


def tiny_trainer(**kwargs) -> L.Trainer:
    return L.Trainer(limit_val_batches=0, logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False,
                     enable_model_summary=False, **kwargs)  # fmt: skip


def tiny_data() -> PretrainDataModule:
    return PretrainDataModule(sources=[SourceConfig("synthetic", clip_len=9, options={"num_clips": 8})], batch_size=4, num_workers=0)


def write_pretrained(path: Path, seed: int) -> dict[str, torch.Tensor]:
    """A pretrained file (backbone.* weights of a freshly initialised tiny backbone); returns them."""
    torch.manual_seed(seed)
    task = PretrainTask(TINY)
    torch.save({"state_dict": task.state_dict(), "hyper_parameters": {"backbone": backbone_as_dict(task.backbone_cfg)}}, path)
    return {k: v.clone() for k, v in task.backbone.state_dict().items()}


def assert_backbone(task: PretrainTask, expected: dict[str, torch.Tensor]) -> None:
    for key, value in task.backbone.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=key)


def test_fitting_a_loaded_checkpoint_keeps_its_backbone_not_the_pretrained_file(tmp_path):
    pretrained = write_pretrained(tmp_path / "pretrained.ckpt", seed=1)
    frozen = OptimConfig(lr=0.0)  # lr 0: the weights after fit are the ones fit started from
    task = PretrainTask(TINY, optim=frozen, pretrained=str(tmp_path / "pretrained.ckpt"))
    tiny_trainer(max_steps=1).fit(task, tiny_data())
    assert_backbone(task, pretrained)  # a fresh task starts from the pretrained file

    trainer = tiny_trainer(max_steps=2)
    trainer.fit(PretrainTask(TINY, optim=OptimConfig(lr=1e-2), pretrained=str(tmp_path / "pretrained.ckpt")), tiny_data())
    trainer.save_checkpoint(tmp_path / "trained.ckpt")
    trained = weights(tmp_path / "trained.ckpt")
    trained = {k[len("backbone.") :]: v for k, v in trained.items() if k.startswith("backbone.")}
    assert not torch.equal(trained["lift.weight"], pretrained["lift.weight"])

    loaded = PretrainTask.load_from_checkpoint(tmp_path / "trained.ckpt", optim=frozen)
    assert loaded.pretrained == str(tmp_path / "pretrained.ckpt")  # still in its hyper-parameters, and the file exists
    tiny_trainer(max_steps=1).fit(loaded, tiny_data())
    assert_backbone(loaded, trained)


def test_resuming_a_fine_tune_needs_no_pretrained_file(tmp_path):
    pretrained = tmp_path / "pretrained.ckpt"
    write_pretrained(pretrained, seed=1)
    # through the Trainer: fit(ckpt_path=...) restores the weights, so the pretrained file is not read
    trainer = tiny_trainer(max_epochs=1, limit_train_batches=1)
    trainer.fit(PretrainTask(TINY, pretrained=str(pretrained)), tiny_data())
    trainer.save_checkpoint(tmp_path / "epoch1.ckpt")
    args = ["fit", *QUICK, "--model.init_args.backbone", TINY, "--model.init_args.pretrained", str(pretrained)]
    run_cli([*args, "--trainer.max_epochs", "1"], tmp_path)
    pretrained.unlink()

    trainer = tiny_trainer(max_epochs=2, limit_train_batches=1)
    trainer.fit(PretrainTask(TINY, pretrained=str(pretrained)), tiny_data(), ckpt_path=tmp_path / "epoch1.ckpt")
    assert trainer.current_epoch == 2
    # and through the CLI
    cli = run_cli([*args, "--trainer.max_epochs", "2", "--ckpt_path", "last"], tmp_path)
    assert cli.trainer.current_epoch == 2 and cli.run_dir.name == "version_0"
