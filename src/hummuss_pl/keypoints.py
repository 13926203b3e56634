"""2D pose-detector output files → one H36M-17 keypoint stream per tracked person, in the normalised
screen coordinates the models are trained on.

    streams = read_streams("alphapose-results.json", image_size=(1920, 1080))
    streams.keypoints   # (S, T, 17, 3) x, y, confidence; S people, T frames (a missing joint is 0, 0, 0)
    streams.frames      # (T,) the frame number of each row
    streams.people      # what each stream is, e.g. "idx 3"
    streams.report      # what was converted, filled in and left out: print it

The format is recognised by the file's content, not its name. Layouts and joint orders as the tools
write them (confirmed in each tool's source; see the functions below):

AlphaPose results (`alphapose-results.json`, `alphapose/utils/pPose_nms.py: write_json`)
    A list with one entry per detected person: "image_id" (the frame's file name, "<k>.jpg" for
    frame k of a video; an int with --eval), "category_id" 1, "keypoints" [x, y, score] * K flat,
    "score", "box" [x, y, w, h], and "idx". idx is a track id (an int) with --pose_track or
    --pose_flow; without tracking it is a list (the boxes pose-NMS merged), not an identity.
    K = 26 Halpe-26 (what MotionBERT's infer_wild reads), 17 COCO, 136 Halpe-136, 133
    COCO-WholeBody (their body joints come first). Frames without detections have no entry.
    `--format open` (a dict from image name to {"version", "people": [{"pose_keypoints_2d"}]},
    18 joints in OpenPose's COCO order) is read like OpenPose.
MMPose / RTMPose predictions (`mmpose/apis/inferencers/base_mmpose_inferencer.py`,
`demo/topdown_demo_with_mmdet.py`, `mmpose/structures/utils.py: split_instances`)
    The inferencer's `--pred-out-dir` file for a video is a list of {"frame_id": k (from 0),
    "instances": [...]}; the demo's `--save-predictions` file is {"meta_info": dataset meta
    ("dataset_name", "num_keypoints", ...), "instance_info": [{"frame_id": k (from 1), "instances"}]};
    for one image either holds the instance list alone. An instance has "keypoints" [[x, y]] * K,
    "keypoint_scores" [s] * K, "bbox" [[x1, y1, x2, y2]] and "bbox_score"; "track_id" is read
    when present (MMPose's 2D writers do not write one). A folder of per-image files also reads.
OpenPose `--write_json` folder (`src/openpose/filestream/fileStream.cpp`, `doc/02_output.md`)
    One file per frame, "<name>_<frame:012d>_keypoints.json" for a video:
    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c] * K,
    "face_keypoints_2d": [...], "hand_left_keypoints_2d": [...], ...}]}. person_id is a track id
    with --tracking, else -1. K = 25 BODY_25 or 18 COCO-18. A missing joint is 0, 0, 0.

None of these formats records the image size or frame times: the image size comes from the caller
(`image_size`, `--image-size W H`) and the frame rate from `--fps` / `--timestamps`. Frame numbers
come from the file (the number in AlphaPose's image_id and OpenPose's file names, MMPose's
frame_id); names without numbers are taken in the file's (or the folder's sorted) order.

Conversion to H36M-17 (`data.skeleton` order): Halpe-26 as MotionBERT's `halpe2h36m` maps it
(root = Halpe's hip, neck = its neck, head = its head, belly = mid(neck, hip)); COCO-17, BODY_25 and
COCO-18 go through `skeleton.coco_to_h36m` (MotionBERT's `coco2h36m`: pelvis = mid-hips, thorax =
mid-shoulders, spine = mid(pelvis, thorax), head = mid-eyes, nose = nose; BODY_25's own MidHip and
Neck are not used, so every COCO-style skeleton is converted alike). A derived joint's confidence
is the minimum of its sources' (MotionBERT averages them). Pixels are normalised by the image size
with `batch.normalize_screen` (x / W · 2 − 1, y / W · 2 − H / W), the normalisation of the training
data; MotionBERT's infer_wild instead rescales by the whole video's bounding box, which a stream
cannot know in advance. Confidences are clipped to [0, 1] (detectors such as RTMPose may score
above 1; MotionBERT clips them too); a joint with confidence 0 gets x = y = 0.

People: with track ids, one stream per id, on the file's whole frame range; frames where that
person has no detection are fed as zero-confidence joints. Without track ids there is one stream:
the highest-scoring detection of each frame (AlphaPose's "score", else the mean joint confidence);
the other detections are counted and ignored. Bad input: an unknown format, an empty detection list,
malformed fields, frame numbers that go backwards, two detections of one track in a frame, and
mixed tracked / untracked detections are errors naming the file and field; NaN or infinite values
are fed as missing joints and counted; a person seen in fewer than `min_frames` frames (default 2)
is left out and counted; keypoints that look normalised already, or far outside the image, are
warned about (a wrong --image-size). Every such count is a line of `Streams.report`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hummuss_pl.batch import normalize_screen
from hummuss_pl.skeleton import (
    COCO_JOINTS,
    H36M_JOINTS,
    coco_to_h36m,
    posetrack_to_h36m,
)

# ---------------------------------------------------------------------------------------- joint orders
# Halpe-26 (AlphaPose docs / MotionBERT halpe2h36m / MMPose configs/_base_/datasets/halpe26.py):
# COCO-17, then head, neck, hip and the six foot points.
HALPE26_JOINTS = COCO_JOINTS + (
    "head", "neck", "hip", "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel",
)  # fmt: skip
# OpenPose POSE_BODY_25_BODY_PARTS and POSE_COCO_BODY_PARTS (src/openpose/pose/poseParameters.cpp).
BODY25_JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
    "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
)  # fmt: skip
COCO18_JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip

# For each H36M joint, the Halpe-26 joint it is (belly, a midpoint, is filled in separately).
_HALPE_NAME = {"root": "hip", "belly": "hip"}
HALPE26_TO_H36M = tuple(HALPE26_JOINTS.index(_HALPE_NAME.get(name, name)) for name in H36M_JOINTS)
BODY25_TO_COCO = tuple(BODY25_JOINTS.index(name) for name in COCO_JOINTS)
COCO18_TO_COCO = tuple(COCO18_JOINTS.index(name) for name in COCO_JOINTS)


def halpe26_to_h36m(x: np.ndarray) -> np.ndarray:
    """(..., 26, 3) Halpe-26 x, y, confidence → (..., 17, 3) H36M-17: root = hip, neck = neck,
    head = head, belly = mid(neck, hip) with the smaller confidence, the rest copied."""
    out = x[..., list(HALPE26_TO_H36M), :].copy()
    neck, hip = x[..., HALPE26_JOINTS.index("neck"), :], x[..., HALPE26_JOINTS.index("hip"), :]
    belly = H36M_JOINTS.index("belly")
    out[..., belly, :2] = (neck[..., :2] + hip[..., :2]) / 2
    out[..., belly, 2] = np.minimum(neck[..., 2], hip[..., 2])
    return out


@dataclass(frozen=True)
class Skeleton:
    """A 2D keypoint layout and its conversion to H36M-17 (arrays (..., joints, 3) with confidence)."""

    name: str
    title: str
    joints: int
    to_h36m: Callable[[np.ndarray], np.ndarray]


SKELETONS = {
    s.name: s
    for s in (
        Skeleton("coco17", "COCO-17", 17, lambda x: coco_to_h36m(x, has_conf=True)),
        Skeleton("halpe26", "Halpe-26", 26, halpe26_to_h36m),
        Skeleton("body25", "OpenPose BODY_25", 25, lambda x: coco_to_h36m(x[..., list(BODY25_TO_COCO), :], has_conf=True)),
        Skeleton("coco18", "OpenPose COCO-18", 18, lambda x: coco_to_h36m(x[..., list(COCO18_TO_COCO), :], has_conf=True)),
        Skeleton("h36m17", "H36M-17", 17, lambda x: x.copy()),
        Skeleton("posetrack18", "PoseTrack18", 17, lambda x: posetrack_to_h36m(x, has_conf=True)),
    )
}
# Skeletons recognised by their number of joints (whole-body layouts start with their body joints).
BY_COUNT = {17: "coco17", 18: "coco18", 25: "body25", 26: "halpe26", 133: "coco17", 136: "halpe26"}
WHOLE_BODY = {133: "COCO-WholeBody-133", 136: "Halpe-136"}
# MMPose's meta_info.dataset_name → skeleton.
MMPOSE_DATASETS = {"coco": "coco17", "halpe26": "halpe26", "halpe": "halpe26", "coco_wholebody": "coco17",
                   "h36m": "h36m17", "posetrack18": "posetrack18"}  # fmt: skip


class KeypointFileError(ValueError):
    """A keypoint file that cannot be read as it is; the message names the file, the field and the fix."""


# ---------------------------------------------------------------------------------------- parsed files
@dataclass(frozen=True)
class Detection:
    """One person in one frame, as the file holds it: keypoints (K, 3) pixels x, y and score."""

    frame: int
    track: int | None
    keypoints: np.ndarray
    score: float
    where: str  # where in the file, for messages: "entry 12", "frame_id 3 instances[1]", ...


@dataclass
class DetectionFile:
    """A detector's output, format recognised: every detection and every frame the file lists."""

    path: Path
    tool: str  # "AlphaPose results", "MMPose predictions", "OpenPose JSON"
    track_field: str  # what the format calls a track id
    frames: list[int]  # frames the file covers, in order (frames listed without detections included)
    detections: list[Detection]
    numbered: bool = True  # frame numbers come from the file (else: the order of the frames in it)
    dataset: str | None = None  # the dataset the file names (MMPose meta_info.dataset_name), if any
    notes: list[str] = field(default_factory=list)


