"""The training benchmark end to end, on the tiny models: every (model, variant, mode, length)
measured, ratios MotionBERT ÷ HumMUSS from the same rows, the memory method recorded, a real PNG;
a configuration over its time budget reported, not dropped; --load rows and their slowdown; a
worker that dies reported as failed."""

import json

import pytest

from hummuss_pl.bench.training import (
    MODELS,
    MODES,
    VARIANTS,
    _run,
    main,
    predicted_peak_mib,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LENGTHS = [9, 20]

# Full CLI runs: 16 + 2 + 4 configurations and one failing worker, each in its own subprocess
# (~50 s on 2 idle cores).
pytestmark = pytest.mark.slow


def _run_main(out, *args):
    main(["--preset", "tiny", "--repeats", "1", "--device", "cpu", "--out", str(out), *args])
    return json.loads((out / "training.json").read_text())


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return out, _run_main(out, "--compare", "--lengths", *map(str, LENGTHS))


def test_every_configuration_is_measured(result):
    _, data = result
    got = [(r["model"], r["variant"], r["mode"], r["length"]) for r in data["rows"]]
    expected = {(m, v, mode, n) for m in MODELS for v in VARIANTS for mode in MODES for n in LENGTHS}
    assert set(got) == expected and len(got) == len(expected)
    for r in data["rows"]:
        assert r["status"] == "ok" and r["time_s"] > 0 and r["peak_mib"] > 0 and r["timed"] == 1, r
        assert r["batch"] == 1 and r["compiled"] is False and r["load"] is False, r
    assert "slowdown" not in data


def test_ratios_come_from_the_same_rows(result):
    _, data = result
    rows = {(r["model"], r["variant"], r["mode"], r["length"]): r for r in data["rows"]}
    keys = sorted((r["variant"], r["mode"], r["length"]) for r in data["ratios"])
    assert keys == sorted((v, mode, n) for v in VARIANTS for mode in MODES for n in LENGTHS)
    for ratio in data["ratios"]:
        mb = rows[("motionbert", ratio["variant"], ratio["mode"], ratio["length"])]
        hm = rows[("hummuss", ratio["variant"], ratio["mode"], ratio["length"])]
        assert ratio["compiled"] is False and ratio["load"] is False
        assert ratio["time"] == pytest.approx(mb["time_s"] / hm["time_s"])
        assert ratio["memory"] == pytest.approx(mb["peak_mib"] / hm["peak_mib"])


def test_info_records_the_setup_and_memory_method(result):
    _, data = result
    info = data["info"]
    assert info["device"] == "cpu" and info["preset"] == "tiny" and info["cpu"]
    assert info["memory"] == "cpu: peak RSS (ru_maxrss) minus RSS before the model was built"
    assert info["threads"] >= 1 and info["batch"] == 1 and info["lengths"] == LENGTHS
    assert info["models"]["hummuss"]["causal"]["causal"] and not info["models"]["motionbert"]["bidirectional"]["causal"]
    assert set(info["parameters"]) == {f"{m}-{v}" for m in MODELS for v in VARIANTS}


def test_plot_is_a_png(result):
    out, _ = result
    data = (out / "training.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 1000


def test_over_budget_is_reported_not_dropped(tmp_path, capsys):
    data = _run_main(tmp_path, "--lengths", "9", "--variants", "causal", "--budget-s", "0")
    assert [(r["model"], r["variant"], r["mode"]) for r in data["rows"]] == [("hummuss", "causal", m) for m in MODES]
    for r in data["rows"]:
        assert r["status"] == "over budget" and r["time_s"] is None and r["timed"] == 0, r
        assert r["first_call_s"] > 0 and r["peak_mib"] > 0 and "budget" in r["note"], r
    assert data["ratios"] == []
    progress = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[training]")]
    assert len(progress) == len(data["rows"]) and all("over budget" in line for line in progress)
    assert (tmp_path / "training.png").read_bytes()[:8] == PNG_SIGNATURE


def test_load_rows_and_slowdown(tmp_path):
    data = _run_main(tmp_path, "--lengths", "9", "--variants", "bidirectional", "--load")
    rows = {(r["model"], r["variant"], r["mode"], r["length"], r["load"]): r for r in data["rows"]}
    assert set(rows) == {("hummuss", "bidirectional", m, 9, load) for m in MODES for load in (False, True)}
    assert len(data["rows"]) == 4 and all(r["status"] == "ok" for r in data["rows"])
    assert len(data["slowdown"]) == len(MODES)
    for s in data["slowdown"]:
        key = (s["model"], s["variant"], s["mode"], s["length"])
        assert s["slowdown"] == pytest.approx(rows[(*key, True)]["time_s"] / rows[(*key, False)]["time_s"])
    assert "busy" in data["info"]["load"]


def test_a_dying_worker_is_a_failed_row():
    spec = {"model": "hummuss", "variant": "causal", "mode": "no-such-mode", "length": 9, "batch": 1, "repeats": 1,
            "device": "cpu", "budget_s": 1.0, "preset": "tiny", "compiled": False, "threads": None, "memory_budget_gb": None}  # fmt: skip
    row = _run(spec)
    assert row["status"].startswith("failed: worker exited with status 1: ValueError: mode must be one of"), row
    assert row["time_s"] is None and row["peak_mib"] is None


def test_memory_prediction_follows_the_architecture():
    rows = [
        {"model": m, "variant": "causal", "mode": "train", "compiled": False, "length": n, "peak_mib": mib}
        for m in MODELS for n, mib in ((10, 100.0), (20, 110.0))
    ]  # fmt: skip
    assert predicted_peak_mib(rows[:1], ("hummuss", "causal", "train", False), 40) is None  # one length: no guess
    linear, _ = predicted_peak_mib(rows, ("hummuss", "causal", "train", False), 40)
    quadratic, _ = predicted_peak_mib(rows, ("motionbert", "causal", "train", False), 40)
    assert linear == pytest.approx(130.0) and quadratic == pytest.approx(110.0 + 10.0 / 300 * 1200)
