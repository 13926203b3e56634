# hummuss-pl: everything a user runs goes through this file.
#
#   make pretrain     the main job (see README): pretraining, on synthetic data unless DATA_ROOT is set
#   make test         the whole test suite (what CI runs)
#
# A fresh clone needs nothing else: the first target creates $(VENV), installs torch only if it is
# not importable (TORCH_VERSION, default the CPU build that installs locally), then the suite.

PYTHON        ?= python3
VENV          ?= .venv
PY            := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# Where pip looks for torch (empty: pip's default). On a machine without a local CPU wheel, e.g.
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu for the CPU build, .../whl/cu128 for CUDA.
TORCH_INDEX_URL ?=
# W&B mode is chosen only through the environment: offline unless the caller says otherwise.
export WANDB_MODE ?= offline

STAMP := $(VENV)/.hummuss-installed

# The runnable fine-tuning recipes (the other files in experiments/finetune/ are their shared parts);
# each also has its own target: make finetune-pose3d_3dhp DATA_ROOT=/data PRETRAINED=ckpt
FINETUNES := pose3d_3dhp pose3d_3dhp_scratch mesh_3dpw mesh_3dpw_hybrik action_ntu60_xsub action_ntu60_xview

EXPERIMENTS := accuracy frame-rate context speed ablations

.PHONY: help install pretrain finetune $(addprefix finetune-,$(FINETUNES)) test test-fast bench bench-streaming bench-training report $(addprefix exp-,$(EXPERIMENTS)) clean

help:
	@echo "make pretrain [DATA_ROOT=/data MODEL=hummuss_causal|hummuss_bidirectional|motionbert_causal|motionbert_bidirectional] [CONFIG=...] [DEVICES=4] [ARGS=...]"
	@echo "make finetune TASK=<recipe> DATA_ROOT=/data [PRETRAINED=ckpt]   (or make finetune-<recipe> ...); recipes: $(FINETUNES)"
	@echo "make report [DATA_ROOT=/data]   (or one experiment: make exp-<name>; names: $(EXPERIMENTS))"
	@echo "make test | test-fast | bench | bench-streaming | bench-training | install | clean"

# --- training ------------------------------------------------------------------------------
# No DATA_ROOT: the quickstart (synthetic corpus, both curriculum phases, a few minutes on a CPU).
# DATA_ROOT=/data: the paper's pretraining recipe for MODEL on real data (layout: docs/DATA.md).
# CONFIG=... overrides either; DEVICES=N trains with DDP on N devices; ARGS are passed to hummuss.
MODEL ?= hummuss_causal
ifdef DATA_ROOT
CONFIG ?= experiments/pretrain/$(MODEL).yaml
DATA_ARG := --data.init_args.data_root $(DATA_ROOT)
else
CONFIG ?= experiments/quickstart.yaml
endif
DIST_ARG := $(if $(DEVICES),--trainer.devices $(DEVICES) --trainer.strategy ddp)
PRETRAINED_ARG := $(if $(PRETRAINED),--model.init_args.pretrained $(PRETRAINED))

pretrain: $(STAMP)
	$(PY) -m hummuss_pl fit --config $(CONFIG) $(DATA_ARG) $(DIST_ARG) $(ARGS)

finetune: $(STAMP)
	@test -n "$(filter $(TASK),$(FINETUNES))" || { echo "set TASK to one of: $(FINETUNES)"; exit 2; }
	$(PY) -m hummuss_pl fit --config experiments/finetune/$(TASK).yaml $(DATA_ARG) $(PRETRAINED_ARG) $(DIST_ARG) $(ARGS)

$(addprefix finetune-,$(FINETUNES)): finetune-%:
	@$(MAKE) --no-print-directory finetune TASK=$*

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
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

# Training speed/memory, HumMUSS vs MotionBERT-Lite side by side (writes results/training/).
bench-training: $(STAMP)
	$(PY) -m hummuss_pl.bench.training --compare $(ARGS)

bench: bench-streaming bench-training

# --- the report ----------------------------------------------------------------------------
# Every comparison of the paper, written to experiments/results/REPORT.md (JSON and PNGs beside it):
# quick versions on the synthetic corpus without DATA_ROOT, the paper's scale on MPI-INF-3DHP with it.
# Finished runs under checkpoints/report/ are reused; each run logs to checkpoints/report/.../seedN.log.
REPORT_DATA := $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

report: $(STAMP)
	$(PY) -m hummuss_pl.experiments.report $(REPORT_DATA) $(ARGS)

$(addprefix exp-,$(EXPERIMENTS)): exp-%: $(STAMP)
	$(PY) -m hummuss_pl.experiments.report $(REPORT_DATA) --only $(subst -,_,$*) $(ARGS)

clean:
	rm -rf build dist src/*.egg-info .pytest_cache
