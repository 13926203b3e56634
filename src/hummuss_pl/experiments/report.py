"""The report: every comparison of the paper, run and written to experiments/results/REPORT.md.

    make report                      quick scale: the synthetic corpus, small models, 2 CPU cores
    make report DATA_ROOT=/data      paper scale: MPI-INF-3DHP, the paper's 16M models (GPUs)
    hummuss report RUN_DIR [...]     a report of any finished runs, e.g. those a `wandb agent`
                                     trained on a cluster: runs grouped by configuration, seeds
                                     pooled, the metric per epoch and at the end

Runs already finished are reused (delete checkpoints/report/<scale>/ to recompute). The numbers
come from the run directories (metrics-fit.json, eval-*.json), so the report needs no W&B; with
W&B online the same runs are in the W&B project, one group per experiment.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from hummuss_pl.bench.common import pyplot, save_figure

from .plan import Scale
from .runs import RESULTS, Run, Section, group_runs, load_run, markdown_table, summarise

EXPERIMENTS = ("accuracy", "frame_rate", "context", "speed", "ablations")


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, Python {platform.python_version()}"


def write_report(sections: Sequence[Section], scale: Scale | None, seconds: float, out: Path = RESULTS,
                 name: str = "REPORT.md") -> Path:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    budget = []
    if scale is not None:
        recipe = "experiments/report/quick.yaml" if scale.name == "quick" else "experiments/finetune/pose3d_3dhp_scratch.yaml"
        budget = [f"- Scale: {scale.name}; data: {scale.data}; recipe: `{recipe}`"
                  + (f" with `{' '.join(scale.extra)}`" if scale.extra else ""),
                  f"- Seeds: {', '.join(map(str, scale.seeds))} per cell (model initialisation and data order)"]  # fmt: skip
    lines = [
        "# HumMUSS vs MotionBERT: the paper's comparisons, measured",
        "",
        f"- Written {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} in {seconds / 60:.0f} min, on {machine()}",
        *budget,
        "- Every number below comes from a run of this command; mean ± std over seeds. Two results are called "
        "different only when their means are further apart than their two standard deviations together.",
        "",
    ]
    for section in sections:
        lines += section.markdown()
        stem = section.title.split(" ", 1)[1].split(" (")[0].lower().replace(" ", "_").replace("-", "_")
        (out / f"{stem}.json").write_text(json.dumps(section.data, indent=1, default=str))
    path = out / name
    path.write_text("\n".join(lines))
    return path


def make_report(scale: Scale, only: Sequence[str] = EXPERIMENTS) -> Path:
    """Runs the experiments of `only` (reusing finished runs) and writes the report."""
    from . import ablations, accuracy, context, frame_rate, speed

    start = time.monotonic()
    modules = {"accuracy": accuracy, "frame_rate": frame_rate, "context": context, "speed": speed, "ablations": ablations}
    sections = []
    for name in only:
        module = modules[name]
        print(f"[report] experiment {name}", flush=True)
        sections.append(module.section(scale, module.run(scale)))
    name = "REPORT.md" if set(only) == set(EXPERIMENTS) else f"REPORT-{'-'.join(only)}.md"  # a part never replaces the whole
    path = write_report(sections, scale, time.monotonic() - start, name=name)
    print(f"[report] written {path}")
    return path


# ------------------------------------------------------------------------------------ any runs
def runs_report(paths: Sequence[str | os.PathLike], out: Path, metric: str | None = None) -> Path:
    """A report of finished `hummuss fit` runs: grouped by configuration (seeds pooled), the metric
    at the end and per epoch (a PNG), written to `out`/REPORT.md and `out`/runs.json."""
    runs = [load_run(p) for p in sorted({Path(p) for p in _run_dirs(paths)})]
    if not runs:
        raise FileNotFoundError(f"no finished `hummuss fit` run (a folder with metrics-fit.json) under {list(map(str, paths))}")
    metric = metric or runs[0].fit.get("best", {}).get("metric") or "val/loss"
    groups = group_runs(runs)
    rows, data = [], {}
    for label, members in groups.items():
        final, best = summarise([r.final.get(metric) for r in members]), summarise([r.fit.get("best", {}).get("value") for r in members])
        rows.append([label, len(members), str(final), str(best)])
        data[label] = {"runs": [str(r.path) for r in members], "final": final.values, "best": best.values,
                       "curves": [r.curve(metric) for r in members]}  # fmt: skip
    figure = _plot_curves(groups, metric, out / "runs.png")
    section = Section(f"Runs: {metric}", "—", markdown_table(["configuration", "runs", f"{metric} at the end", "best"], rows),
                      ["hummuss report " + " ".join(map(str, paths))], [], [figure.name], data)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.json").write_text(json.dumps(data, indent=1))
    lines = ["# Report of finished runs", "", f"- {len(runs)} runs in {len(groups)} configurations; machine: {machine()}", ""]
    (out / "REPORT.md").write_text("\n".join(lines + section.markdown()))
    return out / "REPORT.md"


def _run_dirs(paths: Sequence[str | os.PathLike]):
    for p in map(Path, paths):
        if (p / "metrics-fit.json").is_file():
            yield p
        elif p.is_dir():
            yield from (m.parent for m in p.rglob("metrics-fit.json"))


def _plot_curves(groups: dict[str, list[Run]], metric: str, path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for label, members in groups.items():
        for i, run in enumerate(members):
            curve = run.curve(metric)
            ax.plot(range(1, len(curve) + 1), curve, marker=".", color=f"C{list(groups).index(label) % 10}",
                    label=label if i == 0 else None)  # fmt: skip
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch (one line per run)")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    """`hummuss report [RUN_DIRS...]`: without run directories, the experiments (`make report`)."""
    parser = argparse.ArgumentParser(prog="hummuss report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run directories (or folders holding them); none: run the experiments")
    parser.add_argument("--data-root", default=os.environ.get("DATA_ROOT") or None, help="paper scale on MPI-INF-3DHP")
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS), help="run only these experiments")
    parser.add_argument("--metric", default=None, help="with RUN_DIRS: the metric to compare (default: the tasks' monitor)")
    parser.add_argument("--out", type=Path, default=None, help="where REPORT.md goes (default: experiments/results/)")
    args = parser.parse_args(argv)
    if args.runs:
        print(runs_report(args.runs, args.out or Path("report"), args.metric))
    else:
        make_report(Scale.of(args.data_root), args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
