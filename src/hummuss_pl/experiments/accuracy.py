"""Experiment 1: accuracy at equal budget (paper Table 1, 3D pose from scratch).

Causal and bidirectional HumMUSS against causal and bidirectional MotionBERT of equal size, same
data, epochs and seeds; the floor is a per-frame MLP of the same size (no temporal context) and the
mean training pose (no model). Reported: validation MPJPE per epoch (convergence) and at the end of
the budget, mean ± std over seeds.

    python -m hummuss_pl.experiments.accuracy [--data-root /data]     (make exp-accuracy)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hummuss_pl.batch import SCALE_MM, TARGET_3D, TARGET_INDEX
from hummuss_pl.bench.common import pyplot, save_figure

from .plan import BACKBONES, FLOOR, LABELS, Scale
from .runs import (
    RESULTS,
    Run,
    Section,
    compare,
    datamodule_of,
    load_run,
    markdown_table,
    summarise,
    train_all,
    write_eval,
)

NAME = "accuracy"
METRIC = "val/mpjpe"
PAPER = {  # MPI-INF-3DHP MPJPE (mm), 243 frames, from scratch (SPEC §8)
    "hummuss_causal": 24.6, "hummuss_bidirectional": 18.7, "motionbert_causal": 25.4, "motionbert_bidirectional": 18.2,
}  # fmt: skip


def cells(scale: Scale) -> dict[str, tuple[str, ...]]:
    return {cell: scale.backbone_args(cell) for cell in (*BACKBONES, FLOOR)}


def run(scale: Scale) -> dict[str, list[Run]]:
    """Trains every cell (runs already finished are reused) and the mean-pose floor; the runs by cell."""
    jobs = scale.jobs(NAME, cells(scale))
    train_all(jobs)
    runs: dict[str, list[Run]] = {}
    for job in jobs:
        runs.setdefault(job.experiment.rsplit("/", 1)[-1], []).append(load_run(job.run_dir))
    for floor_run in runs[FLOOR]:
        if "mean_pose" not in floor_run.evals:
            floor_run.evals["mean_pose"] = {"test/mpjpe": mean_pose_mpjpe(floor_run)}
            write_eval(floor_run.path, "mean_pose", floor_run.evals["mean_pose"])
    return runs


def mean_pose_mpjpe(run: Run) -> float:
    """MPJPE (mm, 17 joints) of predicting the mean root-relative training pose for every test window."""
    dm = datamodule_of(run)
    dm.setup("fit")
    train = [dm.train_set[i] for i in range(len(dm.train_set))]
    poses = np.concatenate([(s[TARGET_3D] - s[TARGET_3D][:, :1]) * s[SCALE_MM] for s in train])  # (N·T, 17, 3) mm
    mean = poses.mean(0)  # (17, 3)
    errors = []
    for w in (dm.test_windows[i] for i in range(len(dm.test_windows))):
        target = w[TARGET_3D][w[TARGET_INDEX]]
        errors.append(np.linalg.norm((target - target[:1]) * w[SCALE_MM] - mean, axis=-1).mean())
    return float(np.mean(errors))


def section(scale: Scale, runs: dict[str, list[Run]]) -> Section:
    final = {cell: summarise([r.final.get(METRIC) for r in rs]) for cell, rs in runs.items()}
    mean_pose = summarise([r.evals["mean_pose"]["test/mpjpe"] for r in runs[FLOOR]])
    rows = [[LABELS[c], f"{PAPER[c]:.1f}" if c in PAPER else "—", str(final[c]), len(runs[c])] for c in (*BACKBONES, FLOOR)]
    rows.append(["mean training pose (floor)", "—", str(mean_pose), len(runs[FLOOR])])
    table = markdown_table(["backbone", "paper (3DHP, mm)", f"ours: {METRIC} at the end (mm)", "seeds"], rows)
    figure = plot_convergence(runs, mean_pose.mean, RESULTS / f"{NAME}.png")
    verdicts = [
        compare(LABELS["hummuss_causal"], final["hummuss_causal"], LABELS["motionbert_causal"], final["motionbert_causal"])
        + effect(final["hummuss_causal"], final["motionbert_causal"], PAPER["hummuss_causal"], PAPER["motionbert_causal"]),
        compare(LABELS["hummuss_bidirectional"], final["hummuss_bidirectional"], LABELS["motionbert_bidirectional"],
                final["motionbert_bidirectional"])  # fmt: skip
        + effect(final["hummuss_bidirectional"], final["motionbert_bidirectional"], PAPER["hummuss_bidirectional"],
                 PAPER["motionbert_bidirectional"]),  # fmt: skip
        floor_sentence(final, mean_pose),
    ]
    commands = [" ".join(job.command()) for job in scale.jobs(NAME, cells(scale))[:: len(scale.seeds)]]
    data = {c: {"values": s.values, "mean": s.mean, "std": s.std, "curves": [r.curve(METRIC) for r in runs[c]]} for c, s in final.items()}
    data["mean_pose"] = {"values": mean_pose.values, "mean": mean_pose.mean, "std": mean_pose.std}
    return Section("1. Accuracy at equal budget (paper Table 1)",
                   "MPI-INF-3DHP from scratch, MPJPE: causal HumMUSS 24.6 vs causal MotionBERT 25.4 mm; bidirectional "
                   "18.7 vs 18.2 mm (HumMUSS better causally, MotionBERT slightly better bidirectionally).",
                   table, commands + ["# one line per backbone; each repeated with --seed_everything / --data.init_args.seed 0, 1, 2"],
                   verdicts, [figure.name], data)  # fmt: skip


def effect(ours_a, ours_b, paper_a: float, paper_b: float) -> str:
    """Whether our difference has the paper's sign beyond the spread: reproduced, contradicted, or not shown."""
    if not ours_a.values or not ours_b.values:
        return ""
    if not ours_a.differs_from(ours_b):
        return f"; the paper's {abs(paper_a - paper_b):.1f} mm difference is not shown at this scale"
    same_sign = (ours_a.mean < ours_b.mean) == (paper_a < paper_b)
    return "; the paper's ordering is reproduced" if same_sign else "; this is the opposite of the paper's ordering"


