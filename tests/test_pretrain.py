"""Pretraining end to end: the quickstart config through the CLI, both curriculum phases, and
`--ckpt_path last` resuming the newest run directory exactly."""

import warnings
from pathlib import Path

import pytest
import torch
from helpers import read_predictions, run_cli

from hummuss_pl.metrics import root_relative


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
    for name in ("resumed", "straight"):
        (tmp_path / name).mkdir()
    with pytest.raises(FileNotFoundError, match="no earlier run"):
        run_cli(["fit", *QUICK, "--ckpt_path", "last"], tmp_path / "resumed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_cli(["fit", *QUICK, "--trainer.max_epochs", "1"], tmp_path / "resumed")
    assert not [w for w in caught if "exists and is not empty" in str(w.message)]  # a fresh run dir is not "reused"
    cli = run_cli(["fit", *QUICK, "--trainer.max_epochs", "2", "--ckpt_path", "last"], tmp_path / "resumed")
    runs = tmp_path / "resumed" / "checkpoints" / "quickstart"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0"]  # resumed in place, no version_1
    assert cli.trainer.current_epoch == 2 and cli.trainer.global_step == 4 and cli.datamodule.phase_index == 1
    run_cli(["fit", *QUICK, "--trainer.max_epochs", "2"], tmp_path / "straight")
    resumed = weights(runs / "version_0" / "last.ckpt")
    straight = weights(tmp_path / "straight" / "checkpoints" / "quickstart" / "version_0" / "last.ckpt")
    assert resumed.keys() == straight.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


def test_predict_writes_the_models_outputs_for_the_held_out_clips(tmp_path):
    from torch.utils.data import ConcatDataset

    from hummuss_pl.data import schema
    from hummuss_pl.tasks.pretrain import PretrainTask

    run_cli(["fit", *QUICK, "--trainer.max_epochs", "1"], tmp_path)
    ckpt = tmp_path / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"
    cli = run_cli(["predict", *QUICK, "--ckpt_path", str(ckpt)], tmp_path)
    assert cli.run_dir.name == "version_1" and not list(cli.run_dir.glob("*.ckpt"))  # predict writes no checkpoints
    out = read_predictions(cli)
    held_out = ConcatDataset(cli.datamodule._val)
    assert sorted(out["index"].tolist()) == list(range(len(held_out)))
    assert out["pose_3d"].shape == (len(held_out), 27, 17, 3) and set(out["source"]) == {"synthetic"}
    task = PretrainTask.load_from_checkpoint(ckpt).eval()
    for row in (0, len(held_out) - 1):
        item = held_out[int(out["index"][row])]
        with torch.no_grad():
            expected = root_relative(task(torch.as_tensor(item[schema.INPUT])[None]))[0]
        torch.testing.assert_close(out["pose_3d"][row], expected)
        assert float(out["scale_mm"][row]) == pytest.approx(item[schema.SCALE_MM])
