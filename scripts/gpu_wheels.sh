#!/usr/bin/env bash
# Downloads the wheels of scripts/gpu_wheels.txt for the GPU machine's Python (CPython 3.12,
# x86-64 Linux) into .whl/ (git-ignored), where scripts/gpu_check.sh installs them from when that
# machine has no package index. Run it here, where pip reaches PyPI; the wheels travel with the
# working tree (about 25 MB). Usage: scripts/gpu_wheels.sh [PYTHON_VERSION]   (default 3.12)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(test -x .venv/bin/python && echo .venv/bin/python || echo python3)}
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do platforms+=(--platform "${p}_x86_64"); done
mkdir -p .whl
"$PY" -m pip download --no-deps --only-binary=:all: --python-version "${1:-3.12}" --implementation cp \
  "${platforms[@]}" --platform any -d .whl -r scripts/gpu_wheels.txt
echo "gpu_wheels: $(ls .whl/*.whl | wc -l) wheels in .whl/ ($(du -sh .whl | cut -f1))"