def _fail(path: Path, message: str) -> KeypointFileError:
    return KeypointFileError(f"{path}: {message}")


def _frame_number(name: str) -> int | None:
    """The last number in a file name's stem: "12.jpg" → 12, "cam_000000000034_keypoints.json" → 34."""
    numbers = re.findall(r"\d+", Path(name).stem)
    return int(numbers[-1]) if numbers else None


def _number_frames(path: Path, names: list[str]) -> tuple[list[int], bool]:
    """Frame numbers for frames named `names` (in file order): the numbers in the names when every
    name has a distinct one, else 0, 1, 2, ... in the given order."""
    numbers = [_frame_number(n) for n in names]
    if None not in numbers and len(set(numbers)) == len(numbers):
        return numbers, True
    return list(range(len(names))), False


def _as_keypoints(path: Path, where: str, name: str, values, joints: int | None = None) -> np.ndarray:
    """A flat [x, y, c] * K list → (K, 3) float64 (null → NaN); raises naming the field when malformed."""
    try:
        flat = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(path, f"{where}: {name!r} must be a flat list of numbers [x, y, score, ...]") from None
    if flat.ndim != 1 or flat.size == 0 or flat.size % 3:
        raise _fail(path, f"{where}: {name!r} has {flat.size} numbers; expected x, y, score per joint (a multiple of 3)")
    return flat.reshape(-1, 3)


