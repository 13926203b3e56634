"""Detector files → H36M-17 streams (`hummuss_pl.keypoints`): each tool's exact layout, written here as
the tool writes it, converted to hand-computed joints; tracking, gaps, and bad input named or counted.

Every file shows the same person in a 1000 × 500 image, where normalised x = px / 500 − 1 and
y = py / 500 − 0.5 (`batch.normalize_screen`)."""

import json
from pathlib import Path

import numpy as np
import pytest

from hummuss_pl.keypoints import KeypointFileError, read_streams

SIZE = (1000, 500)
# One person in pixels: joint → (x, y, score). Halpe-26 adds head, neck and hip to COCO's 17.
PERSON = {
    "nose": (500, 100, 0.9), "l_eye": (520, 90, 0.8), "r_eye": (480, 90, 0.7), "l_ear": (540, 95, 0.5), "r_ear": (460, 95, 0.5),
    "l_shoulder": (600, 150, 0.9), "r_shoulder": (400, 150, 0.95), "l_elbow": (650, 250, 0.9), "r_elbow": (350, 250, 0.9),
    "l_wrist": (700, 300, 0.7), "r_wrist": (300, 300, 0.7), "l_hip": (560, 300, 0.8), "r_hip": (440, 300, 0.6),
    "l_knee": (560, 400, 0.9), "r_knee": (440, 400, 0.9), "l_ankle": (560, 480, 0.9), "r_ankle": (440, 480, 0.9),
    "head": (500, 50, 0.85), "neck": (500, 140, 0.9), "hip": (500, 310, 0.75), "mid_hip": (505, 320, 0.8),
}  # fmt: skip
# Joint orders as the tools' documentation lists them (AlphaPose / MMPose COCO and Halpe-26; OpenPose
# POSE_BODY_25_BODY_PARTS and POSE_COCO_BODY_PARTS), written out here independently of the module.
COCO17 = ["nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
          "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"]  # fmt: skip
HALPE26 = COCO17 + ["head", "neck", "hip", "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel"]
BODY25 = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip", "r_hip", "r_knee",
          "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear", "l_big_toe", "l_small_toe", "l_heel",
          "r_big_toe", "r_small_toe", "r_heel"]  # fmt: skip
COCO18 = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "r_knee", "r_ankle",
          "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"]  # fmt: skip

# The expected H36M-17 rows, computed by hand from PERSON (x, y normalised; confidence).
# Halpe-26 (MotionBERT's halpe2h36m): root = hip, neck = neck, head = head, belly = mid(neck, hip).
HALPE_H36M = {
    0: (0.0, 0.12, 0.75),  # root = hip (500, 310)
    1: (-0.12, 0.1, 0.6),  # r_hip (440, 300)
    3: (-0.12, 0.46, 0.9),  # r_ankle (440, 480)
    4: (0.12, 0.1, 0.8),  # l_hip (560, 300)
    7: (0.0, -0.05, 0.75),  # belly = mid(neck (500, 140), hip (500, 310)) = (500, 225), min(0.9, 0.75)
    8: (0.0, -0.22, 0.9),  # neck (500, 140)
    9: (0.0, -0.3, 0.9),  # nose (500, 100)
    10: (0.0, -0.4, 0.85),  # head (500, 50)
    11: (0.2, -0.2, 0.9),  # l_shoulder (600, 150)
    13: (0.4, 0.1, 0.7),  # l_wrist (700, 300)
    14: (-0.2, -0.2, 0.95),  # r_shoulder (400, 150)
    16: (-0.4, 0.1, 0.7),  # r_wrist (300, 300)
}
# COCO-style (MotionBERT's coco2h36m): root = mid-hips, neck = mid-shoulders, belly = mid(root, neck),
# head = mid-eyes; OpenPose's own neck and mid_hip are not used.
COCO_H36M = {
    0: (0.0, 0.1, 0.6),  # mid(l_hip (560, 300) 0.8, r_hip (440, 300) 0.6)
    1: (-0.12, 0.1, 0.6),
    4: (0.12, 0.1, 0.8),
    7: (0.0, -0.05, 0.6),  # mid(root (500, 300), neck (500, 150)) = (500, 225), min(0.6, 0.9)
    8: (0.0, -0.2, 0.9),  # mid(shoulders) = (500, 150), min(0.9, 0.95)
    9: (0.0, -0.3, 0.9),
    10: (0.0, -0.32, 0.7),  # mid(eyes) = (500, 90), min(0.8, 0.7)
    12: (0.3, 0.0, 0.9),  # l_elbow (650, 250)
    15: (-0.3, 0.0, 0.9),  # r_elbow (350, 250)
}


