"""Where a training step's time goes: one forward (training mode) and one backward of a paper-size
backbone, profiled separately with torch.profiler; the ops with the most self time and their share.

    python -m hummuss_pl.bench.profile                            # HumMUSS causal and bidirectional, 243 frames, 1 thread
    python -m hummuss_pl.bench.profile --threads 2 --frames 729
    python -m hummuss_pl.bench.profile --model motionbert --variants causal
    python -m hummuss_pl.bench.profile --preset tiny --frames 9   # smoke run

Per (model, variant): the models and inputs of `bench.training` (random keypoints (1, F, 17, 3),
an MPJPE-like loss), two untimed training steps first, then the forward (up to the loss) and its
backward each under their own profiler. Self time is CPU time on the CPU and device (kernel) time
on CUDA. Prints one line per phase (total, then `op share (calls)` for the `--top` ops) and writes
`profile.json` under --out. Unlike the timing benchmarks it runs in this process: the profiler's
own overhead makes its totals a little larger than `bench.training`'s times.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from . import common
from .training import _build, mpjpe, random_keypoints

PHASES = ("forward", "backward")


def _summary(prof: profile, device: torch.device, top: int) -> dict:
    """Total self time (ms) and the `top` ops by self time: name, ms, share of the total, calls."""
    field = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, field) > 0]
    total = sum(getattr(e, field) for e in events)  # µs
    events.sort(key=lambda e: getattr(e, field), reverse=True)
    ops = [{"name": e.key, "ms": getattr(e, field) / 1e3, "share": getattr(e, field) / total, "calls": e.count} for e in events[:top]]
    return {"total_ms": total / 1e3, "ops": ops}


def profile_step(model: str, variant: str, frames: int, preset: str = "paper", device: str = "cpu", top: int = 12) -> dict:
    """{phase: summary} for one training forward and its backward (see the module doc)."""
    dev = torch.device(device)
    torch.manual_seed(0)
    net = _build(model, variant, preset, frames).to(dev).train()
    x = random_keypoints(1, frames, dev)  # (B, F, J, 3)
    target = torch.randn(1, frames, 17, 3, device=dev)
    for _ in range(2):  # warm-up: allocator, lazy initialisation
        net.zero_grad(set_to_none=True)
        mpjpe(net(x), target).backward()
    net.zero_grad(set_to_none=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    out = {}
    with profile(activities=activities) as prof:
        loss = mpjpe(net(x), target)
        common.sync(dev)
    out["forward"] = _summary(prof, dev, top)
    with profile(activities=activities) as prof:
        loss.backward()
        common.sync(dev)
    out["backward"] = _summary(prof, dev, top)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("hummuss", "motionbert"), default="hummuss")
    parser.add_argument("--variants", nargs="+", choices=("causal", "bidirectional"), default=["causal", "bidirectional"])
    parser.add_argument("--frames", type=int, default=243)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: one thread, as the README's profile)")
    parser.add_argument("--top", type=int, default=12, help="ops listed per phase")
    parser.add_argument("--preset", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("results/profile"))
    args = parser.parse_args(argv)
    if args.frames < 1 or args.threads < 1 or args.top < 1:
        parser.error("--frames, --threads and --top must be ≥ 1")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    runs = []
    try:
        for variant in args.variants:
            phases = profile_step(args.model, variant, args.frames, args.preset, args.device, args.top)
            for phase in PHASES:
                summary = phases[phase]
                ops = ", ".join(f"{op['name']} {100 * op['share']:.0f} % ({op['calls']})" for op in summary["ops"])
                print(f"{args.model} {variant} {args.frames} frames, {phase} {summary['total_ms']:.0f} ms: {ops}", flush=True)
                runs.append({"model": args.model, "variant": variant, "frames": args.frames, "phase": phase, **summary})
    finally:
        torch.set_num_threads(previous_threads)  # main() may run inside another program (the tests)
    info = {"torch": torch.__version__, "threads": args.threads, "preset": args.preset, **common.machine_info(args.device)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps({"info": info, "runs": runs}, indent=2))
    print(f"wrote {args.out / 'profile.json'}")


if __name__ == "__main__":
    main()
