"""`hummuss export` / `export_step`: the exported causal step, run in onnxruntime frame by frame, equals
the PyTorch step (rates changing at every frame, one per stream) and the whole-clip convolution;
TorchScript likewise; checkpoints of the real task export through the CLI; what cannot stream with
a constant-size state, and broken files, are refused in one line."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_checkpoints

from hummuss_pl.cli import main as hummuss
from hummuss_pl.export import ExportError, export_step
from hummuss_pl.models import HumMUSS, HumMUSSConfig
from hummuss_pl.models.graph import StepGraph
from hummuss_pl.tasks import PretrainTask

ort = pytest.importorskip("onnxruntime")  # a test-only dependency (the `dev` extra)

FRAMES = 300


def tiny_model() -> HumMUSS:
    torch.manual_seed(0)
    model = HumMUSS(HumMUSSConfig.tiny(causal=True)).eval()
    with torch.no_grad():  # fusion weights start at zero: give every parameter a random value
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.3)
    return model


def keypoints(streams: int, frames: int, seed: int = 0) -> np.ndarray:
    """(S, T, 17, 3) float32: x, y in ±0.5, confidence in [0.5, 1], one joint missing."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-0.5, 0.5, (streams, frames, 17, 2)), rng.uniform(0.5, 1, (streams, frames, 17, 1))], -1)
    x[:, 7, 3] = 0  # a missing joint
    return x.astype(np.float32)


