"""W&B sweep files: render trials' commands as the agent would and validate them offline.

`wandb sweep` needs the server, so each file is checked the way its agent would run it: the
trial's arguments come from wandb's own `create_sweep_command_args`, the macros are filled in,
and the command runs with `--print_config`, which parses and type-checks the whole configuration:
the first trial as a subprocess exactly as the agent starts it, then every trial of the grid
in-process (the same parser, without a Python start-up per trial).
"""

import itertools
import subprocess
import sys

import pytest
import yaml
from helpers import EXPERIMENTS, REPO, run_cli
from wandb.sdk.launch.sweeps.utils import (
    create_sweep_command,
    create_sweep_command_args,
)

SWEEPS = sorted((EXPERIMENTS / "sweeps").glob("*.yaml"))


def first_value(spec: dict):
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return spec["values"][0]
    return spec["min"]


def grid(sweep: dict) -> list[dict]:
    """Every trial's parameters {name: {"value": v}}: the whole grid (random/bayes sweeps: each
    listed value of each parameter at least once, the others at their first value)."""
    specs = sweep["parameters"]
    choices = {name: spec.get("values", [first_value(spec)]) for name, spec in specs.items()}
    if sweep["method"] == "grid":
        combos = [dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())]
    else:
        base = {name: first_value(spec) for name, spec in specs.items()}
        combos = [{**base, name: v} for name, values in choices.items() for v in values]
    return [{name: {"value": v} for name, v in combo.items()} for combo in combos]


def trial_command(sweep: dict, params: dict) -> list[str]:
    """The trial's command line as the agent builds it, macros filled in (${env} dropped)."""
    trial_args = create_sweep_command_args({"args": params})["args"]
    command = []
    for chunk in create_sweep_command(list(sweep["command"])):  # fills ${envvar:...}
        if chunk == "${env}":
            continue  # /usr/bin/env
        command.extend({"${interpreter}": [sys.executable], "${args}": trial_args}.get(chunk, [chunk]))
    assert command[1:3] == ["-m", "hummuss_pl"] and "$" not in " ".join(command[3:])
    return command


def assert_trial_values(config: dict, params: dict) -> None:
    for name, spec in params.items():
        assert lookup(config, name) == spec["value"], name


def lookup(config: dict, dotted: str):
    """Value at a sweep parameter's key in a printed config (dataclasses print without init_args)."""
    node = config
    for part in dotted.split("."):
        if part == "init_args" and part not in node:
            continue
        node = node[part]
    return node


def test_there_are_sweeps_for_the_comparison_and_both_ablations():
    names = {p.stem for p in SWEEPS}
    assert {"pose3d_hummuss_vs_motionbert", "ablation_block_aggregation", "ablation_fusion"} <= names


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_a_trial_of_each_sweep_is_a_valid_hummuss_command(path, tmp_path, monkeypatch):
    sweep = yaml.safe_load(path.read_text())
    assert sweep["method"] in ("grid", "random", "bayes")
    assert "${args}" in sweep["command"], "the trial's parameters reach the program only through ${args}"
    params = grid(sweep)[0]
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    command = trial_command(sweep, params)
    done = subprocess.run([*command, "--print_config"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert_trial_values(config, params)

    task = config["model"]["class_path"]
    module, cls = task.rsplit(".", 1)
    monitor = getattr(__import__(module, fromlist=[cls]), cls).monitor
    assert sweep["metric"]["name"] == monitor[0]  # the sweep optimises what the task logs and checkpoints by
    assert sweep["metric"]["goal"] == {"min": "minimize", "max": "maximize"}[monitor[1]]


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_trial_of_each_sweep_parses(path, tmp_path, monkeypatch, capsys):
    sweep = yaml.safe_load(path.read_text())
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    trials = grid(sweep)
    assert len(trials) == len({str(t) for t in trials}) > 1
    for params in trials:
        with pytest.raises(SystemExit) as done:
            run_cli([*trial_command(sweep, params)[3:], "--print_config"], tmp_path)
        assert done.value.code == 0, params
        assert_trial_values(yaml.safe_load(capsys.readouterr().out), params)
