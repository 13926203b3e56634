"""Sequential (frame-by-frame) inference benchmark: latency and peak memory per frame.

    python -m hummuss_pl.bench.streaming              # HumMUSS step vs HumMUSS window recompute
    python -m hummuss_pl.bench.streaming --compare    # + MotionBERT causal: window recompute, KV cache
    make bench-streaming ARGS="--batch 1 --contexts 27 243"

What is timed, per (method, batch, context c):
  hummuss-step       HumMUSS causal, recurrent `step`: the cost of producing frame c from the state.
  hummuss-window     HumMUSS causal, convolution mode on the last c frames, keeping the last output.
  motionbert-window  causal MotionBERT on the last c frames, last output (what the paper timed).
  motionbert-kv      causal MotionBERT with a per-layer key/value cache (valid up to maxlen frames).
Streaming methods first push c - repeats frames untimed, then time `repeats` pushes, so each
timed frame really has c - 1 frames of history. Window methods time up to `repeats` calls within
`--budget-s` seconds (at least one); the figure is the median. Every configuration runs in a fresh subprocess so
peak-memory figures do not leak into each other:
  CUDA: torch.cuda.max_memory_allocated() (weights included).
  CPU:  peak resident set size (ru_maxrss) minus the RSS just before the model was built, so
        weights, activations, states and caches are included and the torch runtime is not.
The paper models are used (random weights: speed and memory do not depend on their values).
Results: a table with ratios (HumMUSS step vs each other method, measured in the same run), and
`streaming.json` + `streaming.png` under --out. The step's FLOPs (torch FlopCounterMode) and this
machine's matmul throughput give the step's distance from its compute bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

METHODS = ("hummuss-step", "hummuss-window", "motionbert-window", "motionbert-kv")
HUMMUSS_METHODS = METHODS[:2]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _build(method: str, device: torch.device) -> torch.nn.Module:
    if method.startswith("hummuss"):
        from hummuss_pl.models import HumMUSS, HumMUSSConfig

        return HumMUSS(HumMUSSConfig.paper(causal=True)).to(device).eval()
    from hummuss_pl.models import MotionBERT, MotionBERTConfig

    return MotionBERT(MotionBERTConfig.lite(causal=True)).to(device).eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(method: str, batch: int, context: int, repeats: int, device: str, budget_s: float = 30.0) -> dict:
    """Runs one configuration in this process; returns latency (ms/frame) and peak memory (MiB)."""
    dev = torch.device(device)
    torch.manual_seed(0)
    baseline = _rss_bytes()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    model = _build(method, dev)
    joints = torch.randn(batch, context, 17, 3, device=dev)
    times: list[float] = []
    with torch.inference_mode():
        if method.endswith("window"):
            model(joints[:, -min(context, 9):])  # warm-up on a short window
            spent = 0.0
            while len(times) < repeats and (not times or spent < budget_s):
                _sync(dev)
                t0 = time.perf_counter()
                model(joints)[:, -1]  # (B, c, J, 3): recompute the whole window, keep the last frame
                _sync(dev)
                times.append(time.perf_counter() - t0)
                spent += times[-1]
        else:
            streamer = model.streamer(batch, mode="kv") if method == "motionbert-kv" else model.streamer(batch)
            untimed = max(context - repeats, 1)
            for t in range(untimed):
                streamer.push(joints[:, t])
            for t in range(untimed, context):
                _sync(dev)
                t0 = time.perf_counter()
                streamer.push(joints[:, t])
                _sync(dev)
                times.append(time.perf_counter() - t0)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    times.sort()
    return {
        "method": method,
        "batch": batch,
        "context": context,
        "device": str(dev),
        "timed_frames": len(times),
        "latency_ms": 1e3 * times[len(times) // 2],  # median
        "peak_mib": peak / 2**20,
    }


def step_flops_and_matmul_rate(device: str) -> dict:
    """FLOPs of one batch-1 step of the causal paper model, and this machine's matmul throughput."""
    from torch.utils.flop_counter import FlopCounterMode

    from hummuss_pl.models import HumMUSS, HumMUSSConfig

    dev = torch.device(device)
    model = HumMUSS(HumMUSSConfig.paper(causal=True)).to(dev).eval()
    state = model.init_state(1)
    x = torch.randn(1, 17, 3, device=dev)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.step(x, state)
    n = 2048
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    _sync(dev)
    rate = 10 * 2 * n**3 / (time.perf_counter() - t0)
    return {"step_flops": counter.get_total_flops(), "matmul_flops_per_s": rate}