def _track_id(path: Path, where: str, name: str, value) -> int | None:
    """A track id (int) or None for 'no id' (-1); raises for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise _fail(path, f"{where}: {name!r} is {value!r}; expected an integer track id")
    return None if int(value) < 0 else int(value)


# AlphaPose ------------------------------------------------------------------------------------------
def _is_alphapose(data) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and {"image_id", "keypoints"} <= data[0].keys()


def parse_alphapose(path: Path, data: list) -> DetectionFile:
    """AlphaPose `alphapose-results.json`: entries in frame order, a frame's entries together."""
    names: list[str] = []
    raw: list[tuple[int, int | None, np.ndarray, float]] = []  # (frame index in names, track, keypoints, score)
    for i, entry in enumerate(data):
        where = f"entry {i}"
        if not isinstance(entry, dict) or "image_id" not in entry or "keypoints" not in entry:
            raise _fail(path, f"{where}: expected an AlphaPose detection with 'image_id' and 'keypoints'")
        name = str(entry["image_id"])
        if not names or names[-1] != name:
            if name in names:
                raise _fail(path, f"{where}: 'image_id' {name!r} appears again after {names[-1]!r}; "
                                  "AlphaPose writes each frame's detections together, in frame order")  # fmt: skip
            names.append(name)
        keypoints = _as_keypoints(path, f"{where} (image_id {name!r})", "keypoints", entry["keypoints"])
        idx = entry.get("idx")
        track = _track_id(path, where, "idx", idx) if isinstance(idx, (int, float)) and not isinstance(idx, bool) else None
        score = entry.get("score")
        score = float(score) if isinstance(score, (int, float)) else float(np.nanmean(keypoints[:, 2]))
        raw.append((len(names) - 1, track, keypoints, score))
    frames, numbered = _number_frames(path, names)
    if numbered and any(b <= a for a, b in zip(frames, frames[1:])):
        k = next(k for k in range(1, len(frames)) if frames[k] <= frames[k - 1])
        raise _fail(path, f"'image_id' goes back from {names[k - 1]!r} to {names[k]!r}: frame numbers must increase through the file")
    detections = [Detection(frames[f], track, kp, score, f"entry {i} (image_id {names[f]!r})") for i, (f, track, kp, score) in enumerate(raw)]
    notes = [] if numbered else ["image_id names carry no distinct frame numbers: frames taken in file order"]
    return DetectionFile(path, "AlphaPose results", "idx", frames, detections, numbered, notes=notes)