def floor_sentence(final: dict, mean_pose) -> str:
    floor = final[FLOOR]
    beat = [LABELS[c] for c in BACKBONES if final[c].values and floor.values and final[c].differs_from(floor) and final[c].mean < floor.mean]
    learned = [LABELS[c] for c in (*BACKBONES, FLOOR) if final[c].values and mean_pose.values and final[c].mean < mean_pose.mean - mean_pose.std - final[c].std]  # fmt: skip
    return (f"Every model that learns beats the mean pose ({mean_pose} mm): {', '.join(learned) or 'none'}; "
            f"beyond the per-frame floor ({floor} mm), i.e. gaining from temporal context: {', '.join(beat) or 'none'}")  # fmt: skip


def plot_convergence(runs: dict[str, list[Run]], floor: float, path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for cell, rs in runs.items():
        curves = [r.curve(METRIC) for r in rs]
        n = min(len(c) for c in curves)
        stack = np.array([c[:n] for c in curves])  # (seeds, epochs)
        epochs = np.arange(1, n + 1)
        line = ax.plot(epochs, stack.mean(0), marker="o", label=LABELS[cell], linestyle="--" if cell == FLOOR else "-")[0]
        ax.fill_between(epochs, stack.min(0), stack.max(0), color=line.get_color(), alpha=0.15)
    ax.axhline(floor, color="grey", linestyle=":", label="mean training pose")
    ax.set(xlabel="epoch", ylabel="validation MPJPE (mm)", title="Convergence (mean over seeds, band: min–max)")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> Section:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="MPI-INF-3DHP (paper scale); default: the synthetic corpus")
    args = parser.parse_args(argv)
    scale = Scale.of(args.data_root)
    result = section(scale, run(scale))
    print("\n".join(result.markdown()))
    return result


if __name__ == "__main__":
    main()