def joints(order: list[str], shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """(K, 3) PERSON in `order`, moved right by `shift` pixels, scores × `scale`."""
    return np.array([(PERSON[n][0] + shift, PERSON[n][1], PERSON[n][2] * scale) if n in PERSON else (0, 0, 0) for n in order])


def check(rows: np.ndarray, expected: dict[int, tuple], shift: float = 0.0) -> None:
    """rows (17, 3) equal `expected` (with x moved by `shift` pixels) at the listed joints."""
    for j, (x, y, c) in expected.items():
        np.testing.assert_allclose(rows[j], (x + shift / 500, y, c), atol=1e-6, err_msg=f"joint {j}")


def alphapose_entry(image_id, keypoints: np.ndarray, score: float, idx) -> dict:
    """One detection as AlphaPose's write_json writes it."""
    return {"image_id": image_id, "category_id": 1, "keypoints": keypoints.ravel().tolist(), "score": score,
            "box": [400.0, 40.0, 320.0, 450.0], "idx": idx}  # fmt: skip


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))  # Python's json writes NaN for nan, as the tools' writers do
    return path


# ---------------------------------------------------------------------------------------- AlphaPose
def test_alphapose_halpe26_tracked_people_and_gaps(tmp_path):
    # --pose_track: idx is an int track id. Frame 2 had no detections (AlphaPose writes no entry for
    # it); person 2 is missing in frame 1.
    entries = [
        alphapose_entry("0.jpg", joints(HALPE26), 2.9, 1), alphapose_entry("0.jpg", joints(HALPE26, 100), 2.5, 2),
        alphapose_entry("1.jpg", joints(HALPE26), 2.9, 1),
        alphapose_entry("3.jpg", joints(HALPE26, 100), 2.5, 2), alphapose_entry("3.jpg", joints(HALPE26), 2.8, 1),
    ]  # fmt: skip
    streams = read_streams(write_json(tmp_path / "alphapose-results.json", entries), SIZE)
    assert streams.keypoints.shape == (2, 4, 17, 3) and streams.keypoints.dtype == np.float32
    np.testing.assert_array_equal(streams.frames, [0, 1, 2, 3])
    assert streams.people == ["idx 1", "idx 2"] and streams.skeleton == "halpe26"
    for frame in (0, 1, 3):
        check(streams.keypoints[0, frame], HALPE_H36M)
    check(streams.keypoints[1, 0], HALPE_H36M, shift=100)
    check(streams.keypoints[1, 3], HALPE_H36M, shift=100)
    assert not streams.keypoints[:, 2].any() and not streams.keypoints[1, 1].any()  # missing: (0, 0, 0)
    report = "\n".join(streams.report)
    assert "AlphaPose results, Halpe-26" in report and "1 frame absent from the file" in report
    assert "stream 0 = idx 1: detected in 3 of 4 frames, 1 frame without a detection fed as missing joints" in report
    assert "stream 1 = idx 2: detected in 2 of 4 frames, 2 frames without a detection fed as missing joints" in report


def test_alphapose_coco17_untracked_takes_the_best_detection(tmp_path):
    # Without tracking AlphaPose writes idx as the list of boxes pose-NMS merged: not an identity.
    # image_id as a video's frames: "<k>.jpg".
    entries = [
        alphapose_entry("0.jpg", joints(COCO17, 300), 1.1, [[0.0]]), alphapose_entry("0.jpg", joints(COCO17), 2.9, [[1.0], [2.0]]),
        alphapose_entry("1.jpg", joints(COCO17), 2.7, [[0.0]]), alphapose_entry("2.jpg", joints(COCO17), 2.7, [[0.0]]),
    ]  # fmt: skip
    streams = read_streams(write_json(tmp_path / "res.json", entries), SIZE)
    assert streams.keypoints.shape == (1, 3, 17, 3) and streams.people == ["highest-scoring detection"]
    for frame in range(3):
        check(streams.keypoints[0, frame], COCO_H36M)  # frame 0: the 2.9-score detection, not the first
    report = "\n".join(streams.report)
    assert "no track ids in 'idx'" in report and "1 other detection in 1 frame ignored" in report
    assert "COCO-17 (17 joints, not naming its dataset" in report