# MMPose ---------------------------------------------------------------------------------------------
def _is_mmpose_instance(item) -> bool:
    return isinstance(item, dict) and {"keypoints", "keypoint_scores"} <= item.keys()


def _is_mmpose_frame(item) -> bool:
    return isinstance(item, dict) and {"frame_id", "instances"} <= item.keys()


def _mmpose_instances(path: Path, frame: int, where: str, instances) -> list[Detection]:
    if not isinstance(instances, list):
        raise _fail(path, f"{where}: 'instances' must be a list of MMPose instances")
    out = []
    for i, inst in enumerate(instances):
        at = f"{where} instances[{i}]"
        if not _is_mmpose_instance(inst):
            raise _fail(path, f"{at}: expected an MMPose instance with 'keypoints' and 'keypoint_scores'")
        try:
            xy = np.array([[np.nan if v is None else v for v in p] for p in inst["keypoints"]], dtype=np.float64)
            scores = np.array([np.nan if v is None else v for v in inst["keypoint_scores"]], dtype=np.float64)
        except (TypeError, ValueError):
            raise _fail(path, f"{at}: 'keypoints' must be [[x, y], ...] and 'keypoint_scores' [s, ...]") from None
        if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0 or scores.shape != (xy.shape[0],):
            raise _fail(path, f"{at}: 'keypoints' {xy.shape} and 'keypoint_scores' {scores.shape} do not match: "
                              "expected (K, 2) and (K,)")  # fmt: skip
        track = _track_id(path, at, "track_id", inst["track_id"]) if "track_id" in inst else None
        keypoints = np.concatenate([xy, scores[:, None]], 1)
        out.append(Detection(frame, track, keypoints, float(np.nanmean(scores)) if np.isfinite(scores).any() else 0.0, at))
    return out


def parse_mmpose(path: Path, data) -> DetectionFile:
    """MMPose predictions: the inferencer's list of frames, the demo's {meta_info, instance_info}, or
    one image's instance list."""
    dataset = None
    if isinstance(data, dict):
        meta = data.get("meta_info")
        dataset = meta.get("dataset_name") if isinstance(meta, dict) else None
        data = data["instance_info"]
    if isinstance(data, list) and data and all(_is_mmpose_frame(f) for f in data):
        ids = []
        for k, f in enumerate(data):
            fid = f["frame_id"]
            if isinstance(fid, bool) or not isinstance(fid, int):
                raise _fail(path, f"frame {k}: 'frame_id' is {fid!r}; expected an integer")
            if ids and fid <= ids[-1]:
                raise _fail(path, f"frame {k}: 'frame_id' goes back from {ids[-1]} to {fid}: frame ids must increase through the file")
            ids.append(fid)
        detections = [d for f in data for d in _mmpose_instances(path, f["frame_id"], f"frame_id {f['frame_id']}", f["instances"])]
        return DetectionFile(path, "MMPose predictions", "track_id", ids, detections, dataset=dataset)
    if isinstance(data, list) and all(_is_mmpose_instance(i) for i in data):
        return DetectionFile(path, "MMPose predictions (one image)", "track_id", [0], _mmpose_instances(path, 0, "image", data), dataset=dataset)
    raise _fail(path, "'instance_info' must be a list of {'frame_id', 'instances'} or a list of instances")


