"""Pictures of a pose stream: per frame, the 2D input and the 3D prediction side by side, written as an
animated GIF (Pillow), an mp4 (only where ffmpeg is installed) or one frame as a PNG.

    hummuss render PRED.npy [--input KEYPOINTS.npy] --out out.gif [--fps 30] [--stream S] [--stride K]
    hummuss render PRED.npy --input KEYPOINTS.npy --out frame.png --frame 40

PRED       .npy (T, 17, 3) or (S, T, 17, 3): 3D joints in H36M-17 order (what `hummuss-stream` writes;
           normalised units, x right, y down, z away from the camera). Or the predictions.pt that
           `hummuss predict` writes for a pretraining task: its "pose_3d" (N, T, 17, 3), one clip of
           the predicted split per stream (--stream picks the clip; only the 3D panel is drawn).
KEYPOINTS  .npy (T | S, T, 17, 2 | 3) 2D input in normalised screen units (x, y, confidence), e.g. the
           `*_2d.npy` that `hummuss-stream` writes for detector files; pixels with --image-size W H.
           Without it only the 3D panel is drawn.

Drawing: H36M bones (`skeleton.H36M_PARENTS`), the subject's left side blue and right side red in
both panels (a bone takes the side of the joint it leads to), the centre line grey. A clip with ground
truth (`Clip.target_3d`, e.g. from `hummuss predict` with PredictionWriter(render=N)) shows it thin
and dashed in the same colours in the 3D panel. The axes are
fixed for the whole clip (the extent of all its frames), the 2D panel with y pointing down as in the
image, the 3D panel seen from slightly above and to the side of the camera, with y up. Joints with
confidence 0 (missing) are not drawn. The title gives the frame, the frame rate and, from
`hummuss-stream --render`, the model's step latency for that frame.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image  # matplotlib's own dependency

from hummuss_pl.batch import normalize_screen
from hummuss_pl.skeleton import H36M_LEFT, H36M_PARENTS, H36M_RIGHT, NUM_JOINTS

LEFT, RIGHT, CENTRE = "#1f5fd6", "#e0201b", "#555555"  # blue, red, grey
BONES = tuple((parent, child) for child, parent in enumerate(H36M_PARENTS) if parent >= 0)
PLAYBACK_FPS = 25.0  # GIF speed when the clip's frame rate is unknown


def side_colour(joint: int) -> str:
    """The colour of `joint`'s side of the body (left blue, right red, centre grey)."""
    return LEFT if joint in H36M_LEFT else RIGHT if joint in H36M_RIGHT else CENTRE


@dataclass
class Clip:
    """What to draw: T frames of 3D joints, optionally their 2D input, frame rate and step latency."""

    pose_3d: np.ndarray  # (T, 17, 3)
    input_2d: np.ndarray | None = None  # (T, 17, 3) x, y, confidence in normalised screen units
    fps: float | None = None
    latency_ms: np.ndarray | None = None  # (T,) time of each frame's step
    frames: np.ndarray | None = None  # (T,) frame numbers for the title (default 0..T-1)
    label: str = ""  # who this is, e.g. "idx 3"
    target_3d: np.ndarray | None = None  # (T, 17, 3) ground truth in the prediction's units, drawn dashed

    def __post_init__(self) -> None:
        t = len(self.pose_3d)
        if self.pose_3d.ndim != 3 or self.pose_3d.shape[1:] != (NUM_JOINTS, 3) or t == 0:
            raise ValueError(f"pose_3d must be (T, 17, 3); got {self.pose_3d.shape}")
        for name in ("input_2d", "target_3d"):
            value = getattr(self, name)
            if value is not None and (value.shape[0] != t or value.shape[1:] != (NUM_JOINTS, 3)):
                raise ValueError(f"{name} must be (T, 17, 3) with the same T = {t} as pose_3d; got {value.shape}")
        for name in ("latency_ms", "frames"):
            value = getattr(self, name)
            if value is not None and len(value) != t:
                raise ValueError(f"{name} must have one value per frame ({t}); got {len(value)}")


def _cube(points: np.ndarray, margin: float = 1.1) -> tuple[np.ndarray, float]:
    """Centre and half side of a cube holding every point (N, 3)."""
    low, high = points.min(0), points.max(0)
    return (low + high) / 2, max(float((high - low).max()) / 2 * margin, 1e-3)


