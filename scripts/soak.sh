#!/usr/bin/env bash
# Streaming soak test (too slow for CI): the causal model over long streams, at constant and at
# random per-step rates, stays finite, bounded, equal to the convolution mode and flat in latency.
# Prints one line per check; exits non-zero when one fails. About 15 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -m hummuss_pl.bench.soak --preset tiny --frames 100000
"$PY" -m hummuss_pl.bench.soak --preset paper --frames 20000
