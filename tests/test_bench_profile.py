"""The training-step profiler on the tiny models: both phases of both variants, ops ranked by self
time with shares of the phase's total, the matmuls of the Linear layers among them, and the
caller's thread count left as it was."""

import json

import pytest
import torch

from hummuss_pl.bench.profile import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile")
    threads = torch.get_num_threads()
    main(["--preset", "tiny", "--frames", "9", "--threads", "1", "--top", "40", "--device", "cpu", "--out", str(out)])
    assert torch.get_num_threads() == threads
    return json.loads((out / "profile.json").read_text())


def test_both_phases_of_both_variants_are_profiled(runs):
    got = [(r["model"], r["variant"], r["frames"], r["phase"]) for r in runs["runs"]]
    assert got == [("hummuss", v, 9, p) for v in ("causal", "bidirectional") for p in ("forward", "backward")]
    assert runs["info"]["threads"] == 1 and runs["info"]["preset"] == "tiny"


def test_ops_are_ranked_by_self_time_with_their_share(runs):
    for run in runs["runs"]:
        ops = run["ops"]
        assert 0 < len(ops) <= 40 and run["total_ms"] > 0
        assert [op["ms"] for op in ops] == sorted((op["ms"] for op in ops), reverse=True)
        for op in ops:
            assert op["share"] == pytest.approx(op["ms"] / run["total_ms"]) and op["calls"] >= 1
        assert sum(op["share"] for op in ops) <= 1 + 1e-9


def test_the_linear_layers_matmuls_show_up(runs):
    """A forward's Linear layers run as addmm (bias) and the backward's gradients as mm."""
    by_phase = {(r["variant"], r["phase"]): {op["name"] for op in r["ops"]} for r in runs["runs"]}
    for variant in ("causal", "bidirectional"):
        assert {"aten::addmm", "aten::mm"} & by_phase[(variant, "forward")]
        assert "aten::mm" in by_phase[(variant, "backward")]
