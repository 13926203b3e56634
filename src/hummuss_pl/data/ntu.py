"""NTU RGB+D 60 / 120 2D skeletons in pyskl's pickles, prepared as MotionBERT's `ActionDataset`.

Files: DATA_ROOT/action/ntu60_hrnet.pkl, ntu120_hrnet.pkl (pyskl, HRNet COCO-17 detections):

    {"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], "xview_train": [...], ...},
     "annotations": [{"frame_dir": "S001C001P001R001A001", "label": int, "img_shape": (H, W),
                      "original_shape": (H, W), "total_frames": T,
                      "keypoint": (M, T, 17, 2) pixels, "keypoint_score": (M, T, 17)}, ...]}

Per sample (MotionBERT order): make_cam (x, y) / max(W, H) · 2 − 1 on both axes; person tracking
(for M = 2, persons 0 and 1 swap from a frame on when person 0 is closer to person 1's previous
pose than to its own); COCO-17 → H36M-17 (`skeleton.coco_to_h36m`); confidence appended;
resampling of the T frames to `clip_len` (training: random indices drawn once at construction
from `seed`; evaluation: linspace); a missing second person is all zeros (M = 2 always). Then per
item: training `random_move` (rotation ±10°, scale 0.9–1.1, translation ±0.1 interpolated over
time) and `crop_scale` with a ratio from `scale_range_train` (1, 3) or `scale_range_test` (2, 2).
The per-item draws come from the generator `item(index, rng)` is given (an `AugmentedDataset`):
in ActionDataModule that of (module seed, epoch, index), so every epoch sees a fresh augmentation;
`dataset[i]` uses the epoch-0 generator of `seed`.

Confidences. MotionBERT (its issue #132) appends `keypoint_score` as it is: COCO order, not moved
by the tracking swap, so channel 3 of H36M joint j holds COCO joint j's score of the *untracked*
person. By default we convert the confidences with the coordinates (midpoints take the min of
their sources) and swap them with the persons; `motionbert_conf_quirk=True` reproduces
MotionBERT's behaviour for parity with its released numbers.

More than 2 persons: the first 2 are kept and the samples counted in `report`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import schema
from .motionbert_clips import (
    DataFormatError,
    ReadReport,
    check_scale_range,
    crop_scale,
    load_pickle,
    require_array,
    require_file,
    require_keys,
    resample_indices,
    uniform_ratio,
)
from .sampling import AugmentedDataset
from .skeleton import coco_to_h36m

__all__ = ["NTU_FPS", "NTUConfig", "NTUAction", "make_cam", "track_persons", "random_move"]

NTU_FPS = 30.0
ANCHOR = "ntu-rgbd-60120-pyskl"
ANNOTATION_KEYS = ("frame_dir", "label", "img_shape", "total_frames", "keypoint", "keypoint_score")
FRAME_DIR = "frame_dir"  # extra sample key: the sample's name


def make_cam(xy: np.ndarray, img_shape) -> np.ndarray:
    """(..., 2) pixels → xy / max(W, H) · 2 − 1 (both axes; img_shape is (H, W))."""
    h, w = img_shape
    return (np.asarray(xy, np.float32) / max(h, w) * 2 - 1).astype(np.float32)


def track_persons(x: np.ndarray) -> np.ndarray:
    """MotionBERT's `human_tracking` for (M, T, 17, C) arrays: the swap decision uses the first two
    channels (x, y); all channels move with it. M != 2: returned unchanged."""
    if x.shape[0] != 2 or x.shape[1] < 2:
        return x
    xy = x[..., :2]
    stay = np.linalg.norm(xy[0, 1:] - xy[0, :-1], axis=-1).sum(-1)  # (T-1,)
    cross = np.linalg.norm(xy[0, 1:] - xy[1, :-1], axis=-1).sum(-1)
    swap = (np.cumsum(stay > cross) % 2).astype(bool)  # (T-1,)
    out = x.copy()
    out[0, 1:][swap], out[1, 1:][swap] = x[1, 1:][swap], x[0, 1:][swap]
    return out


def random_move(motion: np.ndarray, rng: np.random.Generator, angle=(-10.0, 10.0), scale=(0.9, 1.1), shift=(-0.1, 0.1)) -> np.ndarray:
    """MotionBERT's training augmentation of (M, T, J, 3): a rotation, scale and translation of
    (x, y) drawn at the first and last frame and interpolated linearly over time."""
    m, t = motion.shape[:2]
    a = np.deg2rad(np.linspace(*rng.uniform(*angle, 2), t))  # (T,)
    s = np.linspace(*rng.uniform(*scale, 2), t)
    tx, ty = np.linspace(*rng.uniform(*shift, 2), t), np.linspace(*rng.uniform(*shift, 2), t)
    cos, sin = np.cos(a) * s, np.sin(a) * s
    x, y = motion[..., 0], motion[..., 1]  # (M, T, J)
    out = motion.copy()
    out[..., 0] = cos[:, None] * x - sin[:, None] * y + tx[:, None]
    out[..., 1] = sin[:, None] * x + cos[:, None] * y + ty[:, None]
    return out


@dataclass(frozen=True)
class NTUConfig:
    """path: a pyskl pickle. split: a key of its "split" dict (xsub_train, xsub_val, xview_train,
    xview_val; NTU120: xsub_*, xset_*). train: None = "train" in the split name (random resampling
    and augmentation). seed: the resampling draws (fixed at construction) and the per-item
    augmentation of `dataset[i]` (the epoch-0 draw; DataModules pass a generator per (seed, epoch,
    index) to `item`). crop_scale False leaves the make_cam coordinates as they are."""

    path: str
    split: str = "xsub_train"
    clip_len: int = 243
    train: bool | None = None
    random_move: bool = True
    crop_scale: bool = True
    scale_range_train: tuple[float, float] = (1.0, 3.0)
    scale_range_test: tuple[float, float] = (2.0, 2.0)
    motionbert_conf_quirk: bool = False
    max_persons: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.clip_len < 1 or self.max_persons < 1:
            raise ValueError(f"NTUConfig: clip_len and max_persons must be >= 1; got {self.clip_len}, {self.max_persons}")
        check_scale_range(self.scale_range_train, "NTUConfig.scale_range_train")
        check_scale_range(self.scale_range_test, "NTUConfig.scale_range_test")

    @property
    def is_train(self) -> bool:
        return self.train if self.train is not None else "train" in self.split


class NTUAction(AugmentedDataset):
    """Sample keys: INPUT (2, T, 17, 3), LABEL int, FPS (30 · T / total_frames: the effective rate
    after resampling), SOURCE "ntu", and "frame_dir". `report` counts split entries missing from
    the annotations and samples with more than `max_persons` persons."""

    def __init__(self, config: NTUConfig, data: dict | None = None) -> None:
        """`data`: the already unpickled file (to read several splits without loading it again)."""
        self.config, self.seed = config, config.seed
        path = require_file(config.path, "NTU pyskl pickle", ANCHOR)
        data = load_pickle(path) if data is None else data
        require_keys(data, ("split", "annotations"), path)
        if not isinstance(data["split"], dict) or config.split not in data["split"]:
            raise DataFormatError(path, f"split {config.split!r} not found; the file has {sorted(data['split'])}")
        wanted = list(data["split"][config.split])
        by_name = {}
        for k, ann in enumerate(data["annotations"]):
            require_keys(ann, ("frame_dir",), path, f"annotations[{k}]")
            by_name[ann["frame_dir"]] = (k, ann)
        rng = np.random.default_rng(config.seed)
        self.report = ReadReport("ntu", str(path))
        self.samples: list[dict] = []
        self.resample: list[np.ndarray] = []
        for name in wanted:
            if name not in by_name:
                self.report.drop("split entries without an annotation")
                continue
            k, ann = by_name[name]
            self.samples.append(self._check(ann, path, f"annotations[{k}] ({name})"))
            t = self.samples[-1]["keypoint"].shape[1]
            self.resample.append(resample_indices(t, config.clip_len, rng if config.is_train else None))
            self.report.frames += t
        self.report.items = len(self.samples)
        self.report.log()

    def _check(self, ann: dict, path, where: str) -> dict:
        require_keys(ann, ANNOTATION_KEYS, path, where)
        kp = require_array(ann["keypoint"], (None, None, 17, 2), path, f"{where}/keypoint")
        m, t = kp.shape[:2]
        score = require_array(ann["keypoint_score"], (m, t, 17), path, f"{where}/keypoint_score")
        shape = require_array(ann["img_shape"], (2,), path, f"{where}/img_shape")
        if m == 0 or t == 0 or int(ann["total_frames"]) != t:
            raise DataFormatError(path, f"{where}: keypoint has {m} persons × {t} frames but total_frames = {ann['total_frames']}")
        if m > self.config.max_persons:
            self.report.drop(f"persons beyond the first {self.config.max_persons} (samples)")
            kp, score = kp[: self.config.max_persons], score[: self.config.max_persons]
        return {"keypoint": kp, "keypoint_score": score, "img_shape": tuple(int(v) for v in shape),
                "label": int(ann["label"]), "frame_dir": str(ann["frame_dir"])}

    def __len__(self) -> int:
        return len(self.samples)

    def motion(self, index: int) -> np.ndarray:
        """The prepared (2, T, 17, 3) motion before per-item augmentation."""
        s, idx = self.samples[index], self.resample[index]
        xy = make_cam(s["keypoint"], s["img_shape"])  # (M, T0, 17, 2)
        score = s["keypoint_score"].astype(np.float32)[..., None]  # (M, T0, 17, 1) COCO order
        if self.config.motionbert_conf_quirk:
            motion = np.concatenate([coco_to_h36m(track_persons(xy)), score], -1)  # conf stays COCO, untracked
        else:
            motion = coco_to_h36m(track_persons(np.concatenate([xy, score], -1)), has_conf=True)
        motion = motion[:, idx].astype(np.float32)  # (M, T, 17, 3)
        if len(motion) < self.config.max_persons:
            pad = np.zeros((self.config.max_persons - len(motion),) + motion.shape[1:], np.float32)
            motion = np.concatenate([motion, pad])
        return motion  # (max_persons, T, 17, 3)

    def item(self, index: int, rng: np.random.Generator) -> dict:
        """Sample `index` with its augmentation drawn from `rng` (random_move, then the crop ratio)."""
        c, s = self.config, self.samples[index]
        motion = self.motion(index)
        if c.is_train and c.random_move:
            motion = random_move(motion, rng)
        if c.crop_scale:
            motion = crop_scale(motion, uniform_ratio(c.scale_range_train if c.is_train else c.scale_range_test, rng))
        motion[len(s["keypoint"]) :] = 0  # padded persons stay all zeros (MotionBERT moves them; see docs)
        return {
            schema.INPUT: motion.astype(np.float32),  # (2, T, 17, 3)
            schema.LABEL: s["label"],
            schema.FPS: NTU_FPS * c.clip_len / s["keypoint"].shape[1],
            schema.SOURCE: "ntu",
            FRAME_DIR: s["frame_dir"],
        }

