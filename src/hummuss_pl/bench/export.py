"""Per-frame latency of the exported step: onnxruntime vs the PyTorch step, side by side in one run.

    python -m hummuss_pl.bench.export                          # the paper's causal HumMUSS, batch 1
    python -m hummuss_pl.bench.export --preset tiny --frames 20  # smoke run

One model (random weights: speed does not depend on their values), two ways of running one frame:
  pytorch       `HumMUSS.step` under inference_mode, the state updated in place (what `hummuss-stream`
                runs);
  onnxruntime   the file `export.export_step` writes, in an onnxruntime CPU session, the state passed
                in and out as arrays.
Frames alternate between the two (each timed call is one frame of --batch streams, the same keypoints
and rate for both), so a busy machine slows both alike; --warmup frames of each are not timed. Both
use --threads intra-op threads (default: torch's current count). The figure is the median per frame;
the ratio is onnxruntime ÷ pytorch. Results: a table, and export.json (info, per-frame times, medians,
ratio) + export.png (latency per frame, both methods) under --out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hummuss_pl.bench.common import cpu_name, pyplot, save_figure
from hummuss_pl.export import export_step
from hummuss_pl.models import HumMUSS, HumMUSSConfig

PRESETS = {"paper": HumMUSSConfig.paper, "tiny": HumMUSSConfig.tiny}


def measure(cfg: HumMUSSConfig, batch: int, frames: int, warmup: int, threads: int) -> dict:
    """Per-frame seconds of both methods over `frames` timed frames, interleaved."""
    import onnxruntime as ort

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = HumMUSS(cfg).eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "step.onnx"
        start = time.perf_counter()
        info = export_step(model, path)
        export_s = time.perf_counter() - start
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # Without this onnxruntime's idle threads spin for a while after each run, taking the cores from
        # the PyTorch frame that follows (seen: the tiny model's PyTorch step at 290 ms a frame instead of 10).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-0.5, 0.5, (warmup + frames, batch, 17, 2)), np.ones((warmup + frames, batch, 17, 1))], -1).astype(np.float32)
    rate = np.ones(batch, np.float32)
    state_onnx = {name: np.zeros([batch, *shape[1:]], np.float32) for name, shape in info["inputs"].items() if name.startswith("state_")}
    state_torch = model.init_state(batch)
    rate_torch = torch.from_numpy(rate)
    times: dict[str, list[float]] = {"pytorch": [], "onnxruntime": []}
    with torch.inference_mode():
        for t in range(warmup + frames):
            start = time.perf_counter()
            model.step(torch.from_numpy(x[t]), state_torch, rate_torch)
            torch_s = time.perf_counter() - start
            start = time.perf_counter()
            _, *next_state = session.run(None, {"keypoints": x[t], "rate": rate, **state_onnx})
            onnx_s = time.perf_counter() - start
            state_onnx = dict(zip(state_onnx, next_state))
            if t >= warmup:
                times["pytorch"].append(torch_s)
                times["onnxruntime"].append(onnx_s)
    return {"export_s": export_s, "seconds": times}


def _plot(times: dict[str, list[float]], path: Path, title: str) -> None:
    fig, ax = pyplot().subplots(figsize=(7, 4))
    for name, seconds in times.items():
        ax.plot(1000 * np.asarray(seconds), lw=0.8, label=f"{name} (median {1000 * np.median(seconds):.2f} ms)")
    ax.set_xlabel("frame")
    ax.set_ylabel("ms / frame")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="the causal HumMUSS timed (default: the paper's)")
    parser.add_argument("--batch", type=int, default=1, help="streams per frame (default 1)")
    parser.add_argument("--frames", type=int, default=300, help="timed frames per method")
    parser.add_argument("--warmup", type=int, default=20, help="untimed frames per method first")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads of both runtimes")
    parser.add_argument("--out", type=Path, default=Path("results/export"))
    args = parser.parse_args(argv)
    if min(args.batch, args.frames, args.threads) < 1 or args.warmup < 0:
        parser.error("--batch, --frames and --threads must be ≥ 1, --warmup ≥ 0")
    cfg = PRESETS[args.preset](causal=True)
    result = measure(cfg, args.batch, args.frames, args.warmup, args.threads)
    import onnxruntime

    median_ms = {name: 1000 * float(np.median(s)) for name, s in result["seconds"].items()}
    ratio = median_ms["onnxruntime"] / median_ms["pytorch"]
    info = {"preset": args.preset, "batch": args.batch, "frames": args.frames, "warmup": args.warmup, "threads": args.threads,
            "cpu": cpu_name(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "config": cfg.as_dict(),
            "export_s": round(result["export_s"], 1)}  # fmt: skip
    summary = {"info": info, "median_ms": median_ms, "ratio_onnxruntime_to_pytorch": ratio,
               "p95_ms": {name: 1000 * float(np.percentile(s, 95)) for name, s in result["seconds"].items()}, "seconds": result["seconds"]}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export.json").write_text(json.dumps(summary, indent=1))
    title = f"causal HumMUSS ({args.preset}) step, batch {args.batch}, {args.threads} thread(s), {info['cpu']}"
    _plot(result["seconds"], args.out / "export.png", title)
    print(f"{title}: {args.frames} frames each, interleaved (export took {info['export_s']} s)")
    print(f"  {'':12s} {'median':>9s} {'p95':>9s}")
    for name in ("pytorch", "onnxruntime"):
        print(f"  {name:12s} {median_ms[name]:7.2f} ms {summary['p95_ms'][name]:6.2f} ms")
    print(f"  onnxruntime ÷ pytorch (median): {ratio:.2f}×")
    print(f"wrote {args.out / 'export.json'} and {args.out / 'export.png'}")
    return summary


if __name__ == "__main__":
    main()
