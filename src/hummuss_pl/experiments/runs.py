"""Runs of the report: trained through the `hummuss` CLI, read back from their run directories.

A run is one `hummuss fit` with a recipe, a backbone file and a seed; it writes, like every run,
`checkpoints/<experiment>/<version>/` with its checkpoints, `config-fit.yaml` and the metrics files
of `callbacks.MetricsFile`. Evaluations of a trained run (other frame rates, longer contexts) are
written into the same directory as `eval-<name>.json`, so a report is built from run directories
alone, offline, whoever ran them (`make report`, or `wandb agent` on a cluster).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "experiments" / "results"


@dataclass(frozen=True)
class Job:
    """One training run: `hummuss fit` with `args`, into checkpoints/<experiment>/<version>/."""

    experiment: str  # e.g. report/accuracy/hummuss_causal
    version: str  # e.g. seed0
    args: tuple[str, ...]
    group: str  # the W&B group: one per experiment of the report

    @property
    def run_dir(self) -> Path:
        return REPO / "checkpoints" / self.experiment / self.version

    def command(self) -> list[str]:
        return ["hummuss", "fit", *self.args, "--experiment", self.experiment, "--version", self.version,
                "--trainer.logger.init_args.group", self.group]  # fmt: skip


def seed_args(seed: int) -> tuple[str, ...]:
    """A seed for the model's initialisation and the data order alike."""
    return ("--seed_everything", str(seed), "--data.init_args.seed", str(seed))


def _done(job: Job) -> bool:
    """A finished fit (its last checkpoint and metrics written): `make report` reuses it."""
    return (job.run_dir / "metrics-fit.json").is_file() and (job.run_dir / "last.ckpt").is_file()


def train_all(jobs: Sequence[Job], processes: int | None = None) -> list[Path]:
    """Runs every unfinished job as its own `python -m hummuss_pl fit` process, `processes` at a time
    (default: one per CPU core, each with one thread: small models use a core better that way), each
    logging to `<run_dir>.log`. Raises naming the log of a run that failed."""
    processes = processes or int(os.environ.get("HUMMUSS_REPORT_PROCESSES", 0)) or os.cpu_count() or 1
    pending = [job for job in jobs if not _done(job)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    running: list[tuple[Job, subprocess.Popen, Path]] = []
    while pending or running:
        while pending and len(running) < processes:
            job = pending.pop(0)
            log = job.run_dir.with_suffix(".log")
            log.parent.mkdir(parents=True, exist_ok=True)
            print(f"[report] {' '.join(job.command())}  (log: {log.relative_to(REPO)})", flush=True)
            with open(log, "w") as out:
                proc = subprocess.Popen([sys.executable, "-m", "hummuss_pl", *job.command()[1:]], cwd=REPO, env=env,
                                        stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
            running.append((job, proc, log))
        time.sleep(1.0)
        for item in list(running):
            job, proc, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            if proc.returncode != 0 or not _done(job):
                for _, other, _ in running:
                    other.terminate()
                raise RuntimeError(f"the run {job.run_dir} failed (exit {proc.returncode}); see {log}")
    return [job.run_dir for job in jobs]


# ------------------------------------------------------------------------------------ reading runs
@dataclass
class Run:
    """What one run directory holds: its resolved config, its fit metrics and its evaluations."""

    path: Path
    config: dict[str, Any]
    fit: dict[str, Any]
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, float]:
        return self.fit.get("final", {})

    def curve(self, metric: str) -> list[float]:
        return [row[metric] for row in self.fit.get("epochs", []) if metric in row]


def load_run(path: str | os.PathLike) -> Run:
    """A run directory written by `hummuss fit` (config-fit.yaml, metrics-fit.json, eval-*.json)."""
    path = Path(path)
    for name in ("config-fit.yaml", "metrics-fit.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path} is not a finished `hummuss fit` run: it has no {name}")
    config = yaml.safe_load((path / "config-fit.yaml").read_text())
    fit = json.loads((path / "metrics-fit.json").read_text())
    evals = {p.stem[len("eval-") :]: json.loads(p.read_text()) for p in sorted(path.glob("eval-*.json"))}
    return Run(path, config, fit, evals)


def write_eval(run_dir: Path, name: str, results: dict[str, Any]) -> None:
    (run_dir / f"eval-{name}.json").write_text(json.dumps(results, indent=1))


def trained_task(run: Run):
    """The run's task at the end of its budget (last.ckpt: the test windows are also the validation
    windows here, so choosing the best epoch would choose on the test set), in eval mode on the CPU."""
    from jsonargparse.typing import import_object
    from lightning.pytorch.cli import LightningCLI  # noqa: F401  (registers the dataclass types jsonargparse needs)

    task_cls = import_object(run.config["model"]["class_path"])
    return task_cls.load_from_checkpoint(run.path / "last.ckpt", map_location="cpu").eval()


def datamodule_of(run: Run, **overrides: Any):
    """The run's data module, built from its resolved config with `overrides` of its init_args."""
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule

    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, "data")
    data = run.config["data"]
    parsed = parser.parse_object({"data": {"class_path": data["class_path"], "init_args": {**data["init_args"], **overrides}}})
    return parser.instantiate_classes(parsed).data


