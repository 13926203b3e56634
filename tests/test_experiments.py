"""Every experiment file parses, and the paper's pretraining recipes run on data in the official
formats (tiny files written by tests/fixtures.py at their documented places)."""

import json

import pytest
import yaml
from fixtures import write_data_root
from helpers import EXPERIMENTS, run_cli

EXPERIMENT_FILES = sorted(p for p in EXPERIMENTS.rglob("*.yaml") if "experiment" in (yaml.safe_load(p.read_text()) or {}))
PRETRAIN = ["hummuss_causal", "hummuss_bidirectional", "motionbert_causal", "motionbert_bidirectional"]
TINY = {"hummuss_causal": "hummuss-tiny-causal", "hummuss_bidirectional": "hummuss-tiny-bidirectional",
        "motionbert_causal": "motionbert-tiny-causal", "motionbert_bidirectional": "motionbert-tiny"}  # fmt: skip
SMALL_DATA = ["--data.init_args.batch_size", "2", "--data.init_args.num_workers", "0"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_data_root(tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=[str(p.relative_to(EXPERIMENTS)) for p in EXPERIMENT_FILES])
def test_every_experiment_file_is_a_valid_configuration(path, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        run_cli(["fit", "--config", str(path), "--data.init_args.data_root", str(tmp_path), "--print_config"], tmp_path)
    assert done.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["experiment"] != "default", "each experiment names its run family"
    assert config["model"]["class_path"].startswith("hummuss_pl.tasks.")


@pytest.mark.parametrize("name", PRETRAIN)
def test_the_4gpu_trainer_file_layers_over_each_pretraining_recipe(name, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        run_cli(["fit", "--config", f"experiments/pretrain/{name}.yaml", "--config", "experiments/trainer/ddp_4gpu.yaml",
                 "--data.init_args.data_root", str(tmp_path), "--print_config"], tmp_path)  # fmt: skip
    assert done.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    trainer = config["trainer"]
    assert (trainer["devices"], trainer["strategy"], trainer["precision"], trainer["accelerator"]) == (4, "ddp", "bf16-mixed", "gpu")
    assert trainer["max_epochs"] == 90 and config["experiment"] == f"pretrain/{name}"  # the recipe's own settings survive


def test_makefile_has_a_target_for_every_fine_tuning_recipe():
    makefile = (EXPERIMENTS.parent / "Makefile").read_text()
    [line] = [line for line in makefile.splitlines() if line.startswith("FINETUNES :=")]
    recipes = {p.stem for p in EXPERIMENT_FILES if p.parent.name == "finetune"}
    assert set(line.split(":=")[1].split()) == recipes


@pytest.mark.parametrize("name", PRETRAIN)
def test_pretrain_recipe_runs_on_the_official_formats(name, data_root, tmp_path):
    cli = run_cli(
        ["fit", "--config", f"experiments/pretrain/{name}.yaml", "--data.init_args.data_root", str(data_root),
         "--model.init_args.backbone", TINY[name], "--trainer.fast_dev_run", "2", *SMALL_DATA],
        tmp_path,
    )  # fmt: skip
    assert cli.trainer.state.finished
    assert [s.name for s in cli.datamodule.sources] == ["amass", "mpi_inf_3dhp", "posetrack", "instavariety"]
    assert cli.datamodule.phases[1].start_epoch == 30  # the paper's curriculum


def test_all_four_pretraining_sources_train_together(data_root, tmp_path):
    everything = [{"start_epoch": 0, "sources": ["amass", "mpi_inf_3dhp", "posetrack", "instavariety"]}]
    seen = set()

    cli = run_cli(
        ["fit", "--config", "experiments/pretrain/hummuss_causal.yaml", "--data.init_args.data_root", str(data_root),
         "--model.init_args.backbone", "hummuss-tiny-causal", "--data.init_args.phases", json.dumps(everything),
         "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
         "--data.init_args.batch_size", "1", "--data.init_args.num_workers", "0"],  # the fixture has one PoseTrack track
        tmp_path,
    )  # fmt: skip
    loader = cli.datamodule.train_dataloader()
    for batch in loader:
        seen.update(zip(batch["source"], batch["noise"].tolist(), strict=True))
    # keypoint noise for every source but InstaVariety (detections already), as MotionBERT does
    assert seen == {("amass", True), ("mpi_inf_3dhp", True), ("posetrack", True), ("instavariety", False)}
    metrics = cli.trainer.callback_metrics
    assert "train/loss_2d" in metrics and "train/loss_3d" in metrics and "val/mpjpe" in metrics


@pytest.mark.slow
def test_pretrain_recipe_runs_with_the_paper_backbone(data_root, tmp_path):
    cli = run_cli(
        ["fit", "--config", "experiments/pretrain/hummuss_causal.yaml", "--data.init_args.data_root", str(data_root),
         "--trainer.fast_dev_run", "1", *SMALL_DATA],
        tmp_path,
    )  # fmt: skip
    assert cli.trainer.state.finished
    assert sum(p.numel() for p in cli.model.parameters()) == 15_611_149


def test_a_recipe_without_its_data_says_what_to_set(tmp_path, monkeypatch):
    from hummuss_pl.cli import main, user_error

    args = ["fit", "--config", str(EXPERIMENTS / "finetune" / "pose3d_3dhp.yaml")]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:  # the message, not pages of jsonargparse traceback
        main(args)
    assert str(done.value.code).startswith("hummuss: error: Pose3DDataModule needs data_root")
    monkeypatch.setenv("HUMMUSS_TRACEBACK", "1")
    with pytest.raises(ValueError, match="Does not validate"):  # everything, on request
        main(args)
    try:
        json.loads("{")  # an error raised outside this package is never shortened
    except ValueError as err:
        assert user_error(err) is None
