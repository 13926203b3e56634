"""Experiments 4 and 5: training speed (paper Fig. 7) and sequential inference (paper Fig. 8).

The training benchmark (`hummuss_pl.bench.training`) and the streaming benchmark
(`hummuss_pl.bench.streaming`), paper-size models, each configuration in a fresh process, the
ratios MotionBERT ÷ HumMUSS measured side by side in one run. The report's quick scale times the
shorter lengths on the CPU (its budget); the benchmarks' full runs (`make bench-training`,
`make bench-streaming ARGS=--compare`; results in the README) cover lengths up to 2048. With a GPU
(`make report DATA_ROOT=...` on a GPU machine) both run on it.

    python -m hummuss_pl.experiments.speed     (make exp-speed)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import torch

from .plan import Scale
from .runs import REPO, RESULTS, Section, markdown_table

NAME = "speed"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TRAINING = {"quick": ["--lengths", "27", "81", "243", "--repeats", "2", "--budget-s", "30"],
            "paper": ["--lengths", "27", "81", "243", "729", "2048"]}  # fmt: skip
STREAMING = {"quick": ["--batch", "1", "8", "--contexts", "27", "243", "--repeats", "5", "--budget-s", "20"],
             "paper": ["--batch", "1", "32", "--contexts", "27", "81", "243", "1024"]}  # fmt: skip


def commands(scale: Scale) -> dict[str, list[str]]:
    out = RESULTS / NAME
    return {
        "training": [sys.executable, "-m", "hummuss_pl.bench.training", "--compare", "--device", DEVICE,
                     "--out", str(out / "training"), *TRAINING[scale.name]],
        "streaming": [sys.executable, "-m", "hummuss_pl.bench.streaming", "--compare", "--device", DEVICE,
                      "--out", str(out / "streaming"), *STREAMING[scale.name]],
    }  # fmt: skip


def run(scale: Scale) -> dict[str, dict]:
    """Runs both benchmarks (unless their JSON is there from an earlier `make report`)."""
    results = {}
    for name, command in commands(scale).items():
        path = RESULTS / NAME / name / f"{name}.json"
        if not path.is_file():
            print(f"[report] {' '.join(command[1:])}", flush=True)
            log = path.with_suffix(".log")
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "w") as out:
                done = subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0 or not path.is_file():
                raise RuntimeError(f"the {name} benchmark failed (exit {done.returncode}); see {log}")
        results[name] = json.loads(path.read_text())
    return results


def section(scale: Scale, results: dict[str, dict]) -> Section:
    training, streaming = results["training"], results["streaming"]
    rows = [[r["variant"], r["mode"], r["length"], f"{r['time']:.2f}×", f"{r['memory']:.2f}×"]
            for r in training["ratios"] if not r["compiled"] and not r["load"]]  # fmt: skip
    table = ["Training benchmark: MotionBERT-Lite ÷ HumMUSS (16M each), same run, batch 1 "
             f"({training['info'].get('device', DEVICE)}); above 1: HumMUSS is faster / uses less memory.", ""]  # fmt: skip
    table += markdown_table(["variant", "mode", "frames", "time", "peak memory"], rows)
    srows = [[r["method"], r["batch"], r["context"], f"{r['latency']:.1f}×", f"{r['memory']:.2f}×"] for r in streaming["ratios"]]
    table += ["", "Streaming benchmark: each method ÷ HumMUSS's recurrent step, per frame, same run.", ""]
    table += markdown_table(["method", "batch", "context", "latency", "peak memory"], srows)
    for name in ("training", "streaming"):  # the benchmarks' own plots, beside the report
        shutil.copyfile(RESULTS / NAME / name / f"{name}.png", RESULTS / f"{name}.png")
    verdicts = [training_verdict(training["ratios"]), streaming_verdict(streaming["ratios"])]
    return Section("4–5. Training speed and sequential inference (paper Figs. 7 and 8)",
                   "HumMUSS trains faster than MotionBERT, the more so the longer the sequence (Fig. 7); streaming at "
                   "batch 32 and 243 frames it is 11.1× faster and uses 3.8× less GPU memory than MotionBERT's window "
                   "recompute (A100, Fig. 8).",
                   table, [" ".join(["python", *c[1:]]).replace(str(REPO) + "/", "") for c in commands(scale).values()], verdicts,
                   ["training.png", "streaming.png"], results)  # fmt: skip


def training_verdict(ratios: list[dict]) -> str:
    train = sorted((r for r in ratios if r["mode"] == "train" and not r["compiled"] and not r["load"]), key=lambda r: r["length"])
    if not train:
        return "training step: not measured"
    longest = max(r["length"] for r in train)
    at = [r for r in train if r["length"] == longest]
    faster = all(r["time"] > 1 for r in at)
    grows = all(r["time"] > next(s["time"] for s in train if s["variant"] == r["variant"]) for r in at)
    times = ", ".join(f"{r['time']:.2f}× ({r['variant']})" for r in at)
    return (f"training step at {longest} frames: MotionBERT takes {times} HumMUSS's time; " + ("HumMUSS is faster" if faster else "HumMUSS is not faster everywhere")
            + (" and its advantage grows with length — the paper's effect is reproduced" if faster and grows
               else " — the paper's effect is not (fully) reproduced at these lengths on this machine"))  # fmt: skip


def streaming_verdict(ratios: list[dict]) -> str:
    window = [r for r in ratios if r["method"] == "motionbert-window"]
    if not window:
        return "streaming: not measured"
    best = max(window, key=lambda r: (r["batch"], r["context"]))
    return (f"streaming at batch {best['batch']}, {best['context']} frames: MotionBERT's window recompute takes "
            f"{best['latency']:.1f}× HumMUSS's step and {best['memory']:.2f}× its memory; "
            + ("faster and leaner — the paper's effect is reproduced" if best["latency"] > 1 and best["memory"] > 1
               else "the paper's effect is not reproduced here"))  # fmt: skip


def main(argv: list[str] | None = None) -> Section:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="the paper scale (full lengths); default: the quick scale")
    scale = Scale.of(parser.parse_args(argv).data_root)
    result = section(scale, run(scale))
    print("\n".join(result.markdown()))
    return result


if __name__ == "__main__":
    main()
