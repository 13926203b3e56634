"""Pictures (`hummuss_pl.render`, `hummuss render`, `hummuss-stream --render`): one GIF frame per
frame, the subject's left drawn blue and right red on the correct sides in both panels, axes fixed
for the clip, and a detector file streamed person by person into a rendered GIF."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli, spy
from PIL import Image

from hummuss_pl import render
from hummuss_pl.cli import main as hummuss
from hummuss_pl.keypoints import read_streams
from hummuss_pl.metrics import root_relative
from hummuss_pl.skeleton import H36M_JOINTS
from hummuss_pl.stream import main as stream
from hummuss_pl.tasks import PretrainTask

# A person facing the camera (model axes: x right, y down, z away): their left side is on the image's right.
STANDING = {
    "root": (0, 0, 0), "r_hip": (-0.1, 0, 0), "r_knee": (-0.1, 0.4, 0), "r_ankle": (-0.1, 0.8, 0.05),
    "l_hip": (0.1, 0, 0), "l_knee": (0.1, 0.4, 0), "l_ankle": (0.1, 0.8, 0.05), "belly": (0, -0.2, 0),
    "neck": (0, -0.45, 0), "nose": (0, -0.55, -0.05), "head": (0, -0.65, 0),
    "l_shoulder": (0.18, -0.45, 0), "l_elbow": (0.3, -0.25, 0), "l_wrist": (0.35, -0.05, -0.1),
    "r_shoulder": (-0.18, -0.45, 0), "r_elbow": (-0.3, -0.25, 0), "r_wrist": (-0.45, -0.55, -0.1),
}  # fmt: skip


def walking_clip(frames: int = 7) -> render.Clip:
    """The standing pose sliding right and raising its right wrist; 2D = the 3D's x, y, confidence 1."""
    pose = np.array([STANDING[j] for j in H36M_JOINTS], np.float32)
    poses = np.repeat(pose[None], frames, 0)  # (T, 17, 3)
    poses[..., 0] += np.linspace(0, 0.3, frames)[:, None]
    poses[:, 16, 1] -= np.linspace(0, 0.3, frames)
    x2d = np.concatenate([poses[..., :2], np.ones((frames, 17, 1), np.float32)], -1)
    return render.Clip(poses, x2d, fps=30, latency_ms=np.full(frames, 12.5), label="idx 1")


