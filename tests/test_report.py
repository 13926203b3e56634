"""The report's machinery: statistics and the spread rule, grouping runs by configuration, sentences
computed from numbers, and `hummuss report` over run directories that two sweep trials (rendered
with wandb's own argument builder, as `wandb agent` starts them) wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import EXPERIMENTS, run_cli
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from hummuss_pl.experiments.report import write_report
from hummuss_pl.experiments.runs import Run, Section, Summary, compare, group_runs, summarise


def test_summary_and_the_spread_rule():
    a, b = summarise([10.0, 12.0, 14.0]), summarise([20.0, 21.0, 22.0])
    assert (a.mean, a.std) == (12.0, 2.0) and str(a) == "12.0 ± 2.0"
    assert a.differs_from(b)  # 8 apart, spreads 2 + 1
    assert not a.differs_from(summarise([14.0, 15.0, 16.0]))  # 3 apart, spreads 2 + 1
    assert summarise([1.0, float("nan"), None]).values == (1.0,)
    assert str(Summary(())) == "—"


def test_compare_says_better_only_beyond_the_spread():
    a, b, c = summarise([10.0, 11.0]), summarise([20.0, 21.0]), summarise([10.5, 11.5])
    assert compare("A", a, "B", b).startswith("A is better than B")
    assert compare("B", b, "A", a).startswith("A is better than B")
    assert compare("A", a, "B", b, unit="%", lower_is_better=False).startswith("B is better than A")
    assert "do not differ beyond the spread" in compare("A", a, "C", c)


def run(config: dict, final: float) -> Run:
    return Run(Path("/nowhere"), config, {"final": {"val/mpjpe": final}, "epochs": []})


def test_runs_are_grouped_by_what_differs_seeds_pooled():
    def cfg(backbone, seed):
        return {"seed_everything": seed, "model": {"init_args": {"backbone": backbone, "optim": {"lr": 0.1}}},
                "data": {"init_args": {"seed": seed}}, "trainer": {"logger": {"init_args": {"name": f"x/{seed}"}}}}  # fmt: skip

    runs = [run(cfg(b, s), 1.0) for b in ("hummuss-causal", "motionbert-lite-causal") for s in (0, 1, 2)]
    groups = group_runs(runs)
    assert list(groups) == ["model.init_args.backbone=hummuss-causal", "model.init_args.backbone=motionbert-lite-causal"]
    assert [len(g) for g in groups.values()] == [3, 3]


@pytest.mark.slow
def test_hummuss_report_over_two_sweep_trials(tmp_path):
    """Two trials of the quickstart sweep, with the arguments wandb's agent would pass, end in run
    directories `hummuss report` turns into a report (the same files a cluster's agents leave)."""
    sweep = yaml.safe_load((EXPERIMENTS / "sweeps" / "quickstart_backbones.yaml").read_text())
    tiny = ["--data.init_args.sources", "[{name: synthetic, clip_len: 9, options: {num_clips: 16}}]",
            "--data.init_args.phases", "null", "--data.init_args.batch_size", "8", "--data.init_args.num_workers", "0",
            "--trainer.max_epochs", "2", "--trainer.logger", "false"]  # fmt: skip
    for backbone in sweep["parameters"]["model.init_args.backbone"]["values"]:
        params = {"model.init_args.backbone": {"value": backbone}, "seed_everything": {"value": 0}}
        args = create_sweep_command_args({"args": params})["args"]
        run_cli(["fit", "--config", "experiments/quickstart.yaml", *args, *tiny], tmp_path)
    from hummuss_pl.cli import main

    with pytest.raises(SystemExit) as done:
        main(["report", str(tmp_path / "checkpoints"), "--out", str(tmp_path / "report")])
    assert done.value.code == 0
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "2 runs in 2 configurations" in text
    data = json.loads((tmp_path / "report" / "runs.json").read_text())
    assert sorted(data) == [f"model.init_args.backbone={b}" for b in sweep["parameters"]["model.init_args.backbone"]["values"]]
    assert all(len(d["curves"][0]) == 2 and len(d["final"]) == 1 for d in data.values())  # two epochs, one seed
    assert (tmp_path / "report" / "runs.png").stat().st_size > 0


def test_the_report_is_written_to_its_name_beside_one_json_per_section(tmp_path):
    """(A loop variable once shadowed the file name: `make report` wrote its report to a file named
    after the last section.)"""
    sections = [Section("1. Accuracy at equal budget", "p", ["| a |"], ["cmd"], ["v"], data={"x": 1}),
                Section("6. Ablations (paper Tables 5 and 6)", "p", ["| b |"], ["cmd"], ["v"], data={"y": 2})]  # fmt: skip
    path = write_report(sections, None, 60.0, out=tmp_path)
    assert path == tmp_path / "REPORT.md" and "## 6. Ablations" in path.read_text()
    assert json.loads((tmp_path / "accuracy_at_equal_budget.json").read_text()) == {"x": 1}
    assert json.loads((tmp_path / "ablations.json").read_text()) == {"y": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "ablations.json", "accuracy_at_equal_budget.json"]
