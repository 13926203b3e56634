"""Sequential (frame-by-frame) inference benchmark: latency and peak memory per frame.

    python -m hummuss_pl.bench.streaming              # HumMUSS step vs HumMUSS window recompute
    python -m hummuss_pl.bench.streaming --compare    # + MotionBERT causal: window recompute, KV cache
    python -m hummuss_pl.bench.streaming --compile --batch 1 --contexts 243   # + the torch.compile'd step
    python -m hummuss_pl.bench.streaming --compare --preset tiny --batch 1 --contexts 5 60   # smoke run
    make bench-streaming ARGS="--batch 1 --contexts 27 243"

What is timed, per (method, batch, context c), all but hummuss-window through `model.streamer`:
  hummuss-step       HumMUSS causal streamer (recurrent `step`): the cost of producing frame c from the state.
  hummuss-window     HumMUSS causal, convolution mode on the last c frames, keeping the last output
                     (HumMUSS has no window streamer: its streaming method is the step).
  motionbert-window  causal MotionBERT window streamer, window W = min(c, maxlen): each push
                     recomputes the last W frames (what the paper timed). Any c: past maxlen the
                     window slides and the cost stays at maxlen frames.
  motionbert-kv      causal MotionBERT KV-cache streamer with a cache of exactly c frames
                     (`max_frames=c`); only c ≤ maxlen (absolute temporal embedding).
  hummuss-step-compiled  (--compile) the HumMUSS streamer with `compile=True` (torch.compile of
                     the step; the untimed pushes include the compilation).
hummuss-step, its compiled form and motionbert-kv push c − repeats frames untimed, then time `repeats` pushes: the
timed frames are the last of the c, with c − repeats … c − 1 frames of history. motionbert-window gets its c − 1 frames
of history with `prefill` (the same buffer c − 1 pushes leave, without their c − 1 full
recomputes) and then times pushes, each a recompute of W frames; it and hummuss-window time up to
`repeats` calls within `--budget-s` seconds (at least one). The figure is the median. Every
configuration runs in a fresh subprocess so peak-memory figures do not leak into each other; the
method is recorded in streaming.json's `info.memory` and in the table title:
  CUDA: torch.cuda.max_memory_allocated() (weights included).
  CPU:  peak resident set size (ru_maxrss) minus the RSS just before the model was built, so
        weights, activations, states and caches are included and the torch runtime is not.
The paper models are used (random weights: speed and memory do not depend on their values);
`--preset tiny` swaps in HumMUSSConfig.tiny / MotionBERTConfig.tiny (maxlen 48) for smoke tests.
Results: a table with ratios (every other method ÷ HumMUSS step, measured in the same run), and
`streaming.json` (info, rows, ratios) + `streaming.png` under --out. The step's FLOPs (torch
FlopCounterMode) and this machine's matmul throughput give the step's distance from its compute
bound; its unavoidable memory traffic (weights read, states read and written) and this
machine's copy bandwidth give its distance from the traffic bound (`step_bounds`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from hummuss_pl.models import HumMUSS, HumMUSSConfig, MotionBERT, MotionBERTConfig

from . import common
from .common import (
    memory_baseline,
    peak_memory_bytes,
    seconds,
    sync,
    time_within_budget,
)

METHODS = ("hummuss-step", "hummuss-window", "motionbert-window", "motionbert-kv", "hummuss-step-compiled")
HUMMUSS_METHODS = METHODS[:2]
COMPILED = "hummuss-step-compiled"
PRESETS = ("paper", "tiny")


def model_configs(preset: str) -> tuple[HumMUSSConfig, MotionBERTConfig]:
    """The causal models timed: the paper's (default) or unit-test-sized ones (`--preset tiny`)."""
    if preset == "paper":
        return HumMUSSConfig.paper(causal=True), MotionBERTConfig.lite(causal=True)
    if preset == "tiny":
        return HumMUSSConfig.tiny(causal=True), MotionBERTConfig.tiny(causal=True)
    raise ValueError(f"preset must be one of {PRESETS}; got {preset!r}")


def selected_methods(compare: bool, compile: bool) -> list[str]:
    """The methods a run measures: HumMUSS's step and window always, MotionBERT's with --compare,
    the compiled step with --compile."""
    return [m for m in METHODS if m in HUMMUSS_METHODS or (compare and m.startswith("motionbert")) or (compile and m == COMPILED)]