def test_alphapose_whole_body_uses_its_body_joints(tmp_path):
    extra = np.full((110, 3), 7.0)  # Halpe-136: 26 body joints, then face and hands
    body = np.concatenate([joints(HALPE26), extra])
    entries = [alphapose_entry(f"{k}.jpg", body, 2.0, 4) for k in range(2)]
    streams = read_streams(write_json(tmp_path / "r.json", entries), SIZE)
    check(streams.keypoints[0, 1], HALPE_H36M)
    assert "Halpe-136 (its Halpe-26 body joints)" in streams.report[0]


# ---------------------------------------------------------------------------------------- MMPose
def mmpose_instance(keypoints: np.ndarray, **extra) -> dict:
    """One instance as mmpose.structures.split_instances writes it (bbox is a one-box list)."""
    return {"keypoints": keypoints[:, :2].tolist(), "keypoint_scores": keypoints[:, 2].tolist(),
            "bbox": [[400.0, 40.0, 720.0, 490.0]], "bbox_score": 0.93, **extra}  # fmt: skip


def test_mmpose_inferencer_video(tmp_path):
    # MMPoseInferencer(--pred-out-dir) for a video: [{"frame_id": k from 0, "instances": [...]}];
    # RTMPose scores may exceed 1 (clipped); frame 1 had nobody.
    frames = [
        {"frame_id": 0, "instances": [mmpose_instance(joints(COCO17, scale=1.2))]},
        {"frame_id": 1, "instances": []},
        {"frame_id": 2, "instances": [mmpose_instance(joints(COCO17))]},
    ]
    streams = read_streams(write_json(tmp_path / "video.json", frames), SIZE)
    assert streams.keypoints.shape == (1, 3, 17, 3)
    check(streams.keypoints[0, 2], COCO_H36M)
    np.testing.assert_allclose(streams.keypoints[0, 0, :, :2], streams.keypoints[0, 2, :, :2], atol=1e-6)
    assert streams.keypoints[0, 0, :, 2].max() == 1.0 and not streams.keypoints[0, 1].any()
    report = "\n".join(streams.report)
    assert "MMPose predictions" in report and "1 frame without a detection fed as missing joints" in report
    assert "confidence clipped to [0, 1] in 9 joints" in report  # the 9 COCO joints scored 0.9 or more, × 1.2


def test_mmpose_demo_file_with_meta_info_and_track_ids(tmp_path):
    # demo/topdown_demo_with_mmdet.py --save-predictions: {"meta_info", "instance_info"}, frame_id from 1;
    # dataset_name names the skeleton. track_id, when an instance has one, makes the streams.
    meta = {"dataset_name": "halpe26", "num_keypoints": 26, "keypoint_id2name": {str(i): n for i, n in enumerate(HALPE26)}}
    info = [{"frame_id": k, "instances": [mmpose_instance(joints(HALPE26), track_id=5), mmpose_instance(joints(HALPE26, 100), track_id=8)]}
            for k in (1, 2, 3)]  # fmt: skip
    streams = read_streams(write_json(tmp_path / "demo.json", {"meta_info": meta, "instance_info": info}), SIZE)
    np.testing.assert_array_equal(streams.frames, [1, 2, 3])
    assert streams.people == ["track_id 5", "track_id 8"]
    check(streams.keypoints[0, 0], HALPE_H36M)
    check(streams.keypoints[1, 2], HALPE_H36M, shift=100)
    assert "Halpe-26 (meta_info.dataset_name)" in streams.report[0]


def test_mmpose_per_image_folder_and_skeleton_override(tmp_path):
    # The inferencer on a folder of images writes one instance list per image; h36m-order keypoints
    # (MMPose's 'h36m' dataset) are ambiguous by count, so --skeleton names them.
    folder = tmp_path / "preds"
    folder.mkdir()
    h36m = np.array([(500 + j, 200 + 2 * j, 0.5) for j in range(17)], float)
    for k in range(3):
        write_json(folder / f"img_{k:04d}.json", [mmpose_instance(h36m)])
    streams = read_streams(folder, SIZE, skeleton="h36m17")
    np.testing.assert_allclose(streams.keypoints[0, 2, 4], (504 / 500 - 1, 208 / 500 - 0.5, 0.5), atol=1e-6)  # identity map
    assert streams.keypoints.shape == (1, 3, 17, 3) and "H36M-17 (--skeleton)" in streams.report[0]