# OpenPose -------------------------------------------------------------------------------------------
def _is_openpose_frame(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("people"), list)


def _openpose_people(path: Path, frame: int, where: str, data: dict) -> list[Detection]:
    out = []
    for i, person in enumerate(data["people"]):
        at = f"{where} people[{i}]"
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise _fail(path, f"{at}: expected 'pose_keypoints_2d' (OpenPose ran without a body model?)")
        keypoints = _as_keypoints(path, at, "pose_keypoints_2d", person["pose_keypoints_2d"])
        ids = person.get("person_id", [-1])
        ids = ids if isinstance(ids, list) else [ids]
        if len(ids) > 1:
            raise _fail(path, f"{at}: 'person_id' {ids} holds more than one id")
        track = _track_id(path, at, "person_id", ids[0]) if ids else None
        score = float(np.nanmean(keypoints[:, 2])) if np.isfinite(keypoints[:, 2]).any() else 0.0
        out.append(Detection(frame, track, keypoints, score, at))
    return out


def parse_openpose_frames(path: Path, named_frames: list[tuple[str, dict]], tool: str) -> DetectionFile:
    """OpenPose frames (name, {"people": [...]}) in order: the files of a folder, or AlphaPose's
    `--format open` dict."""
    names = [n for n, _ in named_frames]
    frames, numbered = _number_frames(path, names)
    detections = [d for (name, data), f in zip(named_frames, frames) for d in _openpose_people(path, f, name, data)]
    notes = [] if numbered else ["frame names carry no distinct frame numbers: frames taken in name order"]
    return DetectionFile(path, tool, "person_id", frames, detections, numbered, notes=notes)


# Recognising the format -----------------------------------------------------------------------------
def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise _fail(path, f"not valid JSON ({err}); keypoint files are AlphaPose, MMPose or OpenPose JSON") from None
    except UnicodeDecodeError:
        raise _fail(path, "not a text (JSON) file; keypoint files are AlphaPose, MMPose or OpenPose JSON, or an H36M-17 .npy") from None


def _describe(data) -> str:
    if isinstance(data, dict):
        return f"a JSON object with keys {sorted(data)[:8]}"
    if isinstance(data, list):
        return f"a JSON list of {type(data[0]).__name__}" + (f" with keys {sorted(data[0])[:8]}" if isinstance(data[0], dict) else "")
    return f"a JSON {type(data).__name__}"


UNKNOWN = ("is not a keypoint format this reads: expected AlphaPose results (a list of detections with 'image_id' "
           "and 'keypoints'), MMPose predictions ('frame_id' / 'instances', or 'instance_info') or a folder of "
           "OpenPose JSON files ('people' / 'pose_keypoints_2d')")  # fmt: skip


def parse_json(path: Path, data) -> DetectionFile:
    """One JSON document, its format recognised by its content."""
    if isinstance(data, list) and not data:
        raise _fail(path, "the detection list is empty: the detector found nobody in any frame")
    if _is_alphapose(data):
        return parse_alphapose(path, data)
    if (isinstance(data, dict) and "instance_info" in data) or (isinstance(data, list) and (_is_mmpose_frame(data[0]) or _is_mmpose_instance(data[0]))):
        return parse_mmpose(path, data)
    if _is_openpose_frame(data):
        return parse_openpose_frames(path, [(path.name, data)], "OpenPose JSON")
    if isinstance(data, dict) and data and all(_is_openpose_frame(v) for v in data.values()):
        return parse_openpose_frames(path, list(data.items()), "AlphaPose results (--format open)")
    raise _fail(path, f"{_describe(data)} {UNKNOWN}")