def _build(method: str, preset: str, device: torch.device) -> HumMUSS | MotionBERT:
    hummuss_cfg, motionbert_cfg = model_configs(preset)
    model = HumMUSS(hummuss_cfg) if method.startswith("hummuss") else MotionBERT(motionbert_cfg)
    return model.to(device).eval()


def measure(
    method: str, batch: int, context: int, repeats: int, device: str, budget_s: float = 30.0, preset: str = "paper"
) -> dict:
    """Runs one configuration in this process; returns latency (ms/frame) and peak memory (MiB)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    dev = torch.device(device)
    torch.manual_seed(0)
    baseline = memory_baseline(dev)
    model = _build(method, preset, dev)
    with torch.inference_mode():
        if method == "hummuss-window":
            # HumMUSS has no window streamer (its streaming method is the step): recompute the last
            # c frames in convolution mode and keep the last output.
            joints = torch.randn(batch, context, 17, 3, device=dev)  # (B, c, J, 3)
            model(joints[:, -min(context, 9) :])  # warm-up on a short window
            times = time_within_budget(lambda _: model(joints)[:, -1], repeats, budget_s, dev)  # keep frame c: (B, J, 3)
        elif method == "motionbert-window":
            # The window streamer on the last W = min(c, maxlen) frames. Its state is only the frame
            # buffer, so `prefill` gives it the c − 1 frames of history that c − 1 pushes would
            # (each a full recompute: hours at batch 32); every timed push then recomputes W frames.
            window = min(context, model.cfg.maxlen)
            streamer = model.streamer(batch, mode="window", window=window)
            history = max(context - 1, 1)
            joints = torch.randn(batch, history + repeats, 17, 3, device=dev)  # (B, c − 1 + repeats, J, 3)
            streamer.push(joints[:, 0])  # warm-up (a one-frame window) and frame 0 of the history
            if history > 1:
                streamer.prefill(joints[:, 1:history])
            times = time_within_budget(lambda k: streamer.push(joints[:, history + k]), repeats, budget_s, dev)
        else:  # hummuss-step (compiled or not), motionbert-kv: every frame of the context is pushed
            if method == "motionbert-kv":
                streamer = model.streamer(batch, mode="kv", max_frames=context)  # cache sized to the context
            else:
                streamer = model.streamer(batch, compile=method == COMPILED)
            joints = torch.randn(batch, context, 17, 3, device=dev)  # (B, c, J, 3)
            untimed = max(context - repeats, 1)
            for t in range(untimed):
                streamer.push(joints[:, t])
            times = [seconds(lambda t=t: streamer.push(joints[:, t]), dev) for t in range(untimed, context)]
    peak = peak_memory_bytes(dev, baseline)
    return {
        "method": method,
        "batch": batch,
        "context": context,
        "device": str(dev),
        "timed_frames": len(times),
        "latency_ms": 1e3 * common.median(times),
        "peak_mib": peak / 2**20,
    }


def step_bounds(device: str, preset: str = "paper") -> dict:
    """What one batch-1 step of the causal HumMUSS must at least do, and this machine's rates.

    step_flops: FLOPs of one step (torch FlopCounterMode). step_bytes: the memory traffic no step
    can avoid: every parameter read once, every SSM state read once and written once, in bytes as
    stored (float32 weights, complex64 states). matmul_flops_per_s: a 2048² matrix product;
    memory_bytes_per_s: copying a 256 MiB buffer (bytes read + written), larger than this
    machine's caches are likely to hold for one process. step_flops / matmul rate is the compute
    bound, step_bytes / memory rate the traffic bound. linear_s: the step's Linear products alone
    (each layer's weights input-major, as the streamer lays them out), in module order on batch-1
    inputs (joints × features), the part of the step that is BLAS's; linear_flops: their FLOPs;
    step_s: the whole step, timed alternately with the products (medians of 20 each) so that both
    see the same machine."""
    from torch.utils.flop_counter import FlopCounterMode

    from hummuss_pl.models.streaming import input_major_weights

    dev = torch.device(device)
    model = input_major_weights(HumMUSS(model_configs(preset)[0]).to(dev).eval())
    state = model.init_state(1)
    x = torch.randn(1, model.cfg.num_joints, 3, device=dev)  # one frame (B, J, 3)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.step(x, state)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    rows = [torch.randn(model.cfg.num_joints, m.in_features, device=dev) for m in linears]  # (J, in) per layer
    step_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    step_bytes += 2 * sum(s.numel() * s.element_size() for s in state)  # each state read and written

    def rate(work: float, call) -> float:
        """work / seconds per call, over ≤ 10 calls (about a second at most) after a warm-up."""
        call()
        sync(dev)
        calls, t0 = 0, time.perf_counter()
        while calls < 10 and (calls < 2 or time.perf_counter() - t0 < 1.0):
            call()
            sync(dev)
            calls += 1
        return calls * work / (time.perf_counter() - t0)

    n = 2048
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    src = torch.ones(64 * 2**20, device=dev)  # 256 MiB of float32
    dst = torch.empty_like(src)

    def products() -> None:
        for m, r in zip(linears, rows):
            m(r)

    linear_times, step_times = [], []
    with torch.inference_mode():
        products(), model.step(x, state)  # warm-up
        for _ in range(20):  # alternated: both see the same machine (a shared host's speed drifts)
            linear_times.append(common.seconds(products, dev))
            step_times.append(common.seconds(lambda: model.step(x, state), dev))
    return {
        "step_flops": counter.get_total_flops(),
        "linear_flops": sum(2 * r.shape[0] * m.in_features * m.out_features for m, r in zip(linears, rows)),
        "linear_s": common.median(linear_times),
        "step_s": common.median(step_times),
        "step_bytes": step_bytes,
        "matmul_flops_per_s": rate(2 * n**3, lambda: a @ b),
        "memory_bytes_per_s": rate(2 * src.numel() * src.element_size(), lambda: dst.copy_(src)),
    }


def _worker(args: argparse.Namespace) -> None:
    spec = json.loads(args.worker)
    fields = (spec["method"], spec["batch"], spec["context"], spec["repeats"], spec["device"], spec["budget_s"], spec["preset"])
    print(json.dumps(measure(*fields)))


def _run_isolated(spec: dict) -> dict:
    """One configuration in a fresh process (common.WorkerError, a RuntimeError, if it fails)."""
    return common.run_isolated("hummuss_pl.bench.streaming", spec)


def _contexts_for(method: str, contexts: list[int], maxlen: int) -> list[int]:
    """The KV cache is valid only up to maxlen frames (absolute temporal embedding); the window
    streamer slides past it (its cost stays at maxlen frames) and HumMUSS has no limit."""
    return [c for c in contexts if method != "motionbert-kv" or c <= maxlen]


def ratios(rows: list[dict]) -> list[dict]:
    """Every other method ÷ hummuss-step at the same batch and context, from these rows."""
    step = {(r["batch"], r["context"]): r for r in rows if r["method"] == "hummuss-step"}
    out = []
    for r in rows:
        ref = step.get((r["batch"], r["context"]))
        if r["method"] != "hummuss-step" and ref is not None:
            out.append(
                {
                    "method": r["method"],
                    "batch": r["batch"],
                    "context": r["context"],
                    "latency": r["latency_ms"] / ref["latency_ms"],
                    "memory": r["peak_mib"] / ref["peak_mib"],
                }
            )
    return out


def _plot(rows: list[dict], path: Path, maxlen: int) -> None:
    """Latency and memory vs context per batch (log axes), MotionBERT's maxlen marked: the KV
    cache stops there and the window streamer's cost levels off."""
    plt = common.pyplot()
    batches = sorted({r["batch"] for r in rows})
    contexts = [r["context"] for r in rows]
    mark_maxlen = min(contexts) <= maxlen <= max(contexts)  # only inside the measured range
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
            if mark_maxlen:
                ax.axvline(maxlen, color="gray", linestyle=":", label=f"MotionBERT maxlen ({maxlen})")
            common.log_axes(ax, "context (frames)")
    common.save_figure(fig, path)


def _table(rows: list[dict], ratio_rows: list[dict], info: dict) -> None:
    index = {(r["method"], r["batch"], r["context"]): r for r in rows}
    ratio_index = {(r["method"], r["batch"], r["context"]): r for r in ratio_rows}
    present = [m for m in METHODS if any(r["method"] == m for r in rows)]
    others = [m for m in present if m != "hummuss-step"]
    console = common.console(max(120, 16 + 26 * (len(present) + len(others))))  # room for "motionbert-window ÷ step"
    columns = (
        ("latency_ms", "latency", "latency per frame (median), ms"),
        ("peak_mib", "memory", f"peak memory, MiB ({info['memory']})"),
    )
    for key, ratio_key, title in columns:
        columns = ("batch", "context", *present, *(f"{m} ÷ step" for m in others))
        table = common.table(f"Sequential inference on {info['device']}: {title}; ratio = other ÷ hummuss-step", columns)
        for batch in sorted({r["batch"] for r in rows}):
            for context in sorted({r["context"] for r in rows}):
                values = [index.get((m, batch, context)) for m in present]
                rel = [ratio_index.get((m, batch, context)) for m in others]
                table.add_row(
                    str(batch),
                    str(context),
                    *(f"{r[key]:.2f}" if r else "—" for r in values),
                    *(f"{r[ratio_key]:.1f}×" if r else "—" for r in rel),
                )
        console.print(table)
    if "step_flops" in info:
        compute = info["step_flops"] / info["matmul_flops_per_s"] * 1e3
        traffic = info["step_bytes"] / info["memory_bytes_per_s"] * 1e3
        step1 = [r for r in rows if r["method"] == "hummuss-step" and r["batch"] == 1]
        line = (
            f"HumMUSS step (batch 1): {info['step_flops'] / 1e9:.3f} GFLOP at {info['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s "
            f"(2048² matmul) → compute bound {compute:.2f} ms; {info['step_bytes'] / 2**20:.1f} MiB of weights and "
            f"states at {info['memory_bytes_per_s'] / 1e9:.1f} GB/s (256 MiB copy) → traffic bound {traffic:.2f} ms"
            f"; its {info['linear_flops'] / 1e9:.3f} GFLOP of Linear products alone (batch-1 rows) take {1e3 * info['linear_s']:.2f} ms "
            f"({info['linear_flops'] / info['linear_s'] / 1e9:.0f} GFLOP/s) of the {1e3 * info['step_s']:.2f} ms the whole step takes, "
            "timed alternately"
        )
        if step1:
            measured = min(r["latency_ms"] for r in step1)
            line += f"; measured {measured:.2f} ms = {measured / compute:.1f}× the compute bound (goal ≤ 2×), {measured / traffic:.1f}× the traffic bound"
        console.print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="also measure causal MotionBERT (window recompute and KV cache)")
    parser.add_argument("--compile", action="store_true", help="also measure the torch.compile'd HumMUSS step (hummuss-step-compiled)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--contexts", type=int, nargs="+", default=[27, 81, 243, 1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed frames (streaming) or calls (window) per configuration")
    parser.add_argument("--budget-s", type=float, default=30.0, help="window methods: stop repeating a configuration after this many seconds (at least one call)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("results/streaming"))
    parser.add_argument(
        "--preset", choices=PRESETS, default="paper",
        help="paper: HumMUSS paper model and MotionBERT-Lite (default); tiny: the unit-test configs (a quick smoke run)",
    )  # fmt: skip
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    if min(args.contexts) < 2 or args.repeats < 1 or min(args.batch) < 1:
        parser.error("contexts must be ≥ 2 frames (one of history, one timed), --repeats and --batch ≥ 1")
    methods = selected_methods(args.compare, args.compile)
    hummuss_cfg, motionbert_cfg = model_configs(args.preset)
    rows = []
    for batch in args.batch:
        for method in methods:
            for context in _contexts_for(method, args.contexts, motionbert_cfg.maxlen):
                spec = {
                    "method": method, "batch": batch, "context": context, "repeats": args.repeats,
                    "device": args.device, "budget_s": args.budget_s, "preset": args.preset,
                }  # fmt: skip
                row = _run_isolated(spec)
                print(f"{method:18s} batch {batch:3d} context {context:5d}: {row['latency_ms']:9.2f} ms/frame  {row['peak_mib']:8.1f} MiB", flush=True)
                rows.append(row)
    info = {
        "device": args.device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": args.preset,
        "models": {"hummuss": hummuss_cfg.as_dict(), "motionbert": motionbert_cfg.as_dict()},
        "memory": common.memory_method(torch.device(args.device)),
        **common.machine_info(args.device),
    }
    info.update(step_bounds(args.device, args.preset))  # no memory is measured here: no subprocess needed
    ratio_rows = ratios(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "streaming.json").write_text(json.dumps({"info": info, "rows": rows, "ratios": ratio_rows}, indent=2))
    _plot(rows, args.out / "streaming.png", motionbert_cfg.maxlen)
    _table(rows, ratio_rows, info)
    print(f"wrote {args.out / 'streaming.json'} and {args.out / 'streaming.png'}")


if __name__ == "__main__":
    main()