# ---------------------------------------------------------------------------------------- OpenPose
def openpose_frame(people: list[tuple[np.ndarray, int]]) -> dict:
    """One `--write_json` file: version 1.3, person_id, the body and (empty) face / hand arrays."""
    empty = {k: [] for k in ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d",
                             "pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d")}  # fmt: skip
    return {"version": 1.3, "people": [{"person_id": [pid], "pose_keypoints_2d": kp.ravel().tolist(), **empty} for kp, pid in people]}


def test_openpose_body25_folder(tmp_path):
    # Untracked (person_id [-1]); frame 2 had nobody ("people": []); frame 3's file is absent; in frame 1
    # the left wrist was not found (OpenPose writes 0, 0, 0).
    folder = tmp_path / "json"
    folder.mkdir()
    body = joints(BODY25)
    no_wrist = body.copy()
    no_wrist[BODY25.index("l_wrist")] = 0
    for k, people in {0: [(body, -1)], 1: [(no_wrist, -1)], 2: [], 4: [(body, -1)]}.items():
        write_json(folder / f"dance_{k:012d}_keypoints.json", openpose_frame(people))
    streams = read_streams(folder, SIZE)
    assert streams.keypoints.shape == (1, 5, 17, 3) and streams.skeleton == "body25"
    np.testing.assert_array_equal(streams.frames, [0, 1, 2, 3, 4])
    check(streams.keypoints[0, 0], COCO_H36M)
    check(streams.keypoints[0, 4], COCO_H36M)
    np.testing.assert_array_equal(streams.keypoints[0, 1, 13], 0)  # H36M l_wrist missing: 0, 0, 0
    assert not streams.keypoints[0, 2:4].any()
    report = "\n".join(streams.report)
    assert "OpenPose JSON, OpenPose BODY_25" in report and "no track ids in 'person_id'" in report
    assert "2 frames without a detection fed as missing joints" in report and "1 frame absent from the file" in report


def test_openpose_coco18_tracked(tmp_path):
    folder = tmp_path / "json"
    folder.mkdir()
    for k in range(3):
        people = [(joints(COCO18, 100), 1), (joints(COCO18), 0)] if k < 2 else [(joints(COCO18), 0)]
        write_json(folder / f"{k:012d}_keypoints.json", openpose_frame(people))
    streams = read_streams(folder, SIZE)
    assert streams.people == ["person_id 0", "person_id 1"] and streams.skeleton == "coco18"
    check(streams.keypoints[0, 2], COCO_H36M)
    check(streams.keypoints[1, 1], COCO_H36M, shift=100)
    assert not streams.keypoints[1, 2].any()


# ---------------------------------------------------------------------------------------- bad input
def test_nan_keypoints_are_fed_as_missing_and_counted(tmp_path):
    bad = joints(HALPE26)
    bad[HALPE26.index("l_wrist"), 0] = np.nan
    bad[HALPE26.index("r_knee"), 2] = np.inf
    entries = [alphapose_entry("0.jpg", joints(HALPE26), 2.0, 1), alphapose_entry("1.jpg", bad, 2.0, 1)]
    streams = read_streams(write_json(tmp_path / "nan.json", entries), SIZE)
    np.testing.assert_array_equal(streams.keypoints[0, 1, [13, 2]], 0)  # H36M l_wrist, r_knee
    assert np.isfinite(streams.keypoints).all()
    assert "2 joints with NaN or infinite values fed as missing (confidence 0)" in "\n".join(streams.report)


def test_a_person_seen_in_one_frame_is_left_out_and_counted(tmp_path):
    entries = [alphapose_entry(f"{k}.jpg", joints(COCO17), 2.0, 1) for k in range(3)]
    entries.insert(1, alphapose_entry("0.jpg", joints(COCO17, 50), 1.0, 7))
    path = write_json(tmp_path / "r.json", entries)
    streams = read_streams(path, SIZE)
    assert streams.people == ["idx 1"]
    assert "1 person seen in fewer than 2 frames left out (idx 7 at frame 0); --min-frames 1 keeps such people" in "\n".join(streams.report)
    assert read_streams(path, SIZE, min_frames=1).people == ["idx 1", "idx 7"]
    only = write_json(tmp_path / "one.json", [alphapose_entry("0.jpg", joints(COCO17), 2.0, 3)])
    with pytest.raises(KeypointFileError, match="no person is seen in at least 2 frames"):
        read_streams(only, SIZE)


