"""Experiment 2: frame-rate robustness (paper Fig. 5), on the runs of experiment 1.

Models trained at the base frame rate are tested on the same test frames with the sequences
sub-sampled by k = 1, 2, 3, 4, 6, 8 (windows of every k-th frame): HumMUSS runs at rate k, MotionBERT
as it is (it has no frame-rate parameter: the paper's comparison). Then the causal models stream the
held-out sequences with random frame drops: HumMUSS with a per-step rate from the timestamps, and
for contrast with rate 1 (the gaps ignored); MotionBERT through its window streamer.

    python -m hummuss_pl.experiments.frame_rate [--data-root /data]     (make exp-frame-rate)
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hummuss_pl.bench.common import pyplot, save_figure
from hummuss_pl.models import supports_rate

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

NAME = "frame_rate"
FACTORS = (1, 2, 3, 4, 6, 8)
DROP = 0.3  # share of frames dropped at random in the streaming test
# quick scale: windows at frames [216, 248) of two 400-frame held-out sequences, so that a 27-frame
# window of every 8th frame lies inside the sequence whether it ends at or is centred on the frame
QUICK_WINDOWS = {"synthetic_test_sequences": 2, "synthetic_test_frames": 400, "source_options": {"test_valid_frames": [216, 248]}}
STREAMED_FRAMES = 280  # quick scale: the first frames of each held-out sequence are streamed


def evaluate(run: Run, scale: Scale) -> dict:
    """test/mpjpe per sub-sampling factor (eval-frame_rate.json in the run directory)."""
    if NAME in run.evals:
        return run.evals[NAME]
    task = trained_task(run)
    extra = QUICK_WINDOWS if scale.name == "quick" else {}
    results = {str(k): test_metrics(task, datamodule_of(run, frame_step=k, **extra))["test/mpjpe"] for k in FACTORS}
    write_eval(run.path, NAME, results)
    run.evals[NAME] = results
    return results


@torch.no_grad()  # not inference_mode: the SSMs' kernel caches track parameter versions
def stream_with_drops(run: Run, scale: Scale, seed: int = 0) -> dict:
    """MPJPE (mm) of a causal model streaming the held-out sequences frame by frame, with DROP of the
    frames missing at random (eval-frame_drops.json): every frame, dropped frames with per-step rates
    from the timestamps (HumMUSS), dropped frames at rate 1."""
    if "frame_drops" in run.evals:
        return run.evals["frame_drops"]
    task = trained_task(run)
    dm = datamodule_of(run, **(QUICK_WINDOWS if scale.name == "quick" else {}))
    dm.setup("test")
    rng = np.random.default_rng(seed)
    sums: dict[str, list[float]] = {}
    for seq in dm.test_windows.sequences:
        if scale.name == "quick":
            seq = replace(seq, input=seq.input[:STREAMED_FRAMES], target=seq.target[:STREAMED_FRAMES], valid=None)
        keep = np.flatnonzero(rng.random(len(seq.input)) >= DROP)
        keep = np.union1d([0], keep)  # the stream starts at the first frame
        gaps = np.diff(keep, prepend=-1).astype(float)
        gaps[0] = 1.0
        cases = {"all frames": (np.arange(len(seq.input)), None), "dropped, rate from timestamps": (keep, gaps),
                 "dropped, rate 1": (keep, None)}  # fmt: skip
        for name, (frames, rates) in cases.items():
            if rates is not None and not supports_rate(task.backbone):
                continue  # MotionBERT has no rate to give
            sums.setdefault(name, []).append(_stream_error(task, seq, frames, rates, dm.clip_len))
    results = {name: float(np.mean(errors)) for name, errors in sums.items()}
    write_eval(run.path, "frame_drops", results)
    run.evals["frame_drops"] = results
    return results


def _stream_error(task, seq, frames: np.ndarray, rates: np.ndarray | None, clip_len: int) -> float:
    """Mean per-joint error (mm) over the streamed frames, each output from frames up to it only
    (MotionBERT: a window of the training clip length, the positions its temporal embedding learned)."""
    streamer = task.backbone.streamer(1) if supports_rate(task.backbone) else task.backbone.streamer(1, mode="window", window=clip_len)
    errors = []
    for i, f in enumerate(frames):
        x = torch.as_tensor(seq.input[f][None])  # (1, 17, 3)
        y = streamer.push(x, rate=None if rates is None else float(rates[i]))[0].numpy()  # (17, 3)
        pred, target = (y - y[:1]) * seq.scale_mm, (seq.target[f] - seq.target[f][:1]) * seq.scale_mm
        errors.append(np.linalg.norm(pred - target, axis=-1).mean())
    return float(np.mean(errors))


def section(scale: Scale, runs: dict[str, list[Run]]) -> Section:
    curves = {c: {k: summarise([r.evals[NAME][str(k)] for r in runs[c]]) for k in FACTORS} for c in BACKBONES}
    rows = [[LABELS[c], *(str(curves[c][k]) for k in FACTORS)] for c in BACKBONES]
    table = markdown_table(["test MPJPE (mm) by sub-sampling factor k", *(f"k={k}" for k in FACTORS)], rows)
    causal = [c for c in BACKBONES if "causal" in c]
    drops = {c: {name: summarise([r.evals["frame_drops"][name] for r in runs[c] if name in r.evals["frame_drops"]])
                 for name in ("all frames", "dropped, rate from timestamps", "dropped, rate 1")} for c in causal}  # fmt: skip
    table += ["", f"Streaming with {DROP:.0%} of the frames dropped at random (causal models, frame by frame):", ""]
    table += markdown_table(["MPJPE (mm)", "all frames", "dropped, rate from timestamps", "dropped, rate 1"],
                            [[LABELS[c], *(str(drops[c][n]) for n in drops[c])] for c in causal])  # fmt: skip
    figure = plot(curves, RESULTS / f"{NAME}.png")
    verdicts = []
    for variant in ("causal", "bidirectional"):
        h, m = curves[f"hummuss_{variant}"], curves[f"motionbert_{variant}"]
        growth_h, growth_m = growth(h), growth(m)
        verdicts.append(f"{variant}: from k=1 to k={FACTORS[-1]} HumMUSS's error grows by {growth_h}, MotionBERT's by {growth_m}; "
                        + compare(f"HumMUSS at k={FACTORS[-1]}", h[FACTORS[-1]], f"MotionBERT at k={FACTORS[-1]}", m[FACTORS[-1]])
                        + (" — the paper's effect (MotionBERT degrades much faster) is reproduced"
                           if h[FACTORS[-1]].differs_from(m[FACTORS[-1]]) and h[FACTORS[-1]].mean < m[FACTORS[-1]].mean
                           else " — the paper's effect is not shown at this scale"))  # fmt: skip
    d = drops["hummuss_causal"]
    verdicts.append("HumMUSS on a stream with dropped frames: " + compare("rate from timestamps", d["dropped, rate from timestamps"],
                                                                        "rate 1", d["dropped, rate 1"]))  # fmt: skip
    commands = ["python -m hummuss_pl.experiments.frame_rate" + (f" --data-root {scale.data_root}" if scale.data_root else ""),
                "# per trained run of experiment 1: Trainer.test with --data.init_args.frame_step k; streaming via Streamer.push"]  # fmt: skip
    data = {"factors": FACTORS, "mpjpe": {c: {k: curves[c][k].values for k in FACTORS} for c in BACKBONES},
            "frame_drops": {c: {n: s.values for n, s in drops[c].items()} for c in causal}}  # fmt: skip
    return Section("2. Frame-rate robustness (paper Fig. 5)",
                   "trained on 3DHP at its frame rate, tested on videos sub-sampled by up to 8: MotionBERT's error grows "
                   "sharply with the factor, HumMUSS's (run at rate k) barely.",
                   table, commands, verdicts, [figure.name], data)  # fmt: skip


def growth(curve: dict) -> str:
    first, last = curve[FACTORS[0]], curve[FACTORS[-1]]
    return f"{last.mean - first.mean:+.1f} mm ({last.mean / first.mean:.2f}×)" if first.values and last.values else "—"


def plot(curves: dict, path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for cell, curve in curves.items():
        means = [curve[k].mean for k in FACTORS]
        stds = [curve[k].std for k in FACTORS]
        ax.errorbar(FACTORS, means, yerr=stds, marker="o", capsize=3, label=LABELS[cell], linestyle="-" if "hummuss" in cell else "--")
    ax.set(xlabel="sub-sampling factor k (input at fps / k)", ylabel="test MPJPE (mm)", title="Frame-rate robustness (mean ± std over seeds)")
    ax.set_xticks(FACTORS)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    return path


def run(scale: Scale) -> dict[str, list[Run]]:
    runs = accuracy.run(scale)  # the trained runs (reused when they exist)
    for cell in BACKBONES:
        for r in runs[cell]:
            evaluate(r, scale)
            if "causal" in cell:
                stream_with_drops(r, scale)
    return runs


def main(argv: list[str] | None = None) -> Section:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="MPI-INF-3DHP (paper scale); default: the synthetic corpus")
    scale = Scale.of(parser.parse_args(argv).data_root)
    result = section(scale, run(scale))
    print("\n".join(result.markdown()))
    return result


if __name__ == "__main__":
    main()
