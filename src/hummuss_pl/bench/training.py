"""Training benchmark, HumMUSS and MotionBERT side by side: time and peak memory of an inference
forward and of a training step, per sequence length (the paper's Fig. 7).

    python -m hummuss_pl.bench.training                  # HumMUSS (causal, bidirectional) only
    python -m hummuss_pl.bench.training --compare        # + MotionBERT-Lite: ratios MotionBERT ÷ HumMUSS
    python -m hummuss_pl.bench.training --compare --threads 1 --load    # one thread, one core kept busy
    python -m hummuss_pl.bench.training --compare --modes train --variants causal --lengths 243 2048
    python -m hummuss_pl.bench.training --compare --preset tiny --lengths 9 20 --repeats 1 --device cpu  # smoke run
    make bench-training ARGS="--lengths 27 243 --budget-s 60"

Models: the paper's HumMUSS (`HumMUSSConfig.paper`, causal and bidirectional) and MotionBERT-Lite
(`MotionBERTConfig.lite`, causal and bidirectional), random weights (speed and memory do not
depend on their values). MotionBERT's learned temporal embedding has `maxlen` = 243 rows; for a
longer sequence it is built with `maxlen` raised to the length (a few hundred thousand more
parameters, nothing else changes). `--preset tiny` swaps in HumMUSSConfig.tiny /
MotionBERTConfig.tiny (maxlen 48, raised the same way) for smoke tests.

What is timed, per (model, variant, mode, length) at batch `--batch` (default 1), on random
keypoints (B, L, 17, 3) (x, y in [-1, 1], confidence 1):
  forward  an inference forward in convolution mode: model.eval(), torch.no_grad().
  train    a training step: model.train(), forward, an MPJPE-like loss (mean per-joint Euclidean
           distance to a random target), backward, AdamW step (zero_grad(set_to_none) first).
One untimed warm-up call, then up to `--repeats` timed calls, fewer once `--budget-s` seconds are
spent (at least one); the figure is the median. A configuration whose warm-up call alone takes
longer than `--budget-s` is not repeated and is reported as "over budget" (its first call's time
in `first_call_s`), never dropped; a worker still running 5 × budget + 300 s after it started
(+ 600 s with --compile) is stopped and reported the same way. One that raises (out of memory,
a failed compilation) or whose process dies is reported as "failed: <reason>", and the run goes on.

Every configuration runs in a fresh subprocess (`common.run_isolated`), so peak-memory figures,
allocator caches and compiled code do not leak into each other; the memory method is recorded in
training.json's `info.memory` and in the table title:
  CUDA: torch.cuda.max_memory_allocated() (weights, gradients and AdamW states included).
  CPU:  peak resident set size (ru_maxrss) minus the RSS just before the model was built.

Options:
  --threads N        torch.set_num_threads(N) in each worker (default: torch's default, all cores,
                     or OMP_NUM_THREADS).
  --load             measure every configuration twice, idle and with one core kept busy by a
                     spinning process (started before the worker, killed after it); rows carry
                     "load": false/true and `slowdown` = loaded ÷ idle time per configuration.
  --compile          also measure the torch.compile'd model (`torch.compile(model)`, the
                     compilation being an extra untimed first call); rows carry "compiled".
  --memory-budget-gb configurations whose peak memory is predicted to exceed it (from the two
                     previous lengths of the same configuration: growth linear in the length for
                     HumMUSS, quadratic for MotionBERT) are skipped; those that exceed it while
                     running are stopped (CUDA: a per-process memory fraction, the OOM is caught;
                     CPU: the worker's RSS growth, checked every 50 ms by a watchdog thread) or
                     flagged (measured peak above it). All are reported as "over budget" with a
                     `note`. A worker killed by the OS is reported as failed, with the signal.
Results: a table (ratios MotionBERT ÷ HumMUSS, time and memory, from this run; above 1: HumMUSS is
faster / leaner), a progress line per configuration on stdout, and `training.json` (info, rows,
ratios, slowdown with --load) + `training.png` (time and memory vs length, log axes, one column
per mode, a line per model × variant, dashed compiled, dotted under load) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import torch

from hummuss_pl.models import HumMUSS, HumMUSSConfig, MotionBERT, MotionBERTConfig

from . import common
from .common import (
    WorkerError,
    memory_baseline,
    peak_memory_bytes,
    seconds,
    time_within_budget,
)

MODELS = ("hummuss", "motionbert")
VARIANTS = ("causal", "bidirectional")
MODES = ("forward", "train")
PRESETS = ("paper", "tiny")
LENGTHS = (27, 81, 243, 729, 2048)
LR = 1e-4


# --------------------------------------------------------------------------------- the models


def model_config(model: str, variant: str, preset: str, length: int) -> HumMUSSConfig | MotionBERTConfig:
    """The configuration timed: the paper's HumMUSS / MotionBERT-Lite (or the tiny unit-test ones),
    MotionBERT's `maxlen` raised to `length` when the sequence is longer than its embedding."""
    if model not in MODELS or variant not in VARIANTS or preset not in PRESETS:
        raise ValueError(f"model, variant, preset must be in {MODELS}, {VARIANTS}, {PRESETS}; got {model!r}, {variant!r}, {preset!r}")
    causal = variant == "causal"
    if model == "hummuss":
        return (HumMUSSConfig.paper if preset == "paper" else HumMUSSConfig.tiny)(causal=causal)
    cfg = (MotionBERTConfig.lite if preset == "paper" else MotionBERTConfig.tiny)(causal=causal)
    return replace(cfg, maxlen=length) if length > cfg.maxlen else cfg


