"""Soak test of the causal model's streaming: a long stream stays finite, bounded, equal to the
convolution mode, and flat in latency (`scripts/soak.sh`; too slow for CI at full length).

    python -m hummuss_pl.bench.soak --preset tiny --frames 100000
    python -m hummuss_pl.bench.soak --preset paper --frames 20000

Two streams of `--frames` frames of random keypoints:
  constant rate  streamed one frame at a time and run as one clip in convolution mode: the largest
                 difference over the last `--window` outputs (float32 state over the whole stream
                 against one FFT convolution);
  random rates   every step at its own rate, drawn uniformly from [0.5, 2] (a variable-rate
                 camera): every output finite, the largest |output| against the constant-rate
                 stream's, and the median step latency of the last 1000 frames ÷ the first 1000
                 (flat: near 1, whatever the length).
Prints one line per check and exits 1 when one fails (difference > --tolerance, a non-finite
output, outputs 10× the constant-rate stream's, latency ratio > 1.5).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from hummuss_pl.models import HumMUSS, HumMUSSConfig

PRESETS = {"tiny": HumMUSSConfig.tiny, "small": HumMUSSConfig.small, "paper": HumMUSSConfig.paper}


@torch.no_grad()
def soak(preset: str, frames: int, window: int, seed: int = 0) -> dict[str, float]:
    torch.manual_seed(seed)
    model = HumMUSS(PRESETS[preset](causal=True)).eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, frames, 17, 3, generator=gen) * 2 - 1  # (1, F, 17, 3)
    x[..., 2] = 1.0
    rates = 0.5 + 1.5 * torch.rand(frames, generator=gen)  # (F,) in [0.5, 2]

    def stream(rate_of) -> tuple[torch.Tensor, list[float]]:
        streamer, outputs, latency = model.streamer(1), [], []
        for t in range(frames):
            start = time.perf_counter()
            y = streamer.push(x[:, t], rate=rate_of(t))  # (1, 17, 3)
            latency.append(time.perf_counter() - start)
            if t >= frames - window or not torch.isfinite(y).all():
                outputs.append((t, y))
            if not torch.isfinite(y).all():
                break
        return outputs, latency

    constant, _ = stream(lambda t: 1.0)
    whole = model(x)  # (1, F, 17, 3), convolution mode
    diff = max(float((y - whole[:, t]).abs().max()) for t, y in constant)
    varying, latency = stream(lambda t: float(rates[t]))
    finite = all(bool(torch.isfinite(y).all()) for _, y in varying) and len(latency) == frames
    scale = max(float(y.abs().max()) for _, y in constant)
    first, last = np.median(latency[1:1001]), np.median(latency[-1000:])
    return {"frames": frames, "conv_vs_step_max_abs": diff, "varying_finite": float(finite),
            "varying_max_abs": max(float(y.abs().max()) for _, y in varying), "constant_max_abs": scale,
            "latency_first_ms": 1000 * first, "latency_last_ms": 1000 * last, "latency_ratio": last / first}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=243, help="outputs compared with the convolution mode (the last ones)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.frames < 2000:
        parser.error("--frames must be at least 2000 (latency is compared over the first and last 1000 frames)")
    torch.set_num_threads(args.threads)
    r = soak(args.preset, args.frames, args.window)
    checks = [
        (f"constant rate: step vs convolution over the last {args.window} of {args.frames} frames, max |diff| "
         f"{r['conv_vs_step_max_abs']:.2e} (≤ {args.tolerance:g})", r["conv_vs_step_max_abs"] <= args.tolerance),
        ("random rates in [0.5, 2]: every output finite", r["varying_finite"] == 1.0),
        (f"random rates: max |output| {r['varying_max_abs']:.3g} vs {r['constant_max_abs']:.3g} at constant rate (bounded: < 10×)",
         r["varying_max_abs"] < 10 * r["constant_max_abs"]),
        (f"latency: median {r['latency_first_ms']:.2f} ms (first 1000 frames) → {r['latency_last_ms']:.2f} ms (last 1000), "
         f"ratio {r['latency_ratio']:.2f} (flat: ≤ 1.5)", r["latency_ratio"] <= 1.5),
    ]  # fmt: skip
    print(f"soak: causal HumMUSS ({args.preset}), {args.frames} frames, {args.threads} thread(s)")
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
