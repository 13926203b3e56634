"""Experiment 3: context generalisation (paper supplementary Table 4), on the runs of experiment 1.

The models trained on short clips (27 frames at the quick scale) are tested with windows of 27, 81
and 243 frames, and 1024 for HumMUSS (MotionBERT's temporal embedding ends at maxlen = 243). The
windows are evaluated at the same frames for every length: frames [1024, 1040) of long held-out
sequences, so a window ending at them (causal) or centred on them (bidirectional) never reaches
past the sequence.

    python -m hummuss_pl.experiments.context [--data-root /data]     (make exp-context)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hummuss_pl.bench.common import pyplot, save_figure
from hummuss_pl.models import MotionBERTConfig

from . import accuracy
from .plan import BACKBONES, LABELS, Scale
from .runs import (
    RESULTS,
    Run,
    Section,
    compare,
    datamodule_of,
    markdown_table,
    summarise,
    test_metrics,
    trained_task,
    write_eval,
)

NAME = "context"
LENGTHS = (27, 81, 243, 1024)
QUICK_WINDOWS = {"synthetic_test_sequences": 2, "synthetic_test_frames": 1600, "eval_batch_size": 8,
                 "source_options": {"test_valid_frames": [1024, 1040]}}  # fmt: skip


def evaluate(run: Run, scale: Scale) -> dict:
    """test/mpjpe per window length (eval-context.json); lengths a backbone cannot take are left out."""
    if NAME in run.evals:
        return run.evals[NAME]
    task = trained_task(run)
    maxlen = task.backbone_cfg.maxlen if isinstance(task.backbone_cfg, MotionBERTConfig) else None
    extra = QUICK_WINDOWS if scale.name == "quick" else {"eval_batch_size": 8}
    results = {str(n): test_metrics(task, datamodule_of(run, clip_len=n, **extra))["test/mpjpe"]
               for n in LENGTHS if maxlen is None or n <= maxlen}  # fmt: skip
    write_eval(run.path, NAME, results)
    run.evals[NAME] = results
    return results


def run(scale: Scale) -> dict[str, list[Run]]:
    runs = accuracy.run(scale)
    for cell in BACKBONES:
        for r in runs[cell]:
            evaluate(r, scale)
    return runs


def section(scale: Scale, runs: dict[str, list[Run]]) -> Section:
    trained = runs[BACKBONES[0]][0].config["data"]["init_args"]["clip_len"]
    table_of = {c: {n: summarise([r.evals[NAME][str(n)] for r in runs[c] if str(n) in r.evals[NAME]]) for n in LENGTHS}
                for c in BACKBONES}  # fmt: skip
    rows = [[LABELS[c], *(str(table_of[c][n]) for n in LENGTHS)] for c in BACKBONES]
    table = markdown_table([f"test MPJPE (mm), trained on {trained} frames", *(f"{n} frames" for n in LENGTHS)], rows)
    figure = plot(table_of, RESULTS / f"{NAME}.png", trained)
    verdicts = []
    for c in BACKBONES:
        short, long = table_of[c][LENGTHS[0]], table_of[c][243]
        verdicts.append(f"{LABELS[c]}, {LENGTHS[0]} → 243 frames: "
                        + compare(f"{LENGTHS[0]} frames", short, "243 frames", long))  # fmt: skip
    h = table_of["hummuss_causal"]
    if h[1024].values:
        verdicts.append("HumMUSS causal at 1024 frames: " + compare(f"{LENGTHS[0]} frames", h[LENGTHS[0]], "1024 frames", h[1024])
                        + " (the paper: 25.1 / 25.8 / 26.2 mm at 27 / 81 / 243, i.e. a small growth)")  # fmt: skip
    commands = ["python -m hummuss_pl.experiments.context" + (f" --data-root {scale.data_root}" if scale.data_root else ""),
                "# per trained run of experiment 1: Trainer.test with --data.init_args.clip_len n"]  # fmt: skip
    data = {"trained_frames": trained, "lengths": LENGTHS,
            "mpjpe": {c: {n: table_of[c][n].values for n in LENGTHS} for c in BACKBONES}}  # fmt: skip
    return Section("3. Context generalisation (paper supplementary Table 4)",
                   "HumMUSS trained on 27-frame clips, tested on 27 / 81 / 243 frames: MPJPE 25.1 / 25.8 / 26.2 mm "
                   "(it runs on any length; MotionBERT's absolute temporal embedding ends at 243).",
                   table, commands, verdicts, [figure.name], data)  # fmt: skip


def plot(table_of: dict, path: Path, trained: int) -> Path:
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for cell, by_length in table_of.items():
        lengths = [n for n in LENGTHS if by_length[n].values]
        ax.errorbar(lengths, [by_length[n].mean for n in lengths], yerr=[by_length[n].std for n in lengths], marker="o",
                    capsize=3, label=LABELS[cell], linestyle="-" if "hummuss" in cell else "--")  # fmt: skip
    ax.axvline(trained, color="grey", linestyle=":", label=f"trained on {trained} frames")
    ax.set_xscale("log")
    ax.set_xticks(LENGTHS, [str(n) for n in LENGTHS])
    ax.set(xlabel="test window (frames)", ylabel="test MPJPE (mm)", title="Context generalisation (mean ± std over seeds)")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> Section:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="MPI-INF-3DHP (paper scale); default: the synthetic corpus")
    scale = Scale.of(parser.parse_args(argv).data_root)
    result = section(scale, run(scale))
    print("\n".join(result.markdown()))
    return result


if __name__ == "__main__":
    main()