def _build(model: str, variant: str, preset: str, length: int) -> HumMUSS | MotionBERT:
    cfg = model_config(model, variant, preset, length)
    return HumMUSS(cfg) if model == "hummuss" else MotionBERT(cfg)


def random_keypoints(batch: int, length: int, device: torch.device) -> torch.Tensor:
    """The benchmarks' input clip, (B, L, 17, 3): x, y uniform in [-1, 1], confidence 1."""
    x = torch.rand(batch, length, 17, 3, device=device) * 2 - 1
    x[..., 2] = 1.0
    return x


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint Euclidean distance, (B, L, J, 3) each (hummuss_pl.losses.mpjpe_loss without
    its import cost: a worker starts for every configuration)."""
    return (pred - target).norm(dim=-1).mean()


# --------------------------------------------------------------------------------- one configuration


def _prime_optimizer(device: torch.device) -> None:
    """One AdamW step on a one-element parameter, before the memory baseline: the first step
    imports torch._dynamo (about a second and 80 MB of RSS), which is the runtime's cost, not the
    model's, and would otherwise count as training memory on the CPU."""
    p = torch.zeros(1, device=device, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=LR)
    (p * 2).sum().backward()
    opt.step()


def _first_line(text: str, limit: int = 300) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line[:limit]


def measure(
    model: str, variant: str, mode: str, length: int, batch: int = 1, repeats: int = 5, device: str = "cpu",
    budget_s: float = 300.0, preset: str = "paper", compiled: bool = False, threads: int | None = None,
    memory_budget_gb: float | None = None,
) -> dict:  # fmt: skip
    """Runs one configuration in this process: {status, time_s (median), peak_mib, timed,
    first_call_s, note, parameters}. Errors become a "failed: …" status; only a dying process
    is left to the caller."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    limited = dev.type == "cuda" and memory_budget_gb is not None
    if limited:
        total = torch.cuda.get_device_properties(dev).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, memory_budget_gb * 2**30 / total), dev)
    if mode == "train":
        _prime_optimizer(dev)
    torch.manual_seed(0)
    out = {"status": "ok", "time_s": None, "peak_mib": None, "timed": 0, "first_call_s": None, "note": None, "parameters": None}
    baseline = memory_baseline(dev)
    if dev.type == "cpu" and memory_budget_gb is not None:
        common.watch_rss(int(memory_budget_gb * 2**30), baseline, lambda growth: _stop_over_memory(growth, memory_budget_gb))
    phase = ""  # "compile: " during the compiling call, so that its failure is named
    try:
        net = _build(model, variant, preset, length).to(dev)
        out["parameters"] = sum(p.numel() for p in net.parameters())
        x = random_keypoints(batch, length, dev)  # (B, L, J, 3)
        run = torch.compile(net) if compiled else net
        if mode == "forward":
            net.eval()

            def call() -> None:
                with torch.no_grad():
                    run(x)  # (B, L, J, 3)

        else:
            net.train()
            target = torch.randn(batch, length, 17, 3, device=dev)  # (B, L, J, 3)
            opt = torch.optim.AdamW(net.parameters(), lr=LR)

            def call() -> None:
                opt.zero_grad(set_to_none=True)
                mpjpe(run(x), target).backward()
                opt.step()

        if compiled:
            phase = "compile: "
            out["note"] = f"compilation (an extra first call, untimed): {seconds(call, dev):.1f} s"
            phase = ""
        first = seconds(call, dev)  # the warm-up
        out["first_call_s"] = first
        if first > budget_s:
            out["status"] = "over budget"
            out["note"] = "; ".join(filter(None, [out["note"], f"the first call took {first:.3g} s > --budget-s {budget_s:g}: not repeated"]))
        else:
            times = time_within_budget(lambda _: call(), repeats, budget_s, dev)
            out["time_s"], out["timed"] = common.median(times), len(times)
        out["peak_mib"] = peak_memory_bytes(dev, baseline) / 2**20
    except torch.cuda.OutOfMemoryError as e:  # (torch.OutOfMemoryError since torch 2.5)
        if limited:
            out["status"] = "over budget"
            out["note"] = f"out of memory under the memory budget of {memory_budget_gb:g} GiB: {_first_line(e)}"
        else:
            out["status"] = f"failed: {phase}out of memory: {_first_line(e)}"
    except Exception as e:  # noqa: BLE001 -- any error is reported as this configuration's status, and the run goes on
        oom = isinstance(e, MemoryError) or "can't allocate memory" in str(e)  # the CPU allocator's words
        out["status"] = f"failed: {phase}{'out of memory: ' if oom else ''}{type(e).__name__}: {_first_line(e)}"
    out["time_s"] = out["time_s"] if out["status"] == "ok" else None
    return out


def _stop_over_memory(growth: int, budget_gb: float) -> None:
    """The CPU memory watchdog's verdict: this configuration's result, printed, and the worker ends."""
    note = f"stopped: RSS growth reached {growth / 2**30:.2f} GiB > --memory-budget-gb {budget_gb:g}"
    print(json.dumps({"status": "over budget", "time_s": None, "peak_mib": None, "timed": 0, "first_call_s": None, "note": note, "parameters": None}), flush=True)
    os._exit(0)


def _worker(args: argparse.Namespace) -> None:
    print(json.dumps(measure(**json.loads(args.worker))))


def _worker_limit_s(budget_s: float, compiled: bool) -> float:
    return 5 * budget_s + 300 + (600 if compiled else 0)


def _run(spec: dict) -> dict:
    """One configuration in a fresh process; a worker that dies or runs out of time becomes a status."""
    try:
        return common.run_isolated("hummuss_pl.bench.training", spec, _worker_limit_s(spec["budget_s"], spec["compiled"]))
    except WorkerError as e:
        status = "over budget" if e.kind == "timeout" else f"failed: {e.reason}"
        return {"status": status, "time_s": None, "peak_mib": None, "timed": 0, "first_call_s": None, "note": e.reason, "parameters": None}


# --------------------------------------------------------------------------------- the run


def predicted_peak_mib(rows: list[dict], key: tuple, length: int) -> tuple[float, str] | None:
    """Peak memory of configuration `key` = (model, variant, mode, compiled) at `length`,
    extrapolated from the two longest shorter lengths measured in this run as a + b·L^q, q the
    growth the architecture implies: 1 for HumMUSS (SSM kernels and FFT convolutions, linear in
    L), 2 for MotionBERT (temporal attention maps, L × L per joint and head). None with fewer than
    two measured lengths."""
    pts = sorted(
        (r["length"], r["peak_mib"]) for r in rows
        if (r["model"], r["variant"], r["mode"], r["compiled"]) == key and r["length"] < length and r["peak_mib"]
    )  # fmt: skip
    lengths = sorted({p[0] for p in pts})
    if len(lengths) < 2:
        return None
    q = 1 if key[0] == "hummuss" else 2
    (l1, m1), (l2, m2) = ((n, max(p[1] for p in pts if p[0] == n)) for n in lengths[-2:])
    b = max(0.0, (m2 - m1) / (l2**q - l1**q))
    return m2 + b * (length**q - l2**q), f"a + b·L^{q} through {l1} and {l2} frames"


def ratios(rows: list[dict]) -> list[dict]:
    """MotionBERT ÷ HumMUSS, time and memory, for every (variant, mode, length, compiled, load)
    where both are ok in these rows."""
    index = {(r["model"], r["variant"], r["mode"], r["length"], r["compiled"], r["load"]): r for r in rows}
    out = []
    for (model, *key), mb in index.items():
        hm = index.get(("hummuss", *key))
        if model != "motionbert" or hm is None or mb["status"] != "ok" or hm["status"] != "ok":
            continue
        variant, mode, length, compiled, load = key
        out.append(
            {
                "variant": variant, "mode": mode, "length": length, "compiled": compiled, "load": load,
                "time": mb["time_s"] / hm["time_s"], "memory": mb["peak_mib"] / hm["peak_mib"],
            }
        )  # fmt: skip
    return out


def slowdowns(rows: list[dict]) -> list[dict]:
    """Loaded ÷ idle time per (model, variant, mode, length, compiled), where both are ok."""
    idle = {(r["model"], r["variant"], r["mode"], r["length"], r["compiled"]): r for r in rows if not r["load"]}
    out = []
    for r in rows:
        ref = idle.get((r["model"], r["variant"], r["mode"], r["length"], r["compiled"]))
        if r["load"] and ref is not None and r["status"] == ref["status"] == "ok":
            out.append(
                {
                    "model": r["model"], "variant": r["variant"], "mode": r["mode"], "length": r["length"],
                    "compiled": r["compiled"], "slowdown": r["time_s"] / ref["time_s"],
                }
            )  # fmt: skip
    return out


def _describe(row: dict) -> str:
    """The progress line of one configuration (training.log style)."""
    flags = f"{'compiled' if row['compiled'] else 'eager':8s} {'loaded' if row['load'] else 'idle':6s}"
    head = f"[training] {row['model']:10s} {row['variant']:13s} {row['mode']:7s} {row['length']:5d} frames  batch {row['batch']}  {flags}"
    if row["status"] == "ok":
        return f"{head}  ok  {row['time_s']:10.4f} s  {row['peak_mib']:9.1f} MiB  ({row['timed']} timed)"
    return f"{head}  {row['status']}" + (f" ({row['note']})" if row["note"] and row["status"] == "over budget" else "")


def _plot(rows: list[dict], path: Path) -> None:
    """Time and peak memory vs length (log axes), a column per mode, a line per model × variant
    (dashed: compiled, dotted: under load); only configurations measured ok."""
    plt = common.pyplot()
    modes = [m for m in MODES if any(r["mode"] == m for r in rows)]
    fig, axes = plt.subplots(2, len(modes), figsize=(6 * len(modes), 8), squeeze=False)
    colors = {key: f"C{i}" for i, key in enumerate((m, v) for m in MODELS for v in VARIANTS)}
    lengths_measured = sorted({r["length"] for r in rows})
    styles = {(False, False): "-", (True, False): "--", (False, True): ":", (True, True): "-."}
    for col, mode in enumerate(modes):
        for (model, variant), color in colors.items():
            for (compiled, load), style in styles.items():
                pts = sorted(
                    (r["length"], r["time_s"], r["peak_mib"]) for r in rows
                    if (r["model"], r["variant"], r["mode"], r["compiled"], r["load"]) == (model, variant, mode, compiled, load)
                    and r["status"] == "ok"
                )  # fmt: skip
                if not pts:
                    continue
                label = " ".join([model, variant, *(["compiled"] if compiled else []), *(["loaded"] if load else [])])
                lengths = [p[0] for p in pts]
                axes[0][col].plot(lengths, [p[1] for p in pts], marker="o", color=color, linestyle=style, label=label)
                axes[1][col].plot(lengths, [p[2] for p in pts], marker="o", color=color, linestyle=style, label=label)
        axes[0][col].set_title(f"{mode}: time per call (median)")
        axes[1][col].set_title(f"{mode}: peak memory")
        axes[0][col].set_ylabel("s")
        axes[1][col].set_ylabel("MiB")
        for ax in (axes[0][col], axes[1][col]):
            common.log_axes(ax, "sequence length (frames)")
            ax.set_xticks(lengths_measured, [str(n) for n in lengths_measured], minor=False)  # the lengths, not 2×10¹
            ax.set_xticks([], minor=True)
    common.save_figure(fig, path)


def _cell(row: dict | None, key: str, fmt: str) -> str:
    """A figure; for a configuration over budget what was measured of it (time: its one untimed
    call, not a median; memory: that call's peak); reasons are listed under the table."""
    if row is None:
        return "—"
    if row["status"] == "ok":
        return format(row[key], fmt)
    if row["status"] != "over budget":
        return "failed"
    if key == "time_s" and row["first_call_s"] is not None:
        return f"over budget ({row['first_call_s']:{fmt}} once)"
    if key == "peak_mib" and row["peak_mib"] is not None:
        return f"{row['peak_mib']:{fmt}} (over budget)"
    return "over budget"


def _table(rows: list[dict], ratio_rows: list[dict], slowdown_rows: list[dict], info: dict) -> None:
    index = {(r["model"], r["variant"], r["mode"], r["length"], r["compiled"], r["load"]): r for r in rows}
    ratio_index = {(r["variant"], r["mode"], r["length"], r["compiled"], r["load"]): r for r in ratio_rows}
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    compare = len(models) == 2
    show_compiled = any(r["compiled"] for r in rows)
    show_load = any(r["load"] for r in rows)
    flag_cols = [*(["compiled"] if show_compiled else []), *(["load"] if show_load else [])]
    columns = ["mode", "variant", "frames", *flag_cols, *(f"{m} s" for m in models), *(["time MB÷HM"] if compare else []),
               *(f"{m} MiB" for m in models), *(["memory MB÷HM"] if compare else [])]  # fmt: skip
    machine = info.get("gpu") or info.get("cpu", "")
    table = common.table(f"Training benchmark, {info['device']} ({machine}), {info['threads']} threads, batch {info['batch']}", columns)
    keys = sorted({(r["mode"], r["variant"], r["compiled"], r["load"], r["length"]) for r in rows},
                  key=lambda k: (MODES.index(k[0]), VARIANTS.index(k[1]), k[2], k[3], k[4]))  # fmt: skip
    for mode, variant, compiled, load, length in keys:
        cells = [index.get((m, variant, mode, length, compiled, load)) for m in models]
        ratio = ratio_index.get((variant, mode, length, compiled, load))
        flags = [*(["yes" if compiled else "no"] if show_compiled else []), *(["yes" if load else "no"] if show_load else [])]
        table.add_row(
            mode, variant, str(length), *flags,
            *(_cell(c, "time_s", ".4g") for c in cells), *([f"{ratio['time']:.2f}×" if ratio else "—"] if compare else []),
            *(_cell(c, "peak_mib", ".1f") for c in cells), *([f"{ratio['memory']:.2f}×" if ratio else "—"] if compare else []),
        )  # fmt: skip
    console = common.console(max(120, 14 * len(columns)))
    console.print(table)
    console.print(
        f"s: median seconds per call; MiB: peak memory ({info['memory']})"
        + ("; MB÷HM = MotionBERT ÷ HumMUSS, above 1: HumMUSS is faster / leaner" if compare else ""),
        markup=False, highlight=False,
    )  # fmt: skip
    if slowdown_rows:
        slow = common.table(
            f"Under load (one core kept busy), {info['threads']} threads: slowdown = loaded ÷ idle time",
            ["model", "variant", "mode", "frames", *(["compiled"] if show_compiled else []), "idle s", "loaded s", "slowdown"],
        )
        for s in slowdown_rows:
            key = (s["model"], s["variant"], s["mode"], s["length"], s["compiled"])
            idle, loaded = index[(*key, False)], index[(*key, True)]
            slow.add_row(
                s["model"], s["variant"], s["mode"], str(s["length"]), *(["yes" if s["compiled"] else "no"] if show_compiled else []),
                f"{idle['time_s']:.4g}", f"{loaded['time_s']:.4g}", f"{s['slowdown']:.2f}×",
            )  # fmt: skip
        console.print(slow)
    for r in rows:
        if r["status"] != "ok":
            console.print(f"{r['model']} {r['variant']} {r['mode']} {r['length']} frames"
                          f"{' compiled' if r['compiled'] else ''}{' loaded' if r['load'] else ''}: {r['status']}"
                          + (f" ({r['note']})" if r["note"] and r["status"] == "over budget" else ""), markup=False, highlight=False)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="also measure MotionBERT-Lite (causal and bidirectional); ratios MotionBERT ÷ HumMUSS")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS), help="sequence lengths in frames")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="default: both")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="forward (inference), train (a training step); default: both")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per configuration, after one warm-up call")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="seconds: a configuration whose first call takes longer is not repeated (reported 'over budget'); "
                             "the timed calls stop once this much is spent (at least one)")  # fmt: skip
    parser.add_argument("--memory-budget-gb", type=float, default=None, help="skip or stop configurations whose peak memory (predicted or measured) exceeds this many GiB")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in each worker (default: torch's default)")
    parser.add_argument("--load", action="store_true", help="measure every configuration also with one core kept busy; report the slowdown")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile'd models")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--preset", choices=PRESETS, default="paper",
        help="paper: the paper's HumMUSS and MotionBERT-Lite (default); tiny: the unit-test configs (a quick smoke run)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/training"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    if min(args.lengths) < 1 or args.batch < 1 or args.repeats < 1 or args.budget_s < 0 or (args.threads is not None and args.threads < 1):
        parser.error("--lengths, --batch, --repeats and --threads must be ≥ 1, --budget-s ≥ 0")
    if args.memory_budget_gb is not None and args.memory_budget_gb <= 0:
        parser.error("--memory-budget-gb must be positive")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    lengths = sorted(set(args.lengths))
    models = MODELS if args.compare else MODELS[:1]
    budget_mib = None if args.memory_budget_gb is None else args.memory_budget_gb * 2**10
    rows: list[dict] = []
    parameters: dict[str, int] = {}
    for length in lengths:
        for model in models:
            for variant in (v for v in VARIANTS if v in args.variants):
                for mode in (m for m in MODES if m in args.modes):
                    for compiled in (False, True) if args.compile else (False,):
                        for load in (False, True) if args.load else (False,):
                            row = {"model": model, "variant": variant, "mode": mode, "length": length, "batch": args.batch,
                                   "compiled": compiled, "load": load}  # fmt: skip
                            guess = predicted_peak_mib(rows, (model, variant, mode, compiled), length) if budget_mib else None
                            if guess and guess[0] > budget_mib:
                                note = f"skipped: predicted peak {guess[0] / 2**10:.2f} GiB ({guess[1]}) > --memory-budget-gb {args.memory_budget_gb:g}"
                                result = {"status": "over budget", "time_s": None, "peak_mib": None, "timed": 0, "first_call_s": None, "note": note}
                            else:
                                spec = {
                                    "model": model, "variant": variant, "mode": mode, "length": length, "batch": args.batch,
                                    "repeats": args.repeats, "device": args.device, "budget_s": args.budget_s, "preset": args.preset,
                                    "compiled": compiled, "threads": args.threads, "memory_budget_gb": args.memory_budget_gb,
                                }  # fmt: skip
                                with common.busy_core(load):
                                    result = _run(spec)
                                count = result.pop("parameters", None)
                                if count and length <= lengths[0]:
                                    parameters.setdefault(f"{model}-{variant}", count)
                                if budget_mib and result["status"] == "ok" and result["peak_mib"] > budget_mib:
                                    result["status"] = "over budget"
                                    result["note"] = f"measured peak {result['peak_mib'] / 2**10:.2f} GiB > --memory-budget-gb {args.memory_budget_gb:g}"
                                    result["time_s"] = None
                            row.update(result)
                            rows.append(row)
                            print(_describe(row), flush=True)
    info = {
        "device": args.device,
        "torch": torch.__version__,
        "threads": args.threads or torch.get_num_threads(),
        "cores": os.cpu_count(),
        **common.machine_info(args.device),
        "preset": args.preset,
        "batch": args.batch,
        "lengths": lengths,
        "repeats": args.repeats,
        "budget_s": args.budget_s,
        "memory_budget_gb": args.memory_budget_gb,
        "load": "one core kept busy by a spinning Python process (rows with load true)" if args.load else None,
        "compile": "torch.compile(model), default options; the compilation is an extra untimed first call (on the CPU the compiler's own memory counts in the peak)" if args.compile else None,
        "train_step": f"model.train(); forward; MPJPE-like loss (mean joint distance to a random target); backward; AdamW (lr {LR})",
        "forward": "model.eval(); torch.no_grad(); convolution mode",
        "models": {
            model: {variant: model_config(model, variant, args.preset, 1).as_dict() for variant in args.variants} for model in models
        },
        "motionbert_maxlen": "raised to the length for lengths above the configuration's maxlen" if args.compare else None,
        "parameters": parameters,
        "memory": common.memory_method(torch.device(args.device)),
    }
    ratio_rows = ratios(rows)
    result = {"info": info, "rows": rows, "ratios": ratio_rows}
    slowdown_rows = slowdowns(rows) if args.load else []
    if args.load:
        result["slowdown"] = slowdown_rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps(result, indent=2))
    _plot(rows, args.out / "training.png")
    _table(rows, ratio_rows, slowdown_rows, info)
    print(f"wrote {args.out / 'training.json'} and {args.out / 'training.png'}")


if __name__ == "__main__":
    main()
