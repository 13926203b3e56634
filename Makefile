# hummuss-pl: everything a user runs goes through this file.
#
#   make pretrain     the main job (see README)
#   make test         the whole test suite (what CI runs)
#
# A fresh clone needs nothing else: the first target creates $(VENV), installs torch only if it is
# not importable (TORCH_VERSION, default the CPU build that installs locally), then the suite.

PYTHON        ?= python3
VENV          ?= .venv
PY            := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# W&B mode is chosen only through the environment: offline unless the caller says otherwise.
export WANDB_MODE ?= offline

STAMP := $(VENV)/.hummuss-installed

.PHONY: help install test test-fast bench bench-streaming clean

help:
	@echo "make pretrain | test | test-fast | bench-streaming | install | clean"

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==$(TORCH_VERSION)"
	$(PY) -m pip install -e ".[dev]"
	@touch $@

install: $(STAMP)

# The full suite, as CI runs it. Tests never talk to W&B.
test: $(STAMP)
	WANDB_MODE=disabled $(PY) -m pytest

# Everything except tests marked slow (multi-process DDP, subprocess CLI runs).
test-fast: $(STAMP)
	WANDB_MODE=disabled $(PY) -m pytest -m "not slow"

# Streaming latency/memory of the causal paper model (writes results/streaming/).
bench-streaming: $(STAMP)
	$(PY) -m hummuss_pl.bench.streaming $(ARGS)

bench: bench-streaming

clean:
	rm -rf build dist src/*.egg-info .pytest_cache
