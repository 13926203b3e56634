"""The sequential-inference benchmark end to end, on the tiny models: every method at every context
it supports (MotionBERT's window also past maxlen, its KV cache not), positive figures, ratios from
the same run, the memory method recorded, and a real PNG."""

import json

import pytest
import torch

from hummuss_pl.bench.streaming import COMPILED, METHODS, main, measure, model_configs, selected_methods
from hummuss_pl.models import HumMUSS, HumMUSSConfig

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A full CLI run: seven configurations, each in its own subprocess (~15 s on 2 cores).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    maxlen = model_configs("tiny")[1].maxlen
    contexts = [5, maxlen + 12]  # one the KV cache covers, one only the window (sliding) and HumMUSS reach
    main(["--compare", "--preset", "tiny", "--batch", "1", "--contexts", *map(str, contexts), "--repeats", "1", "--device", "cpu", "--out", str(out)])
    return out, contexts, maxlen, json.loads((out / "streaming.json").read_text())


def test_every_method_at_every_context_it_supports(result):
    _, contexts, maxlen, data = result
    got = {(r["method"], r["batch"], r["context"]) for r in data["rows"]}
    expected = {(m, 1, c) for m in selected_methods(compare=True, compile=False) for c in contexts if m != "motionbert-kv" or c <= maxlen}
    assert got == expected and len(data["rows"]) == len(expected)
    assert ("motionbert-window", 1, contexts[1]) in got and ("motionbert-kv", 1, contexts[1]) not in got
    for r in data["rows"]:
        assert r["latency_ms"] > 0 and r["peak_mib"] > 0 and r["timed_frames"] >= 1, r


def test_ratios_come_from_the_same_rows(result):
    _, _, _, data = result
    rows = {(r["method"], r["batch"], r["context"]): r for r in data["rows"]}
    others = [key for key in rows if key[0] != "hummuss-step"]
    assert sorted((r["method"], r["batch"], r["context"]) for r in data["ratios"]) == sorted(others)
    for ratio in data["ratios"]:
        row = rows[(ratio["method"], ratio["batch"], ratio["context"])]
        step = rows[("hummuss-step", ratio["batch"], ratio["context"])]
        assert ratio["latency"] == pytest.approx(row["latency_ms"] / step["latency_ms"])
        assert ratio["memory"] == pytest.approx(row["peak_mib"] / step["peak_mib"])


def test_info_records_the_setup_and_memory_method(result):
    _, _, maxlen, data = result
    info = data["info"]
    assert info["device"] == "cpu" and info["preset"] == "tiny"
    assert info["memory"] == "cpu: peak RSS (ru_maxrss) minus RSS before the model was built"
    assert info["models"]["motionbert"]["maxlen"] == maxlen and info["models"]["hummuss"]["causal"]
    assert info["step_flops"] > 0 and info["matmul_flops_per_s"] > 0 and info["memory_bytes_per_s"] > 0
    model = HumMUSS(HumMUSSConfig.tiny(causal=True))
    weights = sum(p.numel() for p in model.parameters()) * 4
    states = sum(s.numel() for s in model.init_state(1)) * 8  # complex64
    assert info["step_bytes"] == weights + 2 * states
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert info["linear_flops"] == sum(2 * 17 * m.in_features * m.out_features for m in linears) and 0 < info["linear_s"] < info["step_s"]


def test_plot_is_a_png(result):
    out = result[0]
    data = (out / "streaming.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 1000


def test_method_selection_follows_compare_and_compile():
    assert selected_methods(False, False) == ["hummuss-step", "hummuss-window"]
    assert selected_methods(True, False) == ["hummuss-step", "hummuss-window", "motionbert-window", "motionbert-kv"]
    assert selected_methods(False, True) == ["hummuss-step", "hummuss-window", COMPILED]
    assert selected_methods(True, True) == list(METHODS)


def test_the_compiled_step_is_timed_through_its_streamer():
    """--compile's method: the tiny model's compiled streamer (compiled on the first, untimed push)."""
    row = measure(COMPILED, batch=2, context=4, repeats=2, device="cpu", preset="tiny")
    assert row["method"] == COMPILED and row["batch"] == 2 and row["timed_frames"] == 2
    assert row["latency_ms"] > 0 and row["peak_mib"] > 0
