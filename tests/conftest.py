import os
import sys
from pathlib import Path

# Tests never talk to W&B, whatever the caller's environment says.
os.environ["WANDB_MODE"] = "disabled"
# One intra-op thread per process (also inherited by the CLI and DDP subprocesses): tests check
# results, not speed, and on a small or busy machine several processes × several OpenMP threads
# oversubscribe the cores (one elementwise op was seen 37× slower that way).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Subprocesses (`python -m hummuss_pl`, DDP ranks, launchers) import the package of this checkout, wherever
# they run: a relative PYTHONPATH would not reach it from their scratch directories, and an editable install
# may point at another checkout.
_SRC = str(Path(__file__).resolve().parents[1] / "src")
os.environ["PYTHONPATH"] = os.pathsep.join([_SRC, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != Path(_SRC))])

import torch  # noqa: E402

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))  # tests import helpers and fixtures

import pytest  # noqa: E402

_FIGURE = "figure: "


@pytest.fixture(scope="session")
def smpl_dir(tmp_path_factory) -> Path:
    """A folder with SMPL model files of the real shapes (synthetic values; see smpl_fixture.py)."""
    from smpl_fixture import write_smpl_files

    return write_smpl_files(tmp_path_factory.mktemp("smpl"))["model"].parent


@pytest.fixture
def report(record_property):
    """`report(name, value)`: a figure the test measured (e.g. a parameter count), printed in the
    run's summary so it is visible without `-s`."""
    return lambda name, value: record_property(_FIGURE + name, value)


def pytest_terminal_summary(terminalreporter):
    figures = [(k[len(_FIGURE) :], v) for r in terminalreporter.stats.get("passed", []) for k, v in r.user_properties if k.startswith(_FIGURE)]
    if figures:
        terminalreporter.section("figures measured by the tests")
        for name, value in figures:
            terminalreporter.write_line(f"{name}: {value}")
