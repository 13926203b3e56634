"""W&B sweep files: render one trial's command as the agent would and validate it offline.

`wandb sweep` needs the server, so each file is checked the way its agent would run it: the
trial's arguments come from wandb's own `create_sweep_command_args`, the macros are filled in,
and the command runs with `--print_config`, which parses and type-checks the whole configuration.
"""

import subprocess
import sys

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

from helpers import EXPERIMENTS, REPO

SWEEPS = sorted((EXPERIMENTS / "sweeps").glob("*.yaml"))


def first_value(spec: dict):
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return spec["values"][0]
    return spec["min"]


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
    params = {name: {"value": first_value(spec)} for name, spec in sweep["parameters"].items()}
    trial_args = create_sweep_command_args({"args": params})["args"]

    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    command = []
    for chunk in create_sweep_command(list(sweep["command"])):  # fills ${envvar:...}
        if chunk == "${env}":
            continue  # /usr/bin/env
        command.extend({"${interpreter}": [sys.executable], "${args}": trial_args}.get(chunk, [chunk]))
    assert command[1:3] == ["-m", "hummuss_pl"] and "$" not in " ".join(command[3:])
    done = subprocess.run([*command, "--print_config"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    for name, spec in params.items():
        assert lookup(config, name) == spec["value"], name

    task = config["model"]["class_path"]
    module, cls = task.rsplit(".", 1)
    monitor = getattr(__import__(module, fromlist=[cls]), cls).monitor
    assert sweep["metric"]["name"] == monitor[0]  # the sweep optimises what the task logs and checkpoints by
    assert sweep["metric"]["goal"] == {"min": "minimize", "max": "maximize"}[monitor[1]]