def test_metrics(task, datamodule) -> dict[str, float]:
    """`Trainer.test` of `task` on `datamodule` (one process, the CPU, nothing written)."""
    import lightning as L

    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False)  # fmt: skip
    [metrics] = trainer.test(task, datamodule=datamodule, verbose=False)
    return {k: float(v) for k, v in metrics.items()}


# ------------------------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class Summary:
    """mean ± std (sample std; 0 for one value) over seeds, and the values themselves."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.std:.1f}" if self.values else "—"

    def differs_from(self, other: Summary) -> bool:
        """A difference only when the means are further apart than the two spreads together."""
        return abs(self.mean - other.mean) > self.std + other.std


def summarise(values: Sequence[float]) -> Summary:
    return Summary(tuple(float(v) for v in values if v is not None and math.isfinite(v)))


# ------------------------------------------------------------------------------------ grouping
SEED_KEYS = ("seed_everything", "data.init_args.seed", "version")


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as {"a.b.0.c": value} (so a run-specific path deep in a list is one key)."""
    if isinstance(config, (dict, list)):
        items = config.items() if isinstance(config, dict) else enumerate(config)
        out: dict[str, Any] = {}
        for key, value in items:
            out |= _flatten(value, f"{prefix}{key}.")
        return out
    return {prefix[:-1]: config}


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by their configuration, seeds aside; each group named by the settings that tell
    it from the others (e.g. `model.init_args.backbone=hummuss-causal`)."""
    flat = [_flatten(r.config) for r in runs]
    ignored = {k for k in set().union(*flat) if k.startswith(SEED_KEYS) or ".logger." in k or "dirpath" in k
               or k.endswith(("default_root_dir", ".save_dir", ".name", ".group", ".path", "output_dir"))}  # fmt: skip
    keys = sorted({k for f in flat for k in f if k not in ignored and len({json.dumps(g.get(k), default=str) for g in flat}) > 1})
    groups: dict[str, list[Run]] = {}
    for run, f in zip(runs, flat, strict=True):
        label = ", ".join(f"{k}={f.get(k)}" for k in keys) or "all runs"
        groups.setdefault(label, []).append(run)
    return groups


# ------------------------------------------------------------------------------------ report pieces
@dataclass
class Section:
    """One experiment in the report: what the paper says, what we measured, how, and whether the
    paper's effect shows (each sentence computed from the numbers, never typed in)."""

    title: str
    paper: str
    table: list[str]  # markdown lines
    commands: list[str]
    verdicts: list[str]
    figures: list[str] = field(default_factory=list)  # PNG file names under experiments/results/
    data: dict[str, Any] = field(default_factory=dict)  # written to <name>.json beside the report

    def markdown(self) -> list[str]:
        lines = [f"## {self.title}", "", f"**Paper:** {self.paper}", "", *self.table, ""]
        lines += [f"![{name}]({name})" for name in self.figures] + ([""] if self.figures else [])
        lines += [f"- {v}" for v in self.verdicts] + [""]
        lines += ["Produced by:", "", "```bash", *self.commands, "```", ""]
        return lines


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def compare(name_a: str, a: Summary, name_b: str, b: Summary, unit: str = "mm", lower_is_better: bool = True) -> str:
    """One sentence: which is better, or that the seeds' spread covers the difference."""
    if not a.values or not b.values:
        return f"{name_a} vs {name_b}: not measured"
    if not a.differs_from(b):
        return (f"{name_a} ({a} {unit}) and {name_b} ({b} {unit}) do not differ beyond the spread across seeds")
    better, worse = (name_a, name_b) if (a.mean < b.mean) == lower_is_better else (name_b, name_a)
    return f"{better} is better than {worse} ({name_a} {a} {unit}, {name_b} {b} {unit}; the gap exceeds the seeds' spread)"