class ClipFigure:
    """One figure for a whole clip, its axes fixed from every frame; `draw(t)` gives frame t as RGB."""

    def __init__(self, clip: Clip, dpi: int = 72) -> None:
        self.clip = clip
        panels = 1 + (clip.input_2d is not None)
        self.figure = Figure(figsize=(4.2 * panels, 4.4), dpi=dpi)
        self.figure.subplots_adjust(left=0.08, right=0.97, bottom=0.07, top=0.88, wspace=0.15)
        self.canvas = FigureCanvasAgg(self.figure)
        self.lines_2d = self._axes_2d(panels) if clip.input_2d is not None else None
        self.lines_3d = self._axes_3d(panels)
        self.title = self.figure.suptitle("", fontsize=11)
        self.figure.text(0.02, 0.955, "left", color=LEFT, fontsize=10, weight="bold")
        self.figure.text(0.02, 0.915, "right", color=RIGHT, fontsize=10, weight="bold")
        if clip.target_3d is not None:
            self.figure.text(0.98, 0.915, "dashed: ground truth", color=CENTRE, fontsize=9, ha="right")

    def _axes_2d(self, panels: int) -> list:
        ax = self.figure.add_subplot(1, panels, 1)
        x = self.clip.input_2d
        seen = x[..., :2][x[..., 2] > 0]  # (N, 2) every detected joint of the clip
        centre, half = _cube(np.c_[seen, np.zeros(len(seen))]) if len(seen) else (np.zeros(3), 1.0)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] + half, centre[1] - half)  # y down, as in the image
        ax.set_aspect("equal")
        ax.set_title("2D input", fontsize=10)
        ax.tick_params(labelsize=7)
        self.missing = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", color=CENTRE)
        return [ax.plot([], [], "-o", color=side_colour(c), lw=2.5, ms=3)[0] for _, c in BONES]

    def _axes_3d(self, panels: int) -> list:
        ax = self.figure.add_subplot(1, panels, panels, projection="3d")
        poses = [p for p in (self.clip.pose_3d, self.clip.target_3d) if p is not None]
        shown = self._to_plot(np.concatenate(poses))  # (T or 2T, 17, 3): the prediction and its ground truth
        centre, half = _cube(shown.reshape(-1, 3))
        for set_lim, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
            set_lim(c - half, c + half)
        ax.set_box_aspect((1, 1, 1), zoom=1.15)
        ax.view_init(elev=12, azim=-70)
        for axis, name in zip((ax.xaxis, ax.yaxis, ax.zaxis), ("x", "depth", "up")):
            axis.set_label_text(name, fontsize=8)
            axis.labelpad = -6
        ax.tick_params(labelsize=6, pad=-2)
        ax.set_title("3D prediction", fontsize=10)
        if self.clip.target_3d is not None:
            self.target_lines = [ax.plot([], [], [], "--", color=side_colour(c), lw=1.2, alpha=0.7)[0] for _, c in BONES]
        return [ax.plot([], [], [], "-o", color=side_colour(c), lw=2.5, ms=3)[0] for _, c in BONES]

    @staticmethod
    def _to_plot(pose: np.ndarray) -> np.ndarray:
        """(..., 3) model axes (x right, y down, z depth) → plot axes (x, depth, up)."""
        return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], -1)

    def _title(self, t: int) -> str:
        clip = self.clip
        parts = [f"frame {int(clip.frames[t]) if clip.frames is not None else t}"]
        if clip.fps:
            parts.append(f"{clip.fps:g} fps")
        if clip.latency_ms is not None:
            parts.append(f"step {float(clip.latency_ms[t]):.1f} ms")
        if clip.label:
            parts.append(clip.label)
        return " · ".join(parts)

    def draw(self, t: int) -> np.ndarray:
        """Frame t as an (H, W, 3) uint8 image."""
        if self.lines_2d is not None:
            x = self.clip.input_2d[t]
            for line, (a, b) in zip(self.lines_2d, BONES):
                line.set_data(*(x[[a, b], :2].T if x[a, 2] > 0 and x[b, 2] > 0 else ([], [])))
            self.missing.set_text("" if (x[:, 2] > 0).any() else "no detection")
        pose = self._to_plot(self.clip.pose_3d[t])
        for line, (a, b) in zip(self.lines_3d, BONES):
            line.set_data_3d(*pose[[a, b]].T)
        if self.clip.target_3d is not None:
            target = self._to_plot(self.clip.target_3d[t])
            for line, (a, b) in zip(self.target_lines, BONES):
                line.set_data_3d(*target[[a, b]].T)
        self.title.set_text(self._title(t))
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def check_output(out: Path, stride: int = 1) -> None:
    """Raises ValueError unless `write` can write `out` (checked before a long run, not after)."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".gif", ".mp4", ".png"):
        raise ValueError(f"{out}: write .gif, .png (one frame) or .mp4 (needs ffmpeg)")
    if stride < 1:
        raise ValueError(f"render stride must be ≥ 1; got {stride}")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError(f"{out}: mp4 needs ffmpeg, which is not installed here; write a .gif instead")


def write(clip: Clip, out: str | Path, stride: int = 1, frame: int | None = None) -> int:
    """Writes `clip` to `out` by its suffix: .gif (every `stride`-th frame), .mp4 (needs ffmpeg) or .png
    (frame `frame`, default the middle one). Returns the number of frames written."""
    out = Path(out)
    check_output(out, stride)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = ClipFigure(clip)
    t_all = len(clip.pose_3d)
    if suffix == ".png":
        t = t_all // 2 if frame is None else frame
        if not 0 <= t < t_all:
            raise ValueError(f"--frame {t}: the clip has frames 0..{t_all - 1}")
        Image.fromarray(figure.draw(t)).save(out)
        return 1
    ticks = range(0, t_all, stride)
    fps = (clip.fps or PLAYBACK_FPS) / stride
    if suffix == ".mp4":
        from matplotlib.animation import FFMpegWriter

        writer = FFMpegWriter(fps=fps)
        with writer.saving(figure.figure, str(out), dpi=figure.figure.dpi):
            for t in ticks:
                figure.draw(t)
                writer.grab_frame()
        return len(ticks)
    images = [Image.fromarray(figure.draw(t)).quantize(colors=64) for t in ticks]  # palette images: 1 byte a pixel
    images[0].save(out, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return len(images)


# ---------------------------------------------------------------------------------------- `hummuss render`
def _predicted_clips(path: Path) -> np.ndarray:
    """The "pose_3d" clips (N, T, 17, 3) of a `hummuss predict` predictions.pt."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(saved, dict) or not isinstance(saved.get("pose_3d"), torch.Tensor):
        found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise SystemExit(f"hummuss render: {path}: expected the predictions of a pretraining task with 'pose_3d' (N, T, 17, 3) clips; "
                         f"found {found} (fine-tuned 3D tasks predict one frame per window, not clips)")  # fmt: skip
    return saved["pose_3d"].float().numpy()