def parse_folder(path: Path) -> DetectionFile:
    """A folder of per-frame JSON files (OpenPose `--write_json`, or MMPose per-image predictions)."""
    files = sorted(path.glob("*.json"))
    if not files:
        raise _fail(path, "the folder holds no .json files (OpenPose --write_json writes one per frame)")
    numbers = [_frame_number(f.name) for f in files]
    if None not in numbers and len(set(numbers)) == len(numbers):
        files = [f for _, f in sorted(zip(numbers, files))]
    docs = [(f.name, _load_json(f)) for f in files]
    if all(_is_openpose_frame(d) for _, d in docs):
        return parse_openpose_frames(path, docs, "OpenPose JSON")
    if all(isinstance(d, list) and all(_is_mmpose_instance(i) for i in d) for _, d in docs):
        frames, numbered = _number_frames(path, [n for n, _ in docs])
        detections = [det for (name, d), f in zip(docs, frames) for det in _mmpose_instances(path, f, name, d)]
        return DetectionFile(path, "MMPose predictions (per image)", "track_id", frames, detections, numbered)
    bad = next(n for n, d in docs if not _is_openpose_frame(d))
    raise _fail(path / bad, f"{_describe(dict(docs)[bad])} {UNKNOWN}")


def read_detection_file(path: str | Path) -> DetectionFile:
    """The detections of a keypoint file or folder, format recognised by content."""
    path = Path(path)
    if path.is_dir():
        return parse_folder(path)
    if not path.is_file():
        raise _fail(path, "keypoint file not found")
    return parse_json(path, _load_json(path))


# ---------------------------------------------------------------------------------------- streams
@dataclass
class Streams:
    """One H36M-17 keypoint stream per person (see the module docstring)."""

    keypoints: np.ndarray  # (S, T, 17, 3) normalised x, y and confidence
    frames: np.ndarray  # (T,) frame numbers
    people: list[str]
    report: list[str]
    skeleton: str


def choose_skeleton(det: DetectionFile, joints: int, override: str | None) -> tuple[Skeleton, str]:
    """The skeleton of the file's `joints`-joint keypoints and a phrase saying how it was chosen."""
    if override is not None:
        if override not in SKELETONS:
            raise _fail(det.path, f"--skeleton {override!r}: choose one of {', '.join(SKELETONS)}")
        skeleton = SKELETONS[override]
        if skeleton.joints != joints:
            raise _fail(det.path, f"--skeleton {override}: {skeleton.title} has {skeleton.joints} joints, the file's detections {joints}")
        return skeleton, f"{skeleton.title} (--skeleton)"
    if det.dataset is not None:
        if det.dataset not in MMPOSE_DATASETS:
            raise _fail(det.path, f"meta_info.dataset_name {det.dataset!r} is not a body skeleton this reads "
                                  f"({', '.join(MMPOSE_DATASETS)}); --skeleton names the layout if it is one of {', '.join(SKELETONS)}")  # fmt: skip
        skeleton = SKELETONS[MMPOSE_DATASETS[det.dataset]]
        if joints != skeleton.joints and not (joints in WHOLE_BODY and BY_COUNT[joints] == skeleton.name):
            raise _fail(det.path, f"meta_info.dataset_name {det.dataset!r} ({skeleton.title}) but the instances have {joints} keypoints")
        how = "meta_info.dataset_name"
    elif joints in BY_COUNT:
        skeleton = SKELETONS[BY_COUNT[joints]]
        how = f"{joints} joints" + (", not naming its dataset: pass --skeleton h36m17 or posetrack18 if it is neither" if joints == 17 else "")
    else:
        known = ", ".join(f"{k} {WHOLE_BODY.get(k, SKELETONS[v].title)}" for k, v in sorted(BY_COUNT.items()))
        raise _fail(det.path, f"{det.detections[0].where}: {joints} keypoints per person is not a body skeleton this reads ({known})")
    title = f"{WHOLE_BODY[joints]} (its {skeleton.title} body joints)" if joints in WHOLE_BODY else skeleton.title
    return skeleton, f"{title} ({how})"


