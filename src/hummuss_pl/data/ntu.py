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
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import FPS, FRAME_DIR, INPUT, LABEL, NUM_CLASSES, SOURCE
from hummuss_pl.skeleton import coco_to_h36m

from .common import (
    CheckResult,
    DataFormatError,
    ReadReport,
    check_scale_range,
    crop_scale,
    load_pickle,
    load_pickle_once,
    note_split,
    require_array,
    require_file,
    require_keys,
    resample_indices,
    uniform_ratio,
)
from .layout import DatasetLayout, Reader, SourceConfig, SourceSpec
from .sampling import AugmentedDataset

__all__ = ["NTU_FPS", "NTUConfig", "NTUAction", "make_cam", "track_persons", "random_move"]

NTU_FPS = 30.0
ANCHOR = "ntu-rgbd-60120-pyskl"
ANNOTATION_KEYS = ("frame_dir", "label", "img_shape", "total_frames", "keypoint", "keypoint_score")
BENCHMARKS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}
CLASS_COUNTS = {"ntu60": 60, "ntu120": 120}


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
    index) to `item`). crop_scale False leaves the make_cam coordinates as they are. num_classes:
    the dataset's class count (60 / 120): labels must lie below it, and samples carry it
    (NUM_CLASSES); None: neither."""

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
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.num_classes is not None and self.num_classes < 1:
            raise ValueError(f"NTUConfig.num_classes must be positive or None; got {self.num_classes}")
        if self.clip_len < 1 or self.max_persons < 1:
            raise ValueError(f"NTUConfig: clip_len and max_persons must be >= 1; got {self.clip_len}, {self.max_persons}")
        check_scale_range(self.scale_range_train, "NTUConfig.scale_range_train")
        check_scale_range(self.scale_range_test, "NTUConfig.scale_range_test")

    @property
    def is_train(self) -> bool:
        return self.train if self.train is not None else "train" in self.split


class NTUAction(AugmentedDataset):
    """Sample keys: INPUT (2, T, 17, 3), LABEL int, FPS (30 · T / total_frames: the effective rate
    after resampling), SOURCE "ntu", FRAME_DIR, and NUM_CLASSES when the config gives it. `report` counts split entries missing from
    the annotations and samples with more than `max_persons` persons."""

    def __init__(self, config: NTUConfig, data: dict | None = None) -> None:
        """`data`: the already unpickled file (to read several splits without loading it again)."""
        self.config, self.seed = config, config.seed
        path = require_file(config.path, "NTU pyskl pickle", ANCHOR)
        data = load_pickle(path) if data is None else data
        require_keys(data, ("split", "annotations"), path)
        if not isinstance(data["split"], dict) or config.split not in data["split"]:
            raise DataFormatError(path, f"split {config.split!r} not found; the file has {sorted(data['split'])}")
        wanted = set(data["split"][config.split])
        rng = np.random.default_rng(config.seed)
        self.report = ReadReport("ntu", str(path))
        self.samples: list[dict] = []
        self.resample: list[np.ndarray] = []
        found: dict[str, int] = {}
        for k, ann in enumerate(data["annotations"]):  # in the file's order, as MotionBERT reads them
            require_keys(ann, ("frame_dir",), path, f"annotations[{k}]")
            name = ann["frame_dir"]
            if name not in wanted:
                continue
            found[name] = found.get(name, 0) + 1
            self.samples.append(self._check(ann, path, f"annotations[{k}] ({name})"))
            t = self.samples[-1]["keypoint"].shape[1]
            self.resample.append(resample_indices(t, config.clip_len, rng if config.is_train else None))
            self.report.frames += t
        self.report.drop("split entries without an annotation", len(wanted - set(found)))
        repeats = sum(n - 1 for n in found.values())
        if repeats:  # kept, as MotionBERT keeps every annotation of a split entry
            self.report.warnings.append(f"{repeats} annotations repeat the frame_dir of an earlier one in {config.split}; "
                                        "all are kept (as MotionBERT does)")  # fmt: skip
        self.report.items = len(self.samples)
        labels = [sample["label"] for sample in self.samples]
        if config.num_classes is not None and labels and not 0 <= min(labels) <= max(labels) < config.num_classes:
            raise DataFormatError(path, f"{config.split}: labels {min(labels)}..{max(labels)} do not fit {config.num_classes} classes")
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
            INPUT: motion.astype(np.float32),  # (2, T, 17, 3)
            LABEL: s["label"],
            FPS: NTU_FPS * c.clip_len / s["keypoint"].shape[1],
            SOURCE: "ntu",
            FRAME_DIR: s["frame_dir"],
        } | ({} if c.num_classes is None else {NUM_CLASSES: c.num_classes})



# ------------------------------------------------------------------------------------ registry
def _source(dataset: str) -> SourceSpec:
    """NTU-60 / NTU-120 as a source. Options: `benchmark` (xsub | xview for NTU-60, xsub | xset for
    NTU-120; split "train" reads `<benchmark>_train`, the others `<benchmark>_val`) and NTUConfig's
    fields (clip_len, motionbert_conf_quirk, seed, ...)."""

    def build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
        options = cfg.reader_options()
        benchmark = options.pop("benchmark", "xsub")
        if benchmark not in BENCHMARKS[dataset]:
            raise ValueError(f"{dataset} has the benchmarks {BENCHMARKS[dataset]}; got {benchmark!r}")
        config = NTUConfig(path=str(path), split=f"{benchmark}_{'train' if split == 'train' else 'val'}",
                           num_classes=CLASS_COUNTS[dataset], **options)  # fmt: skip
        return NTUAction(config, load_pickle_once(require_file(path, f"{dataset} pyskl pickle", ANCHOR)))

    return SourceSpec(build, dataset, has_3d=False, eval_split="val")


def _check(path: Path, row: CheckResult, max_files: int | None) -> list[CheckResult]:
    data = load_pickle(path)
    splits = data.get("split") if isinstance(data, dict) else None
    if not isinstance(splits, dict) or not splits:
        raise DataFormatError(path, "missing or empty 'split' dict")
    for split in sorted(splits):
        note_split(row, split, NTUAction(NTUConfig(str(path), split), data=data).report, "samples")
    return [row]


READER = Reader(
    datasets=tuple(DatasetLayout(key, title, f"action/{key}_hrnet.pkl", (f"action/{key}_hrnet.pkl",), ANCHOR, _check)
                   for key, title in (("ntu60", "NTU RGB+D 60"), ("ntu120", "NTU RGB+D 120"))),  # fmt: skip
    sources={key: _source(key) for key in BENCHMARKS},
)
