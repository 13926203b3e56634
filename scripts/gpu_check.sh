#!/usr/bin/env bash
# Everything that needs CUDA (CI never depends on it; run it when a GPU is at hand), in sections:
#   tests      the CUDA tests (autocast keeps the SSM in float32, bf16-mixed training step,
#              streaming on the GPU equals the convolution, every recipe's fit in bf16-mixed on
#              the GPU) and the torch.compile tests
#   streaming  the streaming benchmark with --device cuda (HumMUSS step vs MotionBERT window and
#              KV cache, batch 1 and 32, context 243)
#   training   the training benchmark with --device cuda (training steps of the paper models side by
#              side, 243 and 2048 frames: the GPU targets)
#   compile    the compiled streaming step (batch 1 and 32, context 243)
#   pretrain   a one-minute bf16-mixed synthetic pretraining on one GPU
#
# Usage: scripts/gpu_check.sh [OUT_DIR] [SECTION ...]   (default: results/gpu, every section)
# Everything is logged to OUT_DIR/gpu_check.log; benchmark results go to OUT_DIR/<section>/. Each
# section runs under a time limit (GPU_CHECK_LIMIT_<SECTION>=seconds overrides it) and a failing
# or timed-out section does not stop the others; the summary at the end lists each one's outcome,
# and the exit status is 1 if any failed.
#
# Python: $PY if set; else .venv/bin/python if its torch sees a GPU; else the machine's python3 if
# its torch does, with the wheels in .whl/ (scripts/gpu_wheels.sh downloads them where PyPI is
# reachable: what that machine's image lacks) installed into $GPU_SITE (/tmp/hummuss-gpu-site) and
# src/ on PYTHONPATH, without any package index; else `make install` (set TORCH_INDEX_URL for a
# CUDA build of torch).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu}
shift $(($# > 0 ? 1 : 0))
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(tests streaming training compile pretrain)
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
tee_pid=$!
trap 'exec >&- 2>&-; wait "$tee_pid"' EXIT  # the log is complete when the script returns

sees_gpu() { "$1" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; }
if [ -n "${PY:-}" ]; then
  :
elif [ -x .venv/bin/python ] && sees_gpu .venv/bin/python; then
  PY=.venv/bin/python
elif sees_gpu python3; then
  PY=$(command -v python3)
  SITE=${GPU_SITE:-/tmp/hummuss-gpu-site}
  if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" .whl/*.whl || exit 1
  fi
  export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
  make install || exit 1
  PY=.venv/bin/python
fi
echo "gpu_check: $(date -u '+%F %T') UTC, python $PY, sections: ${SECTIONS[*]}"
nvidia-smi || true
"$PY" - <<'EOF' || { echo "gpu_check: the Python above cannot run the suite (see the error); nothing was run"; exit 1; }
import torch, lightning, wandb, smplx, roma, jsonargparse
import hummuss_pl.cli
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("torch", torch.__version__, "| lightning", lightning.__version__, "|", torch.cuda.get_device_name(), "| hummuss_pl from", hummuss_pl.__path__[0])
EOF

run_tests() {
  WANDB_MODE=disabled "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py tests/test_compile.py tests/test_corruption.py -k "cuda or gpu or compile"
}
run_streaming() {
  "$PY" -m hummuss_pl.bench.streaming --compare --device cuda --batch 1 32 --contexts 243 --repeats 20 --out "$OUT/streaming"
}
run_training() {
  "$PY" -m hummuss_pl.bench.training --compare --device cuda --modes train --lengths 243 2048 --repeats 3 --out "$OUT/training"
}
run_compile() {
  "$PY" -m hummuss_pl.bench.streaming --compile --device cuda --batch 1 32 --contexts 243 --repeats 20 --out "$OUT/streaming-compile"
}
run_pretrain() {
  WANDB_MODE=offline "$PY" -m hummuss_pl fit --config experiments/quickstart.yaml --trainer.accelerator gpu --trainer.devices 1 \
    --trainer.precision bf16-mixed --trainer.max_time 00:00:01:00 --trainer.enable_progress_bar false
}
declare -A LIMIT=([tests]=240 [streaming]=150 [training]=210 [compile]=150 [pretrain]=120)

summary=() failed=0
for section in "${SECTIONS[@]}"; do
  if [ -z "${LIMIT[$section]:-}" ]; then
    echo "gpu_check: unknown section '$section' (sections: ${!LIMIT[*]})"; summary+=("$section: unknown"); failed=1; continue
  fi
  var=GPU_CHECK_LIMIT_${section^^}
  limit=${!var:-${LIMIT[$section]}}
  echo "== $section (limit ${limit} s)"
  start=$SECONDS
  # the section runs in a subshell so that `timeout` can stop it and everything it started
  timeout --kill-after=10 "$limit" bash -c "$(declare -f "run_$section"); PY='$PY'; OUT='$OUT'; run_$section"
  rc=$?
  took=$((SECONDS - start))
  if [ $rc -eq 0 ]; then outcome="ok"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then outcome="TIMED OUT after ${limit} s"; failed=1
  else outcome="FAILED (exit $rc)"; failed=1
  fi
  summary+=("$section: $outcome (${took} s)")
done
echo "== gpu_check summary ($OUT)"
printf '  %s\n' "${summary[@]}"
exit $failed
