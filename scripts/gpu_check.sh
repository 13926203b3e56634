#!/usr/bin/env bash
# Everything that needs CUDA, in one run (CI never depends on it; run it when a GPU is at hand):
#   1. the CUDA tests (autocast keeps the SSM in float32, bf16-mixed training step, streaming on
#      the GPU equals the convolution) and the torch.compile tests;
#   2. the training and streaming benchmarks with --device cuda (paper models, MotionBERT side by side;
#      the compiled streaming step at context 243);
#   3. a two-minute bf16-mixed synthetic pretraining on one GPU.
# Usage: scripts/gpu_check.sh [OUT_DIR]   (default results/gpu; everything is also logged to OUT_DIR/gpu_check.log)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu}
PY=${PY:-.venv/bin/python}
test -x "$PY" || { make install && PY=.venv/bin/python; }
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
nvidia-smi || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible to torch'; print(torch.__version__, torch.cuda.get_device_name())"
echo "== CUDA and compile tests"
WANDB_MODE=disabled "$PY" -m pytest -q -rs tests/test_cuda.py tests/test_compile.py tests/test_corruption.py -k "cuda or gpu or compile"
echo "== training benchmark"
"$PY" -m hummuss_pl.bench.training --compare --device cuda --lengths 27 81 243 729 2048 --repeats 5 --out "$OUT/training"
echo "== streaming benchmark"
"$PY" -m hummuss_pl.bench.streaming --compare --device cuda --batch 1 32 --contexts 27 81 243 1024 --out "$OUT/streaming"
"$PY" -m hummuss_pl.bench.streaming --compile --device cuda --batch 1 32 --contexts 243 --out "$OUT/streaming-compile"
echo "== two-minute bf16-mixed pretraining"
WANDB_MODE=offline "$PY" -m hummuss_pl fit --config experiments/quickstart.yaml --trainer.accelerator gpu --trainer.devices 1 \
  --trainer.precision bf16-mixed --trainer.max_time 00:00:02:00
echo "gpu_check: all passed; results under $OUT"