def _worker(args: argparse.Namespace) -> None:
    spec = json.loads(args.worker)
    if spec.get("flops"):
        print(json.dumps(step_flops_and_matmul_rate(spec["device"])))
    else:
        print(json.dumps(measure(spec["method"], spec["batch"], spec["context"], spec["repeats"], spec["device"], spec["budget_s"])))


def _run_isolated(spec: dict) -> dict:
    cmd = [sys.executable, "-m", "hummuss_pl.bench.streaming", "--worker", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"benchmark worker failed for {spec}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _contexts_for(method: str, contexts: list[int]) -> list[int]:
    """MotionBERT cannot see more than maxlen = 243 frames at once."""
    return [c for c in contexts if not method.startswith("motionbert") or c <= 243]


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = sorted({r["batch"] for r in rows})
    fig, axes = plt.subplots(2, len(batches), figsize=(5.5 * len(batches), 8), squeeze=False)
    for col, batch in enumerate(batches):
        for method in METHODS:
            pts = sorted((r["context"], r["latency_ms"], r["peak_mib"]) for r in rows if r["batch"] == batch and r["method"] == method)
            if not pts:
                continue
            ctx = [p[0] for p in pts]
            axes[0][col].plot(ctx, [p[1] for p in pts], marker="o", label=method)
            axes[1][col].plot(ctx, [p[2] for p in pts], marker="o", label=method)
        axes[0][col].set_title(f"batch {batch}: latency per frame")
        axes[1][col].set_title(f"batch {batch}: peak memory")
        axes[0][col].set_ylabel("ms / frame")
        axes[1][col].set_ylabel("MiB")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("context (frames)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _table(rows: list[dict], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    index = {(r["method"], r["batch"], r["context"]): r for r in rows}
    present = [m for m in METHODS if any(r["method"] == m for r in rows)]
    others = [m for m in present if m != "hummuss-step"]
    console = Console(width=max(120, 24 * len(present)))
    for key, title, unit in (("latency_ms", "latency per frame (median)", "ms"), ("peak_mib", "peak memory", "MiB")):
        table = Table(title=f"Sequential inference on {info['device']}: {title} ({unit}); ratio = other ÷ hummuss-step")
        for col in ("batch", "context", *present, *(f"{m} ÷ step" for m in others)):
            table.add_column(col, justify="right")
        for batch in sorted({r["batch"] for r in rows}):
            for context in sorted({r["context"] for r in rows}):
                step = index.get(("hummuss-step", batch, context))
                values = [index.get((m, batch, context)) for m in present]
                ratios = [index.get((m, batch, context)) for m in others]
                table.add_row(
                    str(batch),
                    str(context),
                    *(f"{r[key]:.2f}" if r else "—" for r in values),
                    *(f"{r[key] / step[key]:.1f}×" if r and step else "—" for r in ratios),
                )
        console.print(table)
    if "step_flops" in info:
        ideal = info["step_flops"] / info["matmul_flops_per_s"] * 1e3
        step1 = [r for r in rows if r["method"] == "hummuss-step" and r["batch"] == 1]
        line = (
            f"HumMUSS step FLOPs (batch 1): {info['step_flops'] / 1e9:.3f} GFLOP; matmul throughput "
            f"{info['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s → compute bound {ideal:.2f} ms"
        )
        if step1:
            measured = min(r["latency_ms"] for r in step1)
            line += f"; measured {measured:.2f} ms = {measured / ideal:.1f}× the bound (goal ≤ 1.5×)"
        console.print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="also measure causal MotionBERT (window recompute and KV cache)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--contexts", type=int, nargs="+", default=[27, 81, 243, 1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed frames (streaming) or calls (window) per configuration")
    parser.add_argument("--budget-s", type=float, default=30.0, help="window methods: stop repeating a configuration after this many seconds (at least one call)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("results/streaming"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    methods = METHODS if args.compare else HUMMUSS_METHODS
    rows = []
    for batch in args.batch:
        for method in methods:
            for context in _contexts_for(method, args.contexts):
                spec = dict(method=method, batch=batch, context=context, repeats=args.repeats, device=args.device, budget_s=args.budget_s)
                row = _run_isolated(spec)
                print(f"{method:18s} batch {batch:3d} context {context:5d}: {row['latency_ms']:9.2f} ms/frame  {row['peak_mib']:8.1f} MiB", flush=True)
                rows.append(row)
    info = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads()}
    if args.device == "cpu":
        info["cpu"] = _cpu_name()
    elif torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    info.update(_run_isolated({"flops": True, "device": args.device}))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "streaming.json").write_text(json.dumps({"info": info, "rows": rows}, indent=2))
    _plot(rows, args.out / "streaming.png")
    _table(rows, info)
    print(f"wrote {args.out / 'streaming.json'} and {args.out / 'streaming.png'}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