def _load(path: Path, what: str, channels: tuple[int, ...]) -> np.ndarray:
    """(S, T, 17, C) float32 from a (T | S, T, 17, C) .npy (or a predictions.pt); SystemExit naming the
    file otherwise."""
    if not path.is_file():
        raise SystemExit(f"hummuss render: {what} file not found: {path}")
    x = _predicted_clips(path) if path.suffix == ".pt" else np.load(path, allow_pickle=False)
    if x.ndim not in (3, 4) or x.shape[-2] != NUM_JOINTS or x.shape[-1] not in channels or 0 in x.shape:
        shape = " or ".join(f"(T, 17, {c})" for c in channels)
        raise SystemExit(f"hummuss render: {path}: expected {what} of shape {shape}, optionally with a leading stream axis S; got {x.shape}")
    if not np.isfinite(x).all():
        raise SystemExit(f"hummuss render: {path}: contains NaN or infinite values")
    x = x.astype(np.float32)
    return x[None] if x.ndim == 3 else x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hummuss render", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prediction", type=Path, help=".npy (T | S, T, 17, 3) 3D joints, or a `hummuss predict` predictions.pt")
    parser.add_argument("--input", type=Path, default=None, help=".npy (T | S, T, 17, 2|3) 2D input, normalised (or pixels with --image-size)")
    parser.add_argument("--image-size", type=float, nargs=2, metavar=("W", "H"), default=None, help="the 2D input is pixels of a W × H image")
    parser.add_argument("--out", type=Path, required=True, help="out.gif, out.mp4 (needs ffmpeg) or out.png (one frame)")
    parser.add_argument("--stream", type=int, default=0, help="which stream (person) of an (S, T, 17, 3) file (default 0)")
    parser.add_argument("--fps", type=float, default=None, help=f"frame rate of the clip: title and playback speed (default {PLAYBACK_FPS:g} for playback)")
    parser.add_argument("--stride", type=int, default=1, help="draw every K-th frame (smaller GIFs for long clips)")
    parser.add_argument("--frame", type=int, default=None, help="the frame a .png shows (default the middle one)")
    args = parser.parse_args(argv)

    pred = _load(args.prediction, "3D predictions", (3,))
    inputs = _load(args.input, "2D input", (2, 3)) if args.input is not None else None
    if not 0 <= args.stream < len(pred):
        raise SystemExit(f"hummuss render: --stream {args.stream}: {args.prediction} holds streams 0..{len(pred) - 1}")
    input_2d = None
    if inputs is not None:
        if inputs.shape[:2] != pred.shape[:2]:
            raise SystemExit(f"hummuss render: {args.input} has (streams, frames) {inputs.shape[:2]}, {args.prediction} {pred.shape[:2]}: they must match")
        x = inputs[args.stream]
        xy = normalize_screen(x[..., :2], *args.image_size) if args.image_size else x[..., :2]
        conf = x[..., 2:] if x.shape[-1] == 3 else np.ones_like(x[..., :1])
        input_2d = np.concatenate([xy, conf], -1)
    try:
        unit = "clip" if args.prediction.suffix == ".pt" else "stream"
        clip = Clip(pred[args.stream], input_2d, fps=args.fps, label=f"{unit} {args.stream}" if len(pred) > 1 else "")
        written = write(clip, args.out, stride=args.stride, frame=args.frame)
    except ValueError as err:
        raise SystemExit(f"hummuss render: {err}") from None
    print(f"{written} frame(s) of {args.prediction} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
