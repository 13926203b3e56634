"""PoseTrack18 2D tracks for pretraining (L_2D), as MotionBERT's `PoseTrackDataset2D` builds them.

Files: DATA_ROOT/motion2d/posetrack18_annotations/train/*.json — the MMPose-distributed, COCO-style
annotation files, one per video:

    {"images": [{"id", "file_name", "frame_id", "vid_id", ...}, ...],
     "annotations": [{"image_id", "track_id", "keypoints": [x, y, v] * 17, "bbox", ...}, ...],
     "categories": [...]}

Keypoints are PoseTrack's 17 (nose, head_bottom, head_top, ears (unannotated), shoulders, elbows,
wrists, hips, knees, ankles; left before right) in pixels with visibility v ∈ {0, 1}.

Processing (MotionBERT, counted in `report` when something is dropped):
1. per file, group annotations by `track_id` (in the order of their images in "images" when given,
   else file order);
2. drop tracks with fewer than `clip_len` (30) frames; keep the first 30 frames of the others;
3. drop tracks whose visibility sum is not above `min_visible` (306 = 60 % of 30 · 17);
4. `crop_scale` with a ratio drawn once per track from U(scale_range) (seeded, fixed at construction);
5. `skeleton.posetrack_to_h36m` (neck = head_bottom, head = head_top, root = mid-hip, belly =
   mid(root, neck); confidence of a midpoint = min of its sources); joints with confidence 0 are
   zeroed;
6. drop tracks whose root is not visible in every frame.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import sample_2d_only
from hummuss_pl.skeleton import posetrack_to_h36m

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    check_scale_range,
    crop_scale,
    note_split,
    require_file,
    require_keys,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec

__all__ = ["PoseTrackConfig", "PoseTrack2D", "read_posetrack_json"]

ANCHOR = "posetrack18"


def read_posetrack_json(path: str | os.PathLike) -> dict[object, np.ndarray]:
    """{track_id: (frames, 17, 3) float32 keypoints (x, y, v)} of one annotation file, frames in
    image order. Errors name the file and the annotation."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataFormatError(path, f"not valid JSON ({e})") from e
    require_keys(d, ("annotations",), path)
    order = {}
    if isinstance(d.get("images"), list):
        order = {img.get("id"): i for i, img in enumerate(d["images"]) if isinstance(img, dict)}
    tracks: dict[object, list[tuple[int, int, np.ndarray]]] = defaultdict(list)
    for k, ann in enumerate(d["annotations"]):
        where = f"annotations[{k}]" + (f" (id {ann['id']})" if isinstance(ann, dict) and "id" in ann else "")
        require_keys(ann, ("track_id", "keypoints"), path, where)
        kp = np.asarray(ann["keypoints"], dtype=np.float32)
        if kp.size != 51:
            raise DataFormatError(path, f"{where}: keypoints must hold 17 × (x, y, v) = 51 numbers; got {kp.size}")
        tracks[ann["track_id"]].append((order.get(ann.get("image_id"), len(order) + k), k, kp.reshape(17, 3)))
    return {tid: np.stack([kp for _, _, kp in sorted(items, key=lambda t: (t[0], t[1]))]) for tid, items in tracks.items()}


@dataclass(frozen=True)
class PoseTrackConfig:
    """root: the folder of annotation JSONs (…/posetrack18_annotations/train).
    min_visible: the visibility sum must exceed it; None = round(0.6 · clip_len · 17) (306 for 30).
    fps: PoseTrack's labelled frames are consecutive video frames; their rate is not in the files."""

    root: str
    clip_len: int = 30
    min_visible: float | None = None
    scale_range: tuple[float, float] = (0.25, 1.0)
    seed: int = 0
    fps: float = 30.0

    def __post_init__(self) -> None:
        if self.clip_len < 1:
            raise ValueError(f"PoseTrackConfig.clip_len must be >= 1; got {self.clip_len}")
        check_scale_range(self.scale_range, "PoseTrackConfig.scale_range")

    @property
    def visible_threshold(self) -> float:
        return self.min_visible if self.min_visible is not None else round(0.6 * self.clip_len * 17)


class PoseTrack2D(Dataset):
    """Sample keys: INPUT (T, 17, 3) in [-1, 1], TARGET_3D zeros, HAS_3D False, FPS, SCALE_MM 1.0,
    SOURCE "posetrack"."""

    def __init__(self, config: PoseTrackConfig) -> None:
        self.config = config
        root = require_file(config.root, "PoseTrack18 annotation folder", ANCHOR, directory=True)
        files = sorted(p for p in root.iterdir() if p.suffix == ".json")
        if not files:
            raise DataFormatError(root, "holds no *.json annotation files")
        rng = np.random.default_rng(config.seed)
        n = config.clip_len
        self.report = ReadReport("posetrack", str(root))
        kept: list[np.ndarray] = []
        for path in files:
            for track in read_posetrack_json(path).values():
                self.report.frames += len(track)
                if len(track) < n:
                    self.report.drop(f"tracks shorter than {n} frames")
                    continue
                self.report.frames_dropped += len(track) - n
                motion = track[:n]
                if motion[..., 2].sum() <= config.visible_threshold:
                    self.report.drop(f"tracks with visibility sum <= {config.visible_threshold:g}")
                    continue
                lo, hi = config.scale_range
                motion = crop_scale(motion, lo + (hi - lo) * rng.random())
                motion = posetrack_to_h36m(motion, has_conf=True)  # (T, 17, 3)
                motion[motion[..., 2] == 0] = 0
                if (motion[:, 0, 2] == 0).any():
                    self.report.drop("tracks whose root is not visible in every frame")
                    continue
                kept.append(motion.astype(np.float32))
        self.motions = np.stack(kept) if kept else np.zeros((0, n, 17, 3), np.float32)  # (N, T, 17, 3)
        self.report.items = len(self.motions)
        self.report.notes.append(f"{len(files)} files")
        self.report.log()

    def __len__(self) -> int:
        return len(self.motions)

    def __getitem__(self, index: int) -> dict:
        motion = self.motions[index]
        return sample_2d_only(motion, self.config.fps, "posetrack")


# ------------------------------------------------------------------------------------ registry
def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    return PoseTrack2D(PoseTrackConfig(root=str(path), **cfg.reader_options()))


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    files = len(list(path.glob("*.json")))
    note_split(row, "train", PoseTrack2D(PoseTrackConfig(str(path))).report, f"tracks ({files} files)")
    return [row]


READER = Reader(
    datasets=(DatasetLayout("posetrack", "PoseTrack18", "motion2d/posetrack18_annotations/train", anchor="posetrack18", check=_check),),
    sources={"posetrack": SourceSpec(_build, "posetrack", has_3d=False, eval_split=None)},
)