def stream_onnx(path: Path, x: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """x (B, T, 17, 3), rates (B, T) → joints3d (B, T, 17, 3): the README's streaming loop."""
    session = ort.InferenceSession(str(path))
    meta = json.loads(session.get_modelmeta().custom_metadata_map["hummuss"])
    states = {name: np.zeros([len(x), *shape[1:]], np.float32) for name, shape in meta["inputs"].items() if name.startswith("state_")}
    out = []
    for t in range(x.shape[1]):
        joints3d, *next_states = session.run(None, {"keypoints": x[:, t], "rate": rates[:, t], **states})
        states = dict(zip(states, next_states))
        out.append(joints3d)
    return np.stack(out, 1)  # (B, T, 17, 3)


def stream_torch(model: HumMUSS, x: np.ndarray, rates: np.ndarray) -> np.ndarray:
    state = model.init_state(len(x))
    out = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y, state = model.step(torch.from_numpy(x[:, t]), state, torch.from_numpy(rates[:, t]))
            out.append(y.numpy())
    return np.stack(out, 1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[HumMUSS, Path, dict]:
    model = tiny_model()
    path = tmp_path_factory.mktemp("export") / "step.onnx"
    return model, path, export_step(model, path, train_fps=50.0)


def test_onnx_step_equals_the_pytorch_step_with_changing_rates(exported, report):
    model, path, _ = exported
    x = keypoints(3, FRAMES)  # 3 streams: the graph was traced with 2, the batch axis is dynamic
    rng = np.random.default_rng(1)
    rates = rng.uniform(0.25, 4.0, (3, FRAMES)).astype(np.float32)  # per stream, a new rate every frame
    rates[1] = 1.0
    got, expected = stream_onnx(path, x, rates), stream_torch(model, x, rates)
    error = float(np.abs(got - expected).max())
    report("onnxruntime vs PyTorch step, 300 frames, max |difference|", f"{error:.2e}")
    assert error <= 1e-4
    assert np.abs(expected).mean() > 0.05  # the outputs are not trivially small
    assert not np.allclose(expected[0], stream_torch(model, x[:1], np.ones_like(rates[:1]))[0], atol=1e-3)  # the rate matters


def test_onnx_step_equals_the_whole_clip_at_a_constant_rate(exported, report):
    model, path, _ = exported
    x = keypoints(1, FRAMES, seed=2)
    for rate in (1.0, 0.5):
        got = stream_onnx(path, x, np.full((1, FRAMES), rate, np.float32))
        with torch.no_grad():
            clip = model(torch.from_numpy(x), rate).numpy()  # convolution mode, (1, T, 17, 3)
        error = float(np.abs(got - clip).max())
        report(f"onnxruntime step vs whole-clip convolution at rate {rate}, max |difference|", f"{error:.2e}")
        assert error <= 1e-4


def test_onnx_file_names_its_inputs_and_says_what_it_is(exported):
    model, path, info = exported
    session = ort.InferenceSession(str(path))
    inputs = {i.name: i.shape for i in session.get_inputs()}
    depth, h, m = model.cfg.depth, model.cfg.dim // model.cfg.temporal_reduce, model.cfg.state_size // 2
    assert list(inputs) == ["keypoints", "rate", *(f"state_{i}" for i in range(2 * depth))]
    assert inputs["keypoints"] == ["batch", 17, 3] and inputs["rate"] == ["batch"] and inputs["state_0"] == ["batch", 17, h, m, 2]
    assert [o.name for o in session.get_outputs()] == ["joints3d", *(f"next_state_{i}" for i in range(2 * depth))]
    meta = json.loads(session.get_modelmeta().custom_metadata_map["hummuss"])
    assert meta == info
    assert meta["config"] == model.cfg.as_dict() and meta["train_fps"] == 50.0 and meta["suite_version"]
    assert StepGraph(model).state_shapes() == [(17, h, m, 2)] * (2 * depth)


def test_torchscript_step_equals_the_pytorch_step(tmp_path):
    model = tiny_model()
    info = export_step(model, tmp_path / "step.pt", format="torchscript")
    extra = {"hummuss.json": ""}
    scripted = torch.jit.load(str(tmp_path / "step.pt"), _extra_files=extra)
    assert json.loads(extra["hummuss.json"]) == info
    x, rates = keypoints(3, 40, seed=3), np.random.default_rng(3).uniform(0.5, 2, (3, 40)).astype(np.float32)
    state = [torch.zeros(3, *shape[1:]) for name, shape in info["inputs"].items() if name.startswith("state_")]
    got = []
    with torch.no_grad():
        for t in range(40):
            y, *state = scripted(torch.from_numpy(x[:, t]), torch.from_numpy(rates[:, t]), *state)
            got.append(y.numpy())
    np.testing.assert_allclose(np.stack(got, 1), stream_torch(model, x, rates), atol=1e-5)


def test_step_graph_state_is_the_models_state_as_pairs():
    """The graph's real state is `HumMUSS.step`'s complex state as (re, im) pairs, so a stream can
    start in PyTorch and go on in an exported graph (or back) from the same state."""
    model = tiny_model()
    graph = StepGraph(model)
    x, rates = keypoints(2, 25, seed=4), np.random.default_rng(4).uniform(0.5, 2, (2, 25)).astype(np.float32)
    state, pairs = model.init_state(2), graph.init_state(2)
    with torch.no_grad():
        for t in range(25):
            keys, rate = torch.from_numpy(x[:, t]), torch.from_numpy(rates[:, t])
            _, state = model.step(keys, state, rate)
            _, *pairs = graph(keys, rate, *pairs)
        for complex_state, real_state in zip(state, pairs):
            torch.testing.assert_close(real_state, torch.view_as_real(complex_state), rtol=1e-5, atol=1e-6)
        from_model = [torch.view_as_real(s).clone() for s in state]  # the step below updates `state` in place
        y_model, _ = model.step(keys, state, rate)
        y_graph, *_ = graph(keys, rate, *from_model)  # the graph goes on from the model's state
    torch.testing.assert_close(y_graph, y_model, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------- `hummuss export`
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    return tiny_checkpoints(tmp_path_factory, ("hummuss-tiny-causal", "hummuss-tiny-bidirectional", "motionbert-tiny-causal"))


def export_cli(args: list[str]) -> int | str:
    """`hummuss export <args>`: its exit status, or the error line it stops with."""
    with pytest.raises(SystemExit) as done:
        hummuss(["export", *args])
    return done.value.code


def test_a_trained_checkpoint_exports_through_the_cli(checkpoints, tmp_path, capsys):
    ckpt = checkpoints["hummuss-tiny-causal"]
    assert export_cli([str(ckpt), str(tmp_path / "step.onnx"), "--train-fps", "30"]) == 0
    printed = capsys.readouterr().out
    assert "step.onnx: onnx" in printed and "trained at 30 fps" in printed
    backbone = PretrainTask.load_from_checkpoint(ckpt).backbone.eval()
    x = keypoints(2, 60, seed=4)
    rates = np.full((2, 60), 0.5, np.float32)
    np.testing.assert_allclose(stream_onnx(tmp_path / "step.onnx", x, rates), stream_torch(backbone, x, rates), atol=1e-4)
    meta = json.loads(ort.InferenceSession(str(tmp_path / "step.onnx")).get_modelmeta().custom_metadata_map["hummuss"])
    assert meta["train_fps"] == 30 and meta["source"] == str(ckpt) and meta["backbone"] == "hummuss-tiny-causal"
    assert export_cli([str(ckpt), str(tmp_path / "step.pt")]) == 0  # TorchScript, chosen by the suffix
    assert "step.pt: torchscript" in capsys.readouterr().out


def test_what_cannot_stream_with_a_constant_state_is_refused(checkpoints, tmp_path):
    out = str(tmp_path / "x.onnx")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoints["hummuss-tiny-causal"].read_bytes()[:5000])
    official = tmp_path / "latest_epoch.bin"
    torch.save({"model_pos": {"module.joints_embed.weight": torch.zeros(2, 2)}, "epoch": 1}, official)
    cases = [
        (checkpoints["hummuss-tiny-bidirectional"], "cannot stream with a constant-size state: export a causal model"),
        (checkpoints["motionbert-tiny-causal"], "has a MotionBERT backbone: .* `hummuss-stream` \\(--mode window \\| kv\\)"),
        (official, "official MotionBERT weights file .* `hummuss-stream`"),
        (truncated, "truncated.ckpt: truncated or not a checkpoint"),
        (tmp_path / "none.ckpt", "checkpoint not found"),
    ]
    for ckpt, message in cases:
        error = export_cli([str(ckpt), out])
        assert isinstance(error, str) and error.startswith("hummuss export: ") and "\n" not in error, error
        assert re.search(message, error), error
    error = export_cli([str(checkpoints["hummuss-tiny-causal"]), str(tmp_path / "missing" / "x.onnx")])
    assert "the folder" in error and "does not exist" in error
    with pytest.raises(ExportError, match="export a causal model"):
        export_step(HumMUSS(HumMUSSConfig.tiny(causal=False)), tmp_path / "bi.onnx")


def test_latency_benchmark_runs_end_to_end(tmp_path):
    from hummuss_pl.bench.export import main as bench

    summary = bench(["--preset", "tiny", "--frames", "3", "--warmup", "1", "--threads", "1", "--out", str(tmp_path)])
    assert summary["ratio_onnxruntime_to_pytorch"] > 0 and len(summary["seconds"]["onnxruntime"]) == 3
    assert json.loads((tmp_path / "export.json").read_text())["info"]["preset"] == "tiny"
    assert (tmp_path / "export.png").stat().st_size > 0