def _convert(skeleton: Skeleton, keypoints: np.ndarray, counts: dict[str, int]) -> np.ndarray:
    """(N, K, 3) pixels → (N, 17, 3) H36M-17 pixels: non-finite joints become missing, confidence
    clipped to [0, 1]; `counts` collects how many joints each rule touched."""
    x = keypoints[:, : skeleton.joints].copy()
    bad = ~np.isfinite(x).all(-1)  # (N, K)
    counts["non-finite"] += int(bad.sum())
    x[bad] = 0.0
    counts["above 1"] += int((x[..., 2] > 1).sum())
    counts["negative"] += int((x[..., 2] < 0).sum())
    x[..., 2] = np.clip(x[..., 2], 0.0, 1.0)
    return skeleton.to_h36m(x)


def _check_image_size(path: Path, tool: str, image_size: tuple[float, float] | None) -> None:
    if image_size is None:
        raise _fail(path, f"{tool} do not record the image size: pass --image-size W H (the video's width and height in pixels)")
    if min(image_size) <= 0:
        raise _fail(path, f"--image-size must be positive; got {' '.join(f'{v:g}' for v in image_size)}")


def _normalise(x: np.ndarray, image_size: tuple[float, float]) -> np.ndarray:
    """(..., 17, 3) pixels → normalised screen units; missing joints (confidence 0) at 0, 0."""
    w, h = image_size
    out = x.astype(np.float32)
    out[..., :2] = normalize_screen(x[..., :2], w, h)
    out[..., :2] *= out[..., 2:] > 0
    return out


def _pixel_warnings(pixels: np.ndarray, image_size: tuple[float, float]) -> list[str]:
    """Report lines when the detected joints (..., 3) do not look like pixels of a W × H image."""
    xy = pixels[..., :2][pixels[..., 2] > 0]  # (N, 2)
    if not len(xy):
        return []
    w, h = image_size
    if np.abs(xy).max() <= 1.5 and max(w, h) > 10:
        return ["  WARNING: every keypoint lies within 1.5 pixels of the origin: the file looks normalised already "
                "(these formats hold pixels; OpenPose writes them with --keypoint_scale 0)"]  # fmt: skip
    outside = int(((xy < -0.5 * np.array([w, h])) | (xy > 1.5 * np.array([w, h]))).any(-1).sum())
    if outside:
        return [f"  WARNING: {_plural(outside, 'joint')} lie far outside the {w:g} × {h:g} image: check --image-size"]
    return []


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _frames_text(frames: Iterable[int], limit: int = 6) -> str:
    frames = list(frames)
    shown = ", ".join(map(str, frames[:limit]))
    return shown + (f", ... ({len(frames)} in all)" if len(frames) > limit else "")


def _is_tracked(det: DetectionFile) -> bool:
    """Whether every detection has a track id; raises when only some have."""
    tracked = [d.track is not None for d in det.detections]
    if any(tracked) and not all(tracked):
        a, b = next(d for d in det.detections if d.track is not None), next(d for d in det.detections if d.track is None)
        raise _fail(det.path, f"{a.where} has a track id ({det.track_field} {a.track}) but {b.where} has none: "
                              "a file must be tracked throughout or not at all")  # fmt: skip
    return all(tracked)


def _by_track(det: DetectionFile) -> dict[str, list[Detection]]:
    """Track label ("idx 3") → that person's detections in frame order; one detection a frame."""
    people: dict[str, list[Detection]] = {}
    for d in sorted(det.detections, key=lambda d: d.track):  # stable: frame order kept within a track
        mine = people.setdefault(f"{det.track_field} {d.track}", [])
        if mine and mine[-1].frame == d.frame:
            raise _fail(det.path, f"{d.where}: {det.track_field} {d.track} appears twice in frame {d.frame}")
        mine.append(d)
    return people


def _best_per_frame(det: DetectionFile) -> tuple[list[Detection], str]:
    """The highest-scoring detection of each frame, and a line saying how many others were ignored."""
    best: dict[int, Detection] = {}
    for d in det.detections:
        if d.frame not in best or d.score > best[d.frame].score:
            best[d.frame] = d
    per_frame = Counter(d.frame for d in det.detections)
    extra, crowded = sum(n - 1 for n in per_frame.values()), sum(n > 1 for n in per_frame.values())
    line = f"no track ids in '{det.track_field}': one stream of the highest-scoring detection per frame"
    line += f"; {_plural(extra, 'other detection')} in {_plural(crowded, 'frame')} ignored" if extra else ""
    return sorted(best.values(), key=lambda d: d.frame), line


