"""`hummuss-stream`: frame-by-frame inference from a checkpoint equals the model run on the whole
clip (causality makes them the same), frame rates and timestamps map to the model's rate, bad
input is refused with the file and the fix named."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_checkpoints

from hummuss_pl.batch import normalize_screen
from hummuss_pl.metrics import root_relative
from hummuss_pl.stream import main
from hummuss_pl.tasks import PretrainTask



@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    return tiny_checkpoints(tmp_path_factory, ("hummuss-tiny-causal", "motionbert-tiny-causal", "hummuss-tiny-bidirectional"))


@pytest.fixture
def keypoints(tmp_path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-0.5, 0.5, (40, 17, 2)), rng.uniform(0.5, 1, (40, 17, 1))], -1).astype(np.float32)
    x[5, 3] = 0  # a missing joint
    np.save(tmp_path / "clip.npy", x)
    return tmp_path / "clip.npy", x


def offline(ckpt: Path, x: np.ndarray, rate: float = 1.0) -> np.ndarray:
    task = PretrainTask.load_from_checkpoint(ckpt).eval()
    with torch.no_grad():
        return root_relative(task(torch.from_numpy(x)[None], rate))[0].numpy()


@pytest.mark.parametrize("backbone, options", [("hummuss-tiny-causal", []), ("motionbert-tiny-causal", []),
                                               ("motionbert-tiny-causal", ["--mode", "kv"])])  # fmt: skip
def test_streamed_outputs_equal_the_whole_clip(checkpoints, keypoints, backbone, options, capsys):
    path, x = keypoints
    assert main([str(checkpoints[backbone]), str(path), "--device", "cpu", *options]) == 0
    streamed = np.load(path.with_name("clip_3d.npy"))
    np.testing.assert_allclose(streamed, offline(checkpoints[backbone], x), atol=1e-5)
    assert "per frame median" in capsys.readouterr().out


def test_fps_and_timestamps_set_the_rate(checkpoints, keypoints, tmp_path):
    path, x = keypoints
    ckpt = str(checkpoints["hummuss-tiny-causal"])
    expected = offline(checkpoints["hummuss-tiny-causal"], x, rate=0.5)  # 60 fps input, trained at 30
    main([ckpt, str(path), "--fps", "60", "--train-fps", "30", "--out", str(tmp_path / "fps.npy")])
    np.testing.assert_allclose(np.load(tmp_path / "fps.npy"), expected, atol=1e-5)
    np.save(tmp_path / "t.npy", 3.0 + np.arange(40) / 60)  # the same spacing as camera timestamps
    main([ckpt, str(path), "--timestamps", str(tmp_path / "t.npy"), "--train-fps", "30", "--out", str(tmp_path / "ts.npy")])
    np.testing.assert_allclose(np.load(tmp_path / "ts.npy"), expected, atol=1e-5)
    assert not np.allclose(expected, offline(checkpoints["hummuss-tiny-causal"], x), atol=1e-3)  # the rate matters


def test_pixels_and_several_streams(checkpoints, keypoints, tmp_path):
    path, x = keypoints
    w, h = 1920, 1080
    pixels = x.copy()
    pixels[..., 0] = (x[..., 0] + 1) * w / 2
    pixels[..., 1] = (x[..., 1] + h / w) * w / 2
    two = np.stack([pixels, pixels])  # (2, T, 17, 3): two people; the second with confidence 1 everywhere
    two[1, ..., 2] = 1.0
    np.save(tmp_path / "two.npy", two)
    ckpt = checkpoints["hummuss-tiny-causal"]
    main([str(ckpt), str(tmp_path / "two.npy"), "--image-size", str(w), str(h)])
    out = np.load(tmp_path / "two_3d.npy")
    assert out.shape == (2, 40, 17, 3)
    np.testing.assert_allclose(out[0], offline(ckpt, x), atol=1e-4)
    ones = x.copy()
    ones[..., 2] = 1.0
    np.testing.assert_allclose(out[1], offline(ckpt, ones), atol=1e-4)
    np.testing.assert_allclose(normalize_screen(pixels[..., :2], w, h), x[..., :2], atol=1e-6)


def test_bad_inputs_name_the_problem(checkpoints, keypoints, tmp_path):
    path, x = keypoints
    hummuss, mb = str(checkpoints["hummuss-tiny-causal"]), str(checkpoints["motionbert-tiny-causal"])
    np.save(tmp_path / "wrong.npy", x[:, :16])
    cases = [
        ([str(checkpoints["hummuss-tiny-bidirectional"]), str(path)], "bidirectional backbone"),
        ([hummuss, str(tmp_path / "wrong.npy")], r"wrong.npy: expected keypoints of shape \(T, 17, 3\|2\)"),
        ([hummuss, str(tmp_path / "missing.npy")], "keypoint file not found"),
        ([hummuss, str(path), "--fps", "60"], "pass --train-fps"),
        ([hummuss, str(path), "--mode", "kv"], "MotionBERT options"),
        ([mb, str(path), "--fps", "60", "--train-fps", "30"], "no frame-rate parameter"),
    ]
    np.save(tmp_path / "t.npy", np.r_[0.0, 0.1, 0.1, np.arange(3, 40) / 10])
    cases.append(([hummuss, str(path), "--timestamps", str(tmp_path / "t.npy"), "--train-fps", "30"], "increase strictly .* frame 2"))
    for args, message in cases:
        with pytest.raises(SystemExit, match=message):
            main(args)
    nan = x.copy()
    nan[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(SystemExit, match="NaN"):
        main([hummuss, str(tmp_path / "nan.npy")])


def test_console_script(checkpoints, keypoints, tmp_path):
    path, _ = keypoints
    script = Path(sys.executable).parent / "hummuss-stream"
    done = subprocess.run([str(script), str(checkpoints["hummuss-tiny-causal"]), str(path), "--fps", "25", "--train-fps", "25"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "25 fps" in done.stdout and path.with_name("clip_3d.npy").is_file()
    bad = subprocess.run([str(script), str(tmp_path / "none.ckpt"), str(path)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "checkpoint not found" in bad.stderr