def colour_columns(image: np.ndarray, colour: str) -> np.ndarray:
    """Column indices of the pixels drawn in `colour` (within a small tolerance)."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return np.nonzero((np.abs(image.astype(int) - rgb).sum(-1) < 40))[1]


def test_gif_has_one_frame_per_frame(tmp_path):
    clip = walking_clip(7)
    assert render.write(clip, tmp_path / "clip.gif") == 7
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == 7 and abs(gif.info["duration"] - 1000 / 30) < 10  # 30 fps (GIF stores centiseconds)
    assert render.write(clip, tmp_path / "every3.gif", stride=3) == 3  # frames 0, 3, 6
    with Image.open(tmp_path / "every3.gif") as gif:
        assert gif.n_frames == 3 and gif.info["duration"] == 100


def test_left_is_blue_and_right_is_red_on_the_correct_side_in_both_panels(tmp_path):
    figure = render.ClipFigure(walking_clip())
    image = figure.draw(3)
    half = image.shape[1] // 2
    for panel in (image[:, :half], image[:, half:]):  # 2D input | 3D prediction
        left, right = colour_columns(panel, render.LEFT), colour_columns(panel, render.RIGHT)
        assert len(left) > 100 and len(right) > 100
        assert left.mean() > right.mean()  # facing the camera: the subject's left is on the image's right
    render.write(walking_clip(), tmp_path / "frame.png", frame=3)
    assert Image.open(tmp_path / "frame.png").size == (image.shape[1], image.shape[0])


def test_axes_are_fixed_for_the_whole_clip():
    clip = walking_clip()
    figure = render.ClipFigure(clip)
    ax2d, ax3d = figure.figure.axes
    figure.draw(0)
    limits = [ax2d.get_xlim(), ax2d.get_ylim(), ax3d.get_xlim3d(), ax3d.get_ylim3d(), ax3d.get_zlim3d()]
    figure.draw(len(clip.pose_3d) - 1)
    assert limits == [ax2d.get_xlim(), ax2d.get_ylim(), ax3d.get_xlim3d(), ax3d.get_ylim3d(), ax3d.get_zlim3d()]
    x = clip.input_2d
    assert ax2d.get_xlim()[0] < x[..., 0].min() and x[..., 0].max() < ax2d.get_xlim()[1]  # every frame fits
    assert ax2d.get_ylim()[0] > ax2d.get_ylim()[1]  # y points down, as in the image


def test_hummuss_render_command(tmp_path):
    clip = walking_clip(5)
    np.save(tmp_path / "pred.npy", np.stack([clip.pose_3d, clip.pose_3d]))  # (S=2, T, 17, 3)
    np.save(tmp_path / "in.npy", np.stack([clip.input_2d, clip.input_2d]))
    with pytest.raises(SystemExit) as done:
        hummuss(["render", str(tmp_path / "pred.npy"), "--input", str(tmp_path / "in.npy"), "--out", str(tmp_path / "r.gif"), "--stream", "1"])
    assert done.value.code == 0
    assert Image.open(tmp_path / "r.gif").n_frames == 5
    np.save(tmp_path / "short.npy", clip.input_2d[:3])
    cases = [
        (["--out", str(tmp_path / "r.avi")], "write .gif, .png"),
        (["--out", str(tmp_path / "r.gif"), "--input", str(tmp_path / "short.npy")], "must match"),
        (["--out", str(tmp_path / "r.gif"), "--stream", "2"], "holds streams 0..1"),
        (["--out", str(tmp_path / "r.png"), "--frame", "9"], "the clip has frames 0..4"),
    ]
    if shutil.which("ffmpeg") is None:
        cases.append((["--out", str(tmp_path / "r.mp4")], "mp4 needs ffmpeg"))
    for options, message in cases:
        with pytest.raises(SystemExit, match=message):
            hummuss(["render", str(tmp_path / "pred.npy"), *options])


def test_hummuss_render_reads_the_clips_of_a_predictions_file(tmp_path):
    # What `hummuss predict` writes for a pretraining task (PretrainTask.predictions gathered by
    # callbacks.PredictionWriter): per clip the source, pose_3d (N, T, 17, 3), scale_mm and index.
    clip = walking_clip(4)
    pose = torch.from_numpy(np.stack([clip.pose_3d, clip.pose_3d[::-1].copy()]))
    torch.save({"source": ["synthetic", "synthetic"], "pose_3d": pose, "scale_mm": torch.ones(2), "index": torch.arange(2)},
               tmp_path / "predictions.pt")  # fmt: skip
    with pytest.raises(SystemExit) as done:
        hummuss(["render", str(tmp_path / "predictions.pt"), "--stream", "1", "--out", str(tmp_path / "clip1.gif")])
    assert done.value.code == 0 and Image.open(tmp_path / "clip1.gif").n_frames == 4
    torch.save({"pose_3d_mm": pose[:, 0], "valid": torch.ones(2, dtype=torch.bool)}, tmp_path / "pose3d.pt")
    with pytest.raises(SystemExit, match="one frame per window, not clips"):
        hummuss(["render", str(tmp_path / "pose3d.pt"), "--out", str(tmp_path / "x.gif")])


# ---------------------------------------------------------------------------------------- hummuss-stream
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hummuss-tiny-causal")
    run_cli(["fit", "--config", "experiments/quickstart.yaml", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
             "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]",
             "--trainer.logger", "false", "--data.init_args.num_workers", "0", "--model.init_args.backbone", "hummuss-tiny-causal"],
            folder)  # fmt: skip
    return folder / "checkpoints" / "quickstart" / "version_0" / "last.ckpt"


def alphapose_file(path: Path, frames: int) -> Path:
    """A tracked AlphaPose Halpe-26 file of two people; person 2 is not detected in frame 3."""
    rng = np.random.default_rng(0)
    entries = []
    for k in range(frames):
        for idx in (1, 2) if k != 3 else (1,):
            kp = np.c_[rng.uniform(300, 700, (26, 2)) + 200 * (idx - 1), rng.uniform(0.3, 1, 26)]
            entries.append({"image_id": f"{k}.jpg", "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 2.0,
                            "box": [300.0, 300.0, 600.0, 400.0], "idx": idx})  # fmt: skip
    path.write_text(json.dumps(entries))
    return path


def test_stream_a_detector_file_and_render_it(checkpoint, tmp_path, capsys):
    path = alphapose_file(tmp_path / "alphapose-results.json", frames=12)
    args = [str(checkpoint), str(path), "--image-size", "1280", "720", "--fps", "30", "--train-fps", "30", "--device", "cpu"]
    assert stream([*args, "--render", str(tmp_path / "person2.gif"), "--render-stream", "1"]) == 0
    out = np.load(tmp_path / "alphapose-results_3d.npy")
    streamed_2d = np.load(tmp_path / "alphapose-results_2d.npy")
    expected_2d = read_streams(path, (1280, 720)).keypoints
    assert out.shape == (2, 12, 17, 3)
    np.testing.assert_array_equal(streamed_2d, expected_2d)
    assert not expected_2d[1, 3].any()  # the frame person 2 was missed: fed as zero-confidence joints
    task = PretrainTask.load_from_checkpoint(checkpoint).eval()
    with torch.no_grad():
        offline = root_relative(task(torch.from_numpy(expected_2d), 1.0)).numpy()
    np.testing.assert_allclose(out, offline, atol=1e-4)  # each person its own stream
    with Image.open(tmp_path / "person2.gif") as gif:
        assert gif.n_frames == 12
    printed = capsys.readouterr().out
    assert "stream 1 = idx 2: detected in 11 of 12 frames, 1 frame without a detection fed as missing joints" in printed
    assert "12 rendered frame(s) of stream 1" in printed
    for options, message in [(["--render", str(tmp_path / "x.avi")], "write .gif"), (["--render-stream", "2", "--render", "a.gif"], "streams 0..1"),
                             ([], None)]:  # fmt: skip
        if message is None:  # no --image-size: the detector file cannot be normalised
            with pytest.raises(SystemExit, match="do not record the image size: pass --image-size"):
                stream([str(checkpoint), str(path), "--device", "cpu"])
            continue
        with pytest.raises(SystemExit, match=message):
            stream([*args, *options])


# ---------------------------------------------------------------------------------------- hummuss predict
def test_hummuss_predict_renders_the_first_held_out_clips(checkpoint, tmp_path, monkeypatch):
    from helpers import TINY_QUICKSTART

    from hummuss_pl.callbacks import PredictionWriter

    drawn = spy(monkeypatch, render, "write")  # (clip, out) per drawn clip
    cli = run_cli(["predict", *TINY_QUICKSTART, "--ckpt_path", str(checkpoint), "--trainer.limit_predict_batches", "1",
                   "--trainer.callbacks+=hummuss_pl.callbacks.PredictionWriter", "--trainer.callbacks.render", "2"], tmp_path)  # fmt: skip
    [writer] = [c for c in cli.trainer.callbacks if isinstance(c, PredictionWriter)]
    assert [p.name for p in writer.rendered] == ["clip-00000.gif", "clip-00001.gif"]
    assert all(p.parent == (tmp_path / cli.run_dir / "render").absolute() for p in writer.rendered)
    predicted = torch.load(writer.written[0], weights_only=False)
    for path, (clip, _), row in zip(writer.rendered, drawn, (0, 1)):
        with Image.open(path) as gif:
            assert gif.n_frames == predicted["pose_3d"].shape[1] == 27  # one GIF frame per clip frame
        np.testing.assert_array_equal(clip.pose_3d, predicted["pose_3d"][row].numpy())
        assert clip.input_2d.shape == (27, 17, 3) and clip.fps == 30 and clip.label == f"synthetic item {row}"
        assert clip.target_3d is not None and np.allclose(clip.target_3d[:, 0], 0)  # ground truth, root-relative
    assert any(line.startswith("  rendered clips (2): ") for line in cli.summary)


def test_the_prediction_writer_refuses_what_it_cannot_draw():
    from hummuss_pl.callbacks import PredictionWriter

    with pytest.raises(ValueError, match="an integer >= 0"):
        PredictionWriter(render=-1)
    with pytest.raises(ValueError, match="write .gif, .png"):
        PredictionWriter(render=2, render_format="avi")
    windows = {"pose_3d_mm": torch.zeros(2, 17, 3), "valid": torch.ones(2, dtype=torch.bool)}  # Pose3DTask: a frame per window
    with pytest.raises(ValueError, match=r"draws predicted clips .* predicts \['pose_3d_mm', 'valid'\]: set render to 0"):
        PredictionWriter(render=2)._render_clips(torch.nn.Module(), windows, {}, None)