def test_keypoints_that_are_not_pixels_of_that_image_are_warned_about(tmp_path):
    entries = [alphapose_entry(f"{k}.jpg", joints(COCO17), 2.0, 1) for k in range(2)]
    path = write_json(tmp_path / "r.json", entries)
    assert not any("WARNING" in line for line in read_streams(path, SIZE).report)
    # In a 300 × 150 image only r_shoulder (400, 150) lies within [-150, 450] × [-75, 225]: 16 joints × 2 frames outside.
    assert "WARNING: 32 joints lie far outside the 300 × 150 image: check --image-size" in "\n".join(read_streams(path, (300, 150)).report)
    scaled = joints(COCO17) / [1000, 500, 1]  # OpenPose --keypoint_scale 3: x, y in [0, 1]
    path = write_json(tmp_path / "n.json", [alphapose_entry(f"{k}.jpg", scaled, 2.0, 1) for k in range(2)])
    assert "the file looks normalised already" in "\n".join(read_streams(path, SIZE).report)


def bad_cases(tmp_path: Path) -> list[tuple[Path, dict, str]]:
    kp = joints(COCO17)
    ok = [alphapose_entry(f"{k}.jpg", kp, 2.0, 1) for k in range(3)]
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "binary.json").write_bytes(b"\x80\x81\x00")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_json(mixed / "a_000000000000_keypoints.json", openpose_frame([(joints(BODY25), 0)]))
    write_json(mixed / "a_000000000001_keypoints.json", openpose_frame([(joints(BODY25), -1)]))
    return [
        (write_json(tmp_path / "unknown.json", {"frames": [1, 2]}), {}, r"unknown.json: a JSON object with keys \['frames'\] is not a keypoint format"),
        (write_json(tmp_path / "empty.json", []), {}, "empty.json: the detection list is empty"),
        (write_json(tmp_path / "back.json", [ok[0], ok[2], ok[1]]), {}, "'image_id' goes back from '2.jpg' to '1.jpg'"),
        (write_json(tmp_path / "again.json", [ok[0], ok[1], ok[0]]), {}, "'image_id' '0.jpg' appears again after '1.jpg'"),
        (write_json(tmp_path / "mm.json", [{"frame_id": 3, "instances": []}, {"frame_id": 2, "instances": []}]), {}, "'frame_id' goes back from 3 to 2"),
        (write_json(tmp_path / "nobody.json", [{"frame_id": 0, "instances": []}, {"frame_id": 1, "instances": []}]), {}, "no person detected in any of its 2 frames"),
        (write_json(tmp_path / "twice.json", [*ok, alphapose_entry("2.jpg", kp, 1.0, 1)]), {}, "idx 1 appears twice in frame 2"),
        (write_json(tmp_path / "short.json", [{**ok[0], "keypoints": [1.0] * 50}]), {}, r"entry 0 \(image_id '0.jpg'\): 'keypoints' has 50 numbers"),
        (write_json(tmp_path / "text.json", [{**ok[0], "keypoints": ["a"] * 51}]), {}, "'keypoints' must be a flat list of numbers"),
        (write_json(tmp_path / "hand.json", [alphapose_entry("0.jpg", np.ones((21, 3)), 1.0, 1)]), {}, "21 keypoints per person is not a body skeleton"),
        (write_json(tmp_path / "ok.json", ok), {"image_size": None}, "AlphaPose results do not record the image size: pass --image-size W H"),
        (tmp_path / "ok.json", {"skeleton": "body25"}, "--skeleton body25: OpenPose BODY_25 has 25 joints, the file's detections 17"),
        (write_json(tmp_path / "mm_meta.json", {"meta_info": {"dataset_name": "ap10k"}, "instance_info": [{"frame_id": 0, "instances": [mmpose_instance(kp)]}]}),
         {}, "dataset_name 'ap10k' is not a body skeleton"),
        (mixed, {}, "has a track id \\(person_id 0\\) but .* has none"),
        (tmp_path / "empty_dir", {}, "the folder holds no .json files"),
        (tmp_path / "binary.json", {}, "not a text \\(JSON\\) file"),
        (tmp_path / "missing.json", {}, "missing.json: keypoint file not found"),
    ]  # fmt: skip


def test_bad_input_is_an_error_naming_file_and_field(tmp_path):
    for path, options, message in bad_cases(tmp_path):
        kwargs = {"image_size": SIZE, **options}
        with pytest.raises(KeypointFileError, match=message):
            read_streams(path, **kwargs)