def _frame_axis(det: DetectionFile) -> tuple[np.ndarray, dict[int, int]]:
    """The frame numbers of the streams (the file's whole range when numbered) and frame → row."""
    frames = np.arange(det.frames[0], det.frames[-1] + 1) if det.numbered else np.asarray(det.frames)
    return frames, {int(f): i for i, f in enumerate(frames)}


def to_streams(det: DetectionFile, image_size: tuple[float, float] | None, skeleton: str | None = None, min_frames: int = 2) -> Streams:
    """Per-person H36M-17 streams of a parsed file (see the module docstring for the rules)."""
    path = det.path
    _check_image_size(path, det.tool, image_size)
    if not det.detections:
        raise _fail(path, f"no person detected in any of its {_plural(len(det.frames), 'frame')}")
    first = {d.keypoints.shape[0]: d.where for d in det.detections}
    if len(first) > 1:
        raise _fail(path, f"detections have different numbers of keypoints ({', '.join(f'{k} at {w}' for k, w in first.items())})")
    chosen, how = choose_skeleton(det, next(iter(first)), skeleton)
    frames, row = _frame_axis(det)
    report = [f"{path}: {det.tool}, {how} → H36M-17; frames {frames[0]}..{frames[-1]} ({len(frames)})"]
    report += [f"  {n}" for n in det.notes]
    absent = len(frames) - len(set(det.frames))
    if absent:
        report.append(f"  {_plural(absent, 'frame')} absent from the file (no detections there) fed as missing joints")
    if _is_tracked(det):
        people, line = _by_track(det), f"one stream per {det.track_field}"
    else:
        best, line = _best_per_frame(det)
        people = {"highest-scoring detection": best}
    report.append(f"  {line}")

    short = [label for label, ds in people.items() if len(ds) < min_frames]
    if short:
        listed = "; ".join(f"{label} at frame {_frames_text(d.frame for d in people.pop(label))}" for label in short)
        report.append(f"  {_plural(len(short), 'person')} seen in fewer than {min_frames} frames left out ({listed}); --min-frames 1 keeps such people")
    if not people:
        raise _fail(path, f"no person is seen in at least {min_frames} frames (--min-frames {min_frames}); a stream needs several frames")

    counts = {"non-finite": 0, "above 1": 0, "negative": 0}
    out = np.zeros((len(people), len(frames), 17, 3), np.float32)  # (S, T, 17, 3), missing = 0
    for s, (label, ds) in enumerate(people.items()):
        out[s, [row[d.frame] for d in ds]] = _convert(chosen, np.stack([d.keypoints for d in ds]), counts)
    report += _pixel_warnings(out, image_size)
    for s, (label, ds) in enumerate(people.items()):
        out[s] = _normalise(out[s], image_size)
        missing = len(frames) - len(ds)
        report.append(f"  stream {s} = {label}: detected in {len(ds)} of {len(frames)} frames"
                      + (f", {_plural(missing, 'frame')} without a detection fed as missing joints (confidence 0)" if missing else ""))  # fmt: skip
    if counts["non-finite"]:
        report.append(f"  {_plural(counts['non-finite'], 'joint')} with NaN or infinite values fed as missing (confidence 0)")
    if counts["above 1"] or counts["negative"]:
        report.append(f"  confidence clipped to [0, 1] in {_plural(counts['above 1'] + counts['negative'], 'joint')}")
    return Streams(out, frames, list(people), report, chosen.name)


def read_streams(path: str | Path, image_size: tuple[float, float] | None, skeleton: str | None = None, min_frames: int = 2) -> Streams:
    """`to_streams(read_detection_file(path), ...)`: a detector's file or folder → per-person streams."""
    return to_streams(read_detection_file(path), image_size, skeleton, min_frames)


def is_detector_output(path: str | Path) -> bool:
    """Whether `path` is read by this module (a folder or a .json file) rather than as an H36M-17 .npy."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() == ".json"
