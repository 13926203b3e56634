"""`hummuss-stream`: run a causal checkpoint over a keypoint sequence one frame at a time, as it
would run behind a live camera, and report the per-frame latency.

    hummuss-stream CKPT KEYPOINTS.npy [--out OUT.npy] [--fps 50 | --timestamps T.npy]
                   [--train-fps 30] [--image-size W H] [--mode window|kv] [--device cuda]

KEYPOINTS  .npy of shape (T, 17, 3) (x, y, confidence) or (T, 17, 2) (confidence 1), H36M-17
           order, in MotionBERT's normalised screen units (x / W · 2 − 1, y / W · 2 − H / W), or in
           pixels with --image-size W H. (S, T, 17, C) streams S people side by side.
           Or a 2D detector's output (`hummuss_pl.keypoints`, needs --image-size): an AlphaPose results
           JSON (Halpe-26 or COCO-17), an MMPose / RTMPose predictions JSON, or a folder of OpenPose
           JSON files (BODY_25 or COCO-18); converted to H36M-17, one stream per tracked person
           (--skeleton names the layout, --min-frames drops people seen in fewer frames, counted).
           The 2D it streamed is saved next to OUT, as OUT with _3d replaced by _2d (S, T, 17, 3).
CKPT       a checkpoint of PretrainTask or Pose3DTask (the 3D lifting tasks) with a causal backbone:
           HumMUSS runs its recurrent step; causal MotionBERT a sliding window (--mode window,
           --window W) or a KV cache (--mode kv, at most maxlen frames).
Frame rate HumMUSS runs every step at rate = train_fps / fps (--fps), or per frame from camera
           timestamps in seconds (--timestamps: rate_k = (t_k − t_{k−1}) · train_fps, frame 0 uses
           the first interval). train_fps is --train-fps or the checkpoint's `reference_fps`.
           Without either option every step runs at rate 1 (the training frame spacing).
OUT        .npy like the input with 3 channels: root-relative 3D joints in normalised units, the
           output at frame t computed from frames ≤ t only (default: KEYPOINTS with suffix _3d.npy);
           (S, T, 17, 3) for detector files.
--render   out.gif (or .mp4 with ffmpeg, .png for one frame): the 2D input and the 3D prediction of
           stream --render-stream side by side, frame rate and step latency in the title (`render`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hummuss_pl import keypoints as detector_files
from hummuss_pl import render
from hummuss_pl.batch import normalize_screen
from hummuss_pl.metrics import root_relative
from hummuss_pl.models import CheckpointFileError, read_checkpoint, supports_rate
from hummuss_pl.models.inputs import MAX_COORDINATE
from hummuss_pl.tasks import BackboneTask, Pose3DTask, PretrainTask

TASKS: dict[str, type[BackboneTask]] = {"pretrain": PretrainTask, "pose3d": Pose3DTask}


def fail(message: str) -> SystemExit:
    return SystemExit(f"hummuss-stream: {message}")


class UnusableCheckpoint(ValueError):
    """A checkpoint file that holds no 3D lifting task this suite can load (the message names the file)."""


class OfficialMotionBERTFile(UnusableCheckpoint):
    """An official MotionBERT weights file (`model_pos` / `model`), not a checkpoint of this suite."""


def read_lifting_task(path: Path, task: str | None = None, device: str = "cpu") -> BackboneTask:
    """The 3D lifting task (`TASKS`) of Lightning checkpoint `path`, in eval mode on `device`, whatever its
    backbone; UnusableCheckpoint naming the file when there is none. `task` names the task class for
    checkpoints that do not say which task wrote them. Shared by `hummuss-stream` and `hummuss export`."""
    if not path.is_file():
        raise UnusableCheckpoint(f"checkpoint not found: {path}")
    try:
        checkpoint = read_checkpoint(path, weights_only=False)
    except CheckpointFileError as err:
        raise UnusableCheckpoint(str(err)) from None
    if not isinstance(checkpoint, dict):
        raise UnusableCheckpoint(f"{path}: not a Lightning checkpoint (a {type(checkpoint).__name__}, not a dict)")
    if "state_dict" not in checkpoint and ("model_pos" in checkpoint or "model" in checkpoint):
        key = "model_pos" if "model_pos" in checkpoint else "model"
        raise OfficialMotionBERTFile(f"{path} is an official MotionBERT weights file ('{key}'), not a checkpoint written by "
                                     "`hummuss fit`: fine-tune a task from it first (its `pretrained` argument)")  # fmt: skip
    class_path = checkpoint.get("hyper_parameters", {}).get("_class_path")
    by_path = {f"{cls.__module__}.{cls.__name__}": cls for cls in TASKS.values()}
    if task is not None:
        cls = TASKS[task]
    elif class_path is None:
        raise UnusableCheckpoint(f"{path} does not say which task wrote it (no hyper_parameters._class_path): pass --task {'|'.join(TASKS)}")
    elif class_path not in by_path:
        raise UnusableCheckpoint(f"{path} is a {class_path} checkpoint; a 3D lifting task is needed ({', '.join(by_path)})")
    else:
        cls = by_path[class_path]
    return cls.load_from_checkpoint(path, map_location=device).eval()


def load_task(path: Path, task: str | None, device: str) -> BackboneTask:
    """The lifting task of checkpoint `path`, causal, in eval mode on `device`."""
    try:
        model = read_lifting_task(path, task, device)
    except UnusableCheckpoint as err:
        raise fail(str(err)) from None
    if not model.backbone_cfg.causal:
        raise fail(f"{path} has a bidirectional backbone, which needs the whole clip: stream a causal model, "
                   "or run `hummuss predict` for offline clips")  # fmt: skip
    return model


NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every .npy file (numpy.save)


def load_npy(path: Path, what: str) -> np.ndarray:
    """A numeric array from a .npy file, or a one-line error saying what the file is instead."""
    if not path.is_file():
        raise fail(f"{what} not found: {path}")
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:
        found = "an empty file" if not head else "not a .npy file (numpy.save writes those; text, CSV or JSON is not read here)"
        raise fail(f"{path}: {found}; expected a {what} saved with numpy.save")
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise fail(f"{path}: holds Python objects (an object array), not numbers; save a float array") from None
        raise fail(f"{path}: cannot be read as a .npy array ({err})") from None
    except (OSError, EOFError) as err:
        raise fail(f"{path}: cannot be read as a .npy array, it may be truncated ({type(err).__name__}: {err})") from None
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise fail(f"{path}: holds {x.dtype} values, not numbers")
    return x


def read_keypoints(path: Path, image_size: tuple[float, float] | None) -> tuple[np.ndarray, bool]:
    """(S, T, 17, 3) float32 normalised keypoints from a (T | S, T, 17, 2 | 3) .npy file, and whether
    the file held a single stream (T, 17, C)."""
    x = load_npy(path, "keypoint file")
    if x.ndim not in (3, 4) or x.shape[-2] != 17 or x.shape[-1] not in (2, 3) or 0 in x.shape:
        raise fail(f"{path}: expected keypoints of shape (T, 17, 3|2) or (S, T, 17, 3|2) in H36M-17 order; got {x.shape}")
    if not np.isfinite(x).all():
        raise fail(f"{path}: contains NaN or infinite values; mark missing joints with confidence 0 instead")
    single = x.ndim == 3
    x = x.astype(np.float32)[None] if single else x.astype(np.float32)  # (S, T, 17, C)
    xy, conf = x[..., :2], x[..., 2:] if x.shape[-1] == 3 else np.ones_like(x[..., :1])
    if image_size is not None:
        xy = normalize_screen(xy, *image_size)
    largest = float(np.abs(xy).max())
    if largest > MAX_COORDINATE:
        hint = "pixels? pass --image-size W H" if image_size is None else "pixels of a larger image than --image-size?"
        raise fail(f"{path}: coordinates reach {largest:.3g} normalised units ({MAX_COORDINATE:g} is fifty image widths "
                   f"away): {hint} The models take MotionBERT's normalised screen coordinates.")  # fmt: skip
    return np.concatenate([xy, conf], -1), single


def read_detector_file(path: Path, image_size: tuple[float, float] | None, skeleton: str | None,
                       min_frames: int) -> detector_files.Streams | None:  # fmt: skip
    """The per-person streams of a detector's JSON file or folder (printing what was converted and
    filled in), or None for a .npy."""
    if not detector_files.is_detector_output(path):
        return None
    try:
        detected = detector_files.read_streams(path, image_size, skeleton, min_frames)
    except detector_files.KeypointFileError as err:
        raise fail(str(err)) from None
    print("\n".join(detected.report))
    return detected


def input_path(out: Path) -> Path:
    """Where the 2D input of a detector file is saved beside OUT: clip_3d.npy → clip_2d.npy."""
    stem = out.stem[: -len("_3d")] if out.stem.endswith("_3d") else out.stem
    return out.with_name(f"{stem}_2d.npy")


def positive_rate(value: float | None, flag: str) -> float | None:
    """`value` (a frame rate in Hz) checked: None, or finite and > 0."""
    if value is not None and not (np.isfinite(value) and value > 0):
        raise fail(f"{flag} must be a frame rate in Hz, finite and > 0; got {value}")
    return value


def frame_rates(frames: int, fps: float | None, timestamps: Path | None, train_fps: float | None) -> list[float | None]:
    """The rate of each step (None: the training rate)."""
    if fps is None and timestamps is None:
        return [None] * frames
    if train_fps is None:
        raise fail("--fps / --timestamps need the frame rate the model was trained at: pass --train-fps "
                   "(the checkpoint has no reference_fps)")  # fmt: skip
    if fps is not None:
        return [train_fps / fps] * frames
    t = load_npy(timestamps, "timestamp file").astype(np.float64)
    if t.shape != (frames,):
        raise fail(f"{timestamps}: expected one timestamp (seconds) per frame, shape ({frames},); got {t.shape}")
    if not np.isfinite(t).all():
        raise fail(f"{timestamps}: timestamp {int(np.argmax(~np.isfinite(t)))} is {t[~np.isfinite(t)][0]}; every frame needs a finite time in seconds")
    if frames < 2:
        raise fail(f"{timestamps}: timestamps need at least two frames to give an interval")
    dt = np.diff(t)
    if not (dt > 0).all():
        raise fail(f"{timestamps}: timestamps must increase strictly (first bad pair at frame {int(np.argmax(dt <= 0)) + 1})")
    implied = 1.0 / float(np.median(dt))
    if not 1.0 <= implied <= 1000.0:
        unit = " (milliseconds? they would give this)" if implied < 1.0 else ""
        print(f"hummuss-stream: warning: the timestamps imply {implied:.3g} frames per second{unit}; they are read as "
              "seconds", file=sys.stderr)  # fmt: skip
    return [float(d * train_fps) for d in np.concatenate([dt[:1], dt])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hummuss-stream", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("keypoints", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="output .npy (default: <keypoints>_3d.npy)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=float, default=None, help="frame rate of the keypoints (HumMUSS)")
    rate.add_argument("--timestamps", type=Path, default=None, help=".npy (T,) seconds per frame (HumMUSS)")
    parser.add_argument("--train-fps", type=float, default=None, help="frame rate of the training data (default: the checkpoint's reference_fps)")
    parser.add_argument("--image-size", type=float, nargs=2, metavar=("W", "H"), default=None, help="keypoints are pixels in a W × H image")
    parser.add_argument("--mode", choices=("window", "kv"), default=None, help="MotionBERT: sliding-window recompute (default) or KV cache")
    parser.add_argument("--window", type=int, default=None, help="MotionBERT window: frames of context (default maxlen)")
    parser.add_argument("--task", choices=sorted(TASKS), default=None, help="for checkpoints not written by the hummuss CLI")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    files = parser.add_argument_group("detector files (AlphaPose, MMPose, OpenPose)")
    files.add_argument("--skeleton", choices=sorted(detector_files.SKELETONS), default=None, help="the keypoint layout, when the file's joint count is ambiguous")
    files.add_argument("--min-frames", type=int, default=2, help="leave out (and count) people detected in fewer frames (default 2)")
    pictures = parser.add_argument_group("pictures")
    pictures.add_argument("--render", type=Path, default=None, help="out.gif | out.mp4 | out.png: 2D input and 3D prediction side by side")
    pictures.add_argument("--render-stream", type=int, default=0, help="which stream (person) to render (default 0)")
    pictures.add_argument("--render-stride", type=int, default=1, help="render every K-th frame")
    args = parser.parse_args(argv)

    task = load_task(args.checkpoint, args.task, args.device)
    detected = read_detector_file(args.keypoints, args.image_size, args.skeleton, args.min_frames)
    x, single = (detected.keypoints, False) if detected is not None else read_keypoints(args.keypoints, args.image_size)  # (S, T, 17, 3)
    streams, frames = x.shape[:2]
    if args.render is not None:
        if not 0 <= args.render_stream < streams:
            raise fail(f"--render-stream {args.render_stream}: the input has streams 0..{streams - 1}")
        try:
            render.check_output(args.render, args.render_stride)
        except ValueError as err:
            raise fail(str(err)) from None
    is_hummuss = supports_rate(task.backbone)  # HumMUSS streams with its recurrent step, at any rate
    if is_hummuss and (args.mode is not None or args.window is not None):
        raise fail("--mode / --window are MotionBERT options; HumMUSS streams with its recurrent step")
    if not is_hummuss and (args.fps is not None or args.timestamps is not None):
        raise fail("MotionBERT has no frame-rate parameter: --fps / --timestamps apply to HumMUSS checkpoints only")
    train_fps = positive_rate(args.train_fps, "--train-fps") or getattr(task, "reference_fps", None)
    rates = frame_rates(frames, positive_rate(args.fps, "--fps"), args.timestamps, train_fps)
    maxlen = getattr(task.backbone_cfg, "maxlen", None)
    if args.mode == "kv" and frames > maxlen:
        raise fail(f"--mode kv holds at most maxlen={maxlen} frames (MotionBERT's temporal embedding ends there) and "
                   f"{args.keypoints} has {frames}: use --mode window, which slides over streams of any length")  # fmt: skip
    path = args.out or args.keypoints.with_name(f"{args.keypoints.stem}_3d.npy")
    if not path.parent.is_dir():
        raise fail(f"--out {path}: the folder {path.parent} does not exist; create it first")
    options = {} if is_hummuss else {"mode": args.mode or "window", "window": args.window}
    streamer = task.backbone.streamer(streams, device=args.device, **options)

    inputs = torch.from_numpy(x).to(args.device)
    outputs, latency = [], []
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        for t in range(frames):
            sync()
            start = time.perf_counter()
            y = streamer.push(inputs[:, t], rate=rates[t])  # (S, 17, 3)
            sync()
            latency.append(time.perf_counter() - start)
            outputs.append(root_relative(y).float().cpu())
    out = torch.stack(outputs, 1).numpy()  # (S, T, 17, 3)
    bad = ~np.isfinite(out).all(axis=(0, 2, 3))  # (T,)
    if bad.any():
        raise fail(f"the model gave NaN or infinite poses from frame {int(np.argmax(bad))} on ({int(bad.sum())} of {frames} "
                   f"frames); nothing was written. Check the input's scale (normalised screen coordinates)")  # fmt: skip
    np.save(path, out[0] if single else out)
    if detected is not None:
        np.save(input_path(path), x)

    ms = 1000 * np.asarray(latency[1:] if frames > 1 else latency)  # the first push also warms up
    kind = type(streamer).__name__
    print(f"{frames} frames × {streams} stream(s) through {kind} on {args.device}: per frame median "
          f"{np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms "
          f"(first frame {1000 * latency[0]:.2f} ms)")  # fmt: skip
    if args.fps is not None:
        budget = 1000 / args.fps
        verdict = "keeps up with" if np.percentile(ms, 95) <= budget else "is slower than"
        print(f"  p95 {verdict} {args.fps:g} fps ({budget:.1f} ms per frame)")
    print(f"  3D poses (root-relative, normalised units): {path}")
    if detected is not None:
        print(f"  2D input it streamed (H36M-17, normalised): {input_path(path)}")
    if args.render is not None:
        s = args.render_stream
        clip = render.Clip(out[s], x[s], fps=args.fps, latency_ms=1000 * np.asarray(latency), frames=detected.frames if detected is not None else None,
                           label=detected.people[s] if detected is not None else (f"stream {s}" if streams > 1 else ""))  # fmt: skip
        try:
            written = render.write(clip, args.render, stride=args.render_stride)
        except ValueError as err:
            raise fail(str(err)) from None
        print(f"  {written} rendered frame(s) of stream {s}: {args.render}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
