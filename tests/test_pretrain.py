"""Pretraining end to end: the CLI on the quickstart and paper configs, the curriculum, resume."""


from helpers import run_cli


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
