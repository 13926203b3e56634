"""Readers on tiny files in the exact official formats (tests/fixtures.py): shapes, normalisation,
values (worked out by hand from the fixtures' documented values), and errors on malformed files."""

from __future__ import annotations

import json
import logging
import pickle

import numpy as np
import pytest
from fixtures import (
    mb_label,
    official_3dhp_test,
    write_3dhp,
    write_amass_joints,
    write_h36m_source,
    write_instavariety,
    write_mb_clip,
    write_mb_store,
    write_mesh,
    write_ntu,
    write_posetrack,
)

from hummuss_pl.batch import (
    FPS,
    FRAME,
    HAS_3D,
    HYBRIK_POSE,
    HYBRIK_SHAPE,
    INPUT,
    LABEL,
    SCALE_MM,
    SEQUENCE,
    SMPL_POSE,
    SMPL_SHAPE,
    SOURCE,
    TARGET_3D,
    TARGET_INDEX,
    VALID,
)
from hummuss_pl.data.amass import AMASSJoints, AMASSJointsConfig, convert_amass
from hummuss_pl.data.common import (
    DataFormatError,
    MissingDataError,
    crop_scale,
    resample_indices,
    split_clips,
)
from hummuss_pl.data.h36m import H36MSource, H36MSourceConfig, convert_h36m
from hummuss_pl.data.instavariety import InstaVariety2D, InstaVarietyConfig
from hummuss_pl.data.mesh import MeshClips, MeshConfig
from hummuss_pl.data.motionbert_clips import MotionBERTClipConfig, MotionBERTClips
from hummuss_pl.data.mpi_inf_3dhp import MPI3DHPClips, MPI3DHPConfig, MPI3DHPTestWindows
from hummuss_pl.data.ntu import NTUAction, NTUConfig
from hummuss_pl.data.posetrack import PoseTrack2D, PoseTrackConfig
from hummuss_pl.data.sampling import item_rng

# For each H36M joint, the 3DHP joint it comes from (datasets.md §1.2, written out by hand here).
MPI_FOR_H36M = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]


def assert_float32(sample: dict) -> None:
    for k, v in sample.items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            assert v.dtype == np.float32, k


# ------------------------------------------------------------------------------ slicing helpers
def test_split_clips_windows_drops_and_resampling():
    ids = [0] * 10 + [1] * 3 + [2] * 7
    clips, rep = split_clips(ids, n_frames=4, stride=2)
    expected = [
        [0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9],  # video 0 fully covered
        [10, 10, 11, 12],  # video 1 (3 frames) resampled: floor(0, .75, 1.5, 2.25) + 10
        [13, 14, 15, 16], [15, 16, 17, 18],  # video 2: frame 19 fills no window
    ]  # fmt: skip
    assert [c.tolist() for c in clips] == expected
    assert (rep.videos, rep.clips, rep.frames, rep.frames_dropped, rep.resampled_videos) == (3, 7, 20, 1, 1)


def test_split_clips_stride_longer_than_clip_counts_gaps():
    clips, rep = split_clips(np.zeros(10), n_frames=3, stride=4)
    assert [c.tolist() for c in clips] == [[0, 1, 2], [4, 5, 6]]
    assert rep.frames_dropped == 4  # frames 3, 7, 8, 9


def test_split_clips_last_short_video_is_kept():
    # MotionBERT's loop leaves a short *last* video out; we resample it like any short video.
    clips, rep = split_clips(["a"] * 5 + ["b"] * 2, n_frames=4, stride=4)
    assert [c.tolist() for c in clips] == [[0, 1, 2, 3], [5, 5, 6, 6]]
    assert rep.frames_dropped == 1 and rep.resampled_videos == 1


def test_resample_random_upsampling_stays_within_floor_ceil():
    rng = np.random.default_rng(0)
    idx = resample_indices(3, 8, rng)
    even = np.arange(8) * 3 / 8
    assert np.all(np.diff(idx) >= 0) and idx.min() >= 0 and idx.max() <= 2
    assert np.all((idx == np.floor(even)) | (idx == np.minimum(np.ceil(even), 2)))


def test_crop_scale_by_hand():
    m = np.zeros((1, 5, 3), np.float32)
    m[0, :4, :2] = [[0, 0], [10, 0], [0, 20], [10, 20]]
    m[0, :4, 2] = 1
    m[0, 4] = [100, 100, 0]  # conf 0: not in the box, but mapped (and clipped) like the rest
    out = crop_scale(m, 1.0)  # box 10 × 20 → square side 20, corner (-5, 0)
    np.testing.assert_allclose(out[0, :, :2], [[-0.5, -1], [0.5, -1], [-0.5, 1], [0.5, 1], [1, 1]])
    np.testing.assert_allclose(crop_scale(m, 2.0)[0, 0, :2], [-0.25, -0.5])  # side 40, corner (-15, -10)
    assert not crop_scale(m[:, 1:], 1.0).any()  # 3 valid joints: all zeros


# ------------------------------------------------------------------------------------ clip store
def test_clip_store_amass_projects_label_to_input(tmp_path):
    write_mb_store(tmp_path, amass_train=3)
    ds = MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "AMASS", "train"))
    assert len(ds) == 3
    s = ds[2]
    assert_float32(s)
    np.testing.assert_array_equal(s[TARGET_3D], mb_label(2))
    np.testing.assert_array_equal(s[INPUT][..., :2], mb_label(2)[..., :2])
    assert (s[INPUT][..., 2] == 1).all()
    assert s[HAS_3D] is True and s[FPS] == 60.0 and s[SOURCE] == "amass"
    assert s[SCALE_MM] == pytest.approx(1000 / 0.298)


def test_clip_store_h36m_stored_vs_projected_input(tmp_path):
    write_mb_store(tmp_path)
    stored = MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "H36M-SH", "test"))[0]
    assert (stored[INPUT][..., 2] == 0.5).all() and stored[FPS] == 50.0
    projected = MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "H36M-SH", "train", input_2d="projected"))[1]
    assert (projected[INPUT][..., 2] == 1).all()
    with pytest.raises(DataFormatError, match=r"00000000\.pkl.*data_input is None"):
        MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "AMASS", "train", input_2d="stored"))[0]


def test_clip_store_missing_and_malformed(tmp_path):
    with pytest.raises(MissingDataError, match=r"AMASS.*docs/DATA\.md"):
        MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "AMASS", "train"))
    write_mb_clip(tmp_path / "AMASS" / "train" / "00000000.pkl", None, mb_label(0))
    write_mb_clip(tmp_path / "AMASS" / "train" / "00000001.pkl", None, np.zeros((9, 16, 3), np.float32))
    with open(tmp_path / "AMASS" / "train" / "00000002.pkl", "wb") as f:
        pickle.dump({"data_input": None}, f)
    ds = MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "AMASS", "train"))
    with pytest.raises(DataFormatError, match=r"00000001\.pkl: data_label: expected shape \(N, 17, 3\); got \(9, 16, 3\)"):
        ds[1]
    with pytest.raises(DataFormatError, match=r"00000002\.pkl: missing key\(s\) \['data_label'\]"):
        ds[2]


def test_clip_store_unknown_subset_needs_meta(tmp_path):
    write_mb_clip(tmp_path / "Mine" / "train" / "00000000.pkl", None, mb_label(0))
    with pytest.raises(ValueError, match="meta.json"):
        MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "Mine", "train"))
    (tmp_path / "Mine" / "meta.json").write_text(json.dumps({"fps": 25, "scale_mm": 7.0, "source": "mine"}))
    s = MotionBERTClips(MotionBERTClipConfig(str(tmp_path), "Mine", "train"))[0]
    assert (s[FPS], s[SCALE_MM], s[SOURCE]) == (25.0, 7.0, "mine")


# ------------------------------------------------------------------------------------ H36M source
def test_h36m_source_normalisation_and_clips(tmp_path):
    path = tmp_path / "h36m_sh_conf_cam_source_final.pkl"
    write_h36m_source(path)  # train: video 0 12 frames cam 54138969, video 1 5 frames cam 55011271
    ds = H36MSource(H36MSourceConfig(str(path), "train", clip_len=4, stride=3))
    # video 0: windows at 0, 3, 6 (frames 10, 11 dropped); video 1: window at 0 (frame 4 dropped)
    assert len(ds) == 4 and ds.report.frames_dropped == 3 and ds.report.frames == 17
    s = ds[0]
    assert_float32(s)
    assert s[INPUT].shape == (4, 17, 3) and s[TARGET_3D].shape == (4, 17, 3)
    np.testing.assert_allclose(s[INPUT][0, 0], [0.0, 250 / 1000 * 2 - 1002 / 1000, 0.5], atol=1e-6)
    np.testing.assert_allclose(s[TARGET_3D][0, 0], [0.0, -0.502, 0.2], atol=1e-6)
    np.testing.assert_allclose(ds[3][INPUT][0, 0], [0.0, -0.5, 0.5], atol=1e-6)  # 1000 × 1000 camera
    assert s[SCALE_MM] == 1.0 and s[FPS] == 50.0 and s[SOURCE] == "h36m"

    test = H36MSource(H36MSourceConfig(str(path), "test", clip_len=4))  # stride 4 on 10 frames
    assert len(test) == 2 and test.report.frames_dropped == 2
    assert test[0][SCALE_MM] == pytest.approx(4.0 * 1000 / 2)  # 2.5d_factor · res_w / 2
    assert (test[0][INPUT][..., 2] == 0.25).all()  # (N, 17, 1) confidence
    projected = H36MSource(H36MSourceConfig(str(path), "train", clip_len=4, stride=3, input_2d="projected"))[0]
    np.testing.assert_array_equal(projected[INPUT][..., :2], s[TARGET_3D][..., :2])  # label xy, conf 1
    assert (projected[INPUT][..., 2] == 1).all()
    with pytest.raises(ValueError, match="input_2d must be auto, stored or projected"):
        H36MSourceConfig(str(path), input_2d="detected")


def test_h36m_convert_writes_the_clip_store(tmp_path):
    path = tmp_path / "src.pkl"
    write_h36m_source(path)
    reports = convert_h36m(path, tmp_path / "MB3D_f243s81", clip_len=4, stride_train=3, stride_test=4)
    assert reports["train"].items == 4
    with open(tmp_path / "MB3D_f243s81" / "H36M-SH" / "train" / "00000003.pkl", "rb") as f:
        raw = pickle.load(f)
    assert set(raw) == {"data_input", "data_label"} and raw["data_input"].shape == (4, 17, 3)
    np.testing.assert_allclose(raw["data_input"][0, 5], [0.0, -0.5, 0.5], atol=1e-6)
    clips = MotionBERTClips(MotionBERTClipConfig(str(tmp_path / "MB3D_f243s81"), "H36M-SH", "test"))
    assert len(clips) == 2


def test_h36m_malformed(tmp_path):
    path = tmp_path / "src.pkl"
    data = write_h36m_source(path)
    data["train"]["camera_name"][3] = "12345678"
    with open(path, "wb") as f:
        pickle.dump(data, f)
    with pytest.raises(DataFormatError, match=r"train/camera_name\[3\] = '12345678' is not one of the H36M cameras"):
        H36MSource(H36MSourceConfig(str(path), "train"))
    del data["train"]["joint3d_image"]
    with open(path, "wb") as f:
        pickle.dump(data, f)
    with pytest.raises(DataFormatError, match=r"src\.pkl: train: missing key\(s\) \['joint3d_image'\]"):
        H36MSource(H36MSourceConfig(str(path), "train"))
    with pytest.raises(MissingDataError, match=r"nope\.pkl"):
        H36MSource(H36MSourceConfig(str(tmp_path / "nope.pkl")))


# ------------------------------------------------------------------------------------- AMASS
def test_amass_axis_swap_scale_and_slicing(tmp_path):
    path = tmp_path / "amass_joints_h36m_60.pkl"
    write_amass_joints(path, lengths=(20, 7))
    ds = AMASSJoints(AMASSJointsConfig(str(path), clip_len=8, stride=5))
    # motion 0: windows 0, 5, 10 (frames 18, 19 dropped); motion 1 (7 frames): resampled
    assert len(ds) == 4 and ds.report.frames_dropped == 2
    s = ds[1]
    assert_float32(s)
    j = np.arange(17)
    expected = 0.298 * np.stack([np.full(17, 1 + 5 / 10), -(3 + j / 10), np.full(17, 2.0)], -1)  # frame 5
    np.testing.assert_allclose(s[TARGET_3D][0], expected, rtol=1e-6)
    np.testing.assert_array_equal(s[INPUT][..., :2], s[TARGET_3D][..., :2])
    assert (s[INPUT][..., 2] == 1).all()
    assert s[FPS] == 60.0 and s[SCALE_MM] == pytest.approx(1000 / 0.298)

    convert_amass(path, tmp_path / "MB3D_f243s81", clip_len=8, stride=5)
    with open(tmp_path / "MB3D_f243s81" / "AMASS" / "train" / "00000001.pkl", "rb") as f:
        raw = pickle.load(f)
    assert raw["data_input"] is None
    np.testing.assert_allclose(raw["data_label"][0], expected, rtol=1e-6)


def test_amass_malformed(tmp_path):
    path = tmp_path / "a.pkl"
    with open(path, "wb") as f:
        pickle.dump([np.zeros((17, 5, 3)), np.zeros((16, 5, 3))], f)
    with pytest.raises(DataFormatError, match=r"motion \[1\]: expected shape \(17, N, 3\)"):
        AMASSJoints(AMASSJointsConfig(str(path)))


# -------------------------------------------------------------------------------------- 3DHP
def test_3dhp_training_clips(tmp_path):
    write_3dhp(tmp_path, train_frames=(30, 12))
    ds = MPI3DHPClips(MPI3DHPConfig(str(tmp_path), "train", clip_len=10, stride=10))
    # S1 Seq1: 2 cameras × 3 clips; S1 Seq2: 1 clip, 2 frames dropped
    assert len(ds) == 7 and ds.report.frames_dropped == 2
    s = ds[0]
    assert_float32(s)
    m = np.array(MPI_FOR_H36M)
    np.testing.assert_allclose(s[INPUT][3, :, 0], 2 * m / 2048, atol=1e-6)  # x' = 2j/w
    np.testing.assert_allclose(s[INPUT][3, :, 1], 2 * 3 / 2048, atol=1e-6)  # y' = 2f/w
    assert (s[INPUT][..., 2] == 1).all()
    offset = np.stack([10.0 * m - 140, -5.0 * m + 70, 2.0 * m - 28], -1) * 2 / 2048  # (X - X_root) · 2/w
    np.testing.assert_allclose(s[TARGET_3D][0], offset, atol=1e-6)
    assert not s[TARGET_3D][:, 0].any()  # H36M root = 3DHP pelvis, root-relative
    assert s[SCALE_MM] == 1024.0 and s[FPS] == 25.0 and s[VALID].all()
    assert ds[6][FPS] == 50.0  # S1 Seq2


def test_3dhp_test_windows_edge_padding_and_ts5_normalisation(tmp_path):
    write_3dhp(tmp_path)  # TS1: 9 frames valid 2, 3, 8 (2048²); TS5: 5 frames valid 0, 4 (1920 × 1080)
    ds = MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test", clip_len=5))
    assert len(ds) == 5
    assert [(ds[i][SEQUENCE], ds[i][FRAME]) for i in range(5)] == [("TS1", 2), ("TS1", 3), ("TS1", 8), ("TS5", 0), ("TS5", 4)]
    s = ds[2]  # TS1 frame 8: window frames 6, 7, 8, 8, 8
    assert s[TARGET_INDEX] == 2
    np.testing.assert_allclose(s[INPUT][:, 0, 1], 2 * np.array([6, 7, 8, 8, 8]) / 2048, atol=1e-6)
    assert s[VALID].tolist() == [False, False, True, True, True]
    ts5 = ds[3]  # frame 0: window 0, 0, 0, 1, 2
    np.testing.assert_allclose(ts5[INPUT][:, 0, 1], 2 * np.array([0, 0, 0, 1, 2]) / 1920, atol=1e-6)
    np.testing.assert_allclose(ts5[INPUT][0, :, 0], 2 * np.array(MPI_FOR_H36M) / 1920, atol=1e-6)
    assert ts5[SCALE_MM] == 960.0
    m = np.array(MPI_FOR_H36M)
    np.testing.assert_allclose(ts5[TARGET_3D][0, :, 0], (10.0 * m - 140) * 2 / 1920, atol=1e-6)

    last = MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test", clip_len=5, anchor="last"))
    assert last[0][TARGET_INDEX] == 4
    np.testing.assert_allclose(last[0][INPUT][:, 0, 1], 2 * np.array([0, 0, 0, 1, 2]) / 2048, atol=1e-6)
    step = MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test", clip_len=5, frame_step=2))
    np.testing.assert_allclose(step[1][INPUT][:, 0, 1], 2 * np.array([0, 1, 3, 5, 7]) / 2048, atol=1e-6)
    assert step[1][FPS] == ds[1][FPS] / 2


def test_3dhp_reader_warns_unless_the_test_set_is_the_official_one(tmp_path, caplog):
    official = official_3dhp_test()
    write_3dhp(tmp_path, test_frames=official)
    with caplog.at_level(logging.WARNING, logger="hummuss_pl.data"):
        full = MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test", clip_len=3))
    assert len(full) == 2929 and full.report.warnings == [] and not caplog.records
    partial = {name: dict(seq) for name, seq in official.items() if name != "TS2"}
    partial["TS5"]["valid"] = partial["TS5"]["valid"].copy()
    partial["TS5"]["valid"][0] = 0  # 275 valid frames
    write_3dhp(tmp_path, test_frames=partial)
    with caplog.at_level(logging.WARNING, logger="hummuss_pl.data"):
        ds = MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test", clip_len=3))
    assert len(ds) == 2929 - 540 - 1  # still read: every valid frame of what is there
    assert ds.report.warnings == [
        "not the official test set (missing TS2; valid frames TS5 275 (official 276)): 2388 valid frames instead of 2929, "
        "so PCK / AUC / MPJPE are not comparable with published numbers"
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING] and "not the official test set" in caplog.records[0].message
    assert MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test"), ds.sequences, source="synthetic").report.warnings == []


def test_3dhp_malformed(tmp_path):
    with pytest.raises(MissingDataError, match=r"data_test_3dhp\.npz"):
        MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test"))
    data = write_3dhp(tmp_path)
    del data["train"]["S1 Seq1"][0]["2"]["data_3d"]
    np.savez_compressed(tmp_path / "data_train_3dhp.npz", data=data["train"])
    with pytest.raises(DataFormatError, match=r"S1 Seq1/cam 2: missing key\(s\) \['data_3d'\]"):
        MPI3DHPClips(MPI3DHPConfig(str(tmp_path), "train"))
    data["test"]["TS1"]["data_2d"] = np.zeros((9, 16, 2))
    np.savez_compressed(tmp_path / "data_test_3dhp.npz", data=data["test"])
    with pytest.raises(DataFormatError, match=r"TS1/data_2d: expected shape \(N, 17, 2\); got \(9, 16, 2\)"):
        MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test"))
    np.savez_compressed(tmp_path / "data_test_3dhp.npz", other=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"missing array 'data'"):
        MPI3DHPTestWindows(MPI3DHPConfig(str(tmp_path), "test"))


# ------------------------------------------------------------------------------------ PoseTrack
def test_posetrack_filters_order_and_normalisation(tmp_path):
    write_posetrack(tmp_path)
    ds = PoseTrack2D(PoseTrackConfig(str(tmp_path), scale_range=(1.0, 1.0)))
    assert len(ds) == 1
    assert ds.report.dropped == {
        "tracks shorter than 30 frames": 1,
        "tracks with visibility sum <= 306": 1,
        "tracks whose root is not visible in every frame": 1,
    }
    s = ds[0]
    assert_float32(s)
    assert s[INPUT].shape == (30, 17, 3) and s[HAS_3D] is False and not s[TARGET_3D].any()
    # box over the 30 frames: x ∈ [100, 300 + 29], y ∈ [200, 300] → side 229, corner (100, 135.5)
    def norm(x, y):
        return [((x - 100) / 229 - 0.5) * 2, ((y - 135.5) / 229 - 0.5) * 2]

    inp = s[INPUT]
    np.testing.assert_allclose(inp[0, 0], norm(200, 260) + [1], atol=1e-6)  # root = mid-hip
    np.testing.assert_allclose(inp[1, 0, :2], norm(201, 260), atol=1e-6)  # frame 1 (+1 px): image order kept
    np.testing.assert_allclose(inp[0, 8, :2], norm(200, 210), atol=1e-6)  # neck = head_bottom
    np.testing.assert_allclose(inp[0, 10, :2], norm(200, 200), atol=1e-6)  # head = head_top
    np.testing.assert_allclose(inp[0, 7, :2], norm(200, 235), atol=1e-6)  # belly = mid(root, neck)
    np.testing.assert_allclose(inp[0, 16, :2], norm(300, 270), atol=1e-6)  # r_wrist
    assert not inp[0, 12].any() and inp[1, 12, 2] == 1  # invisible l_elbow in frame 0 is zeroed


def test_posetrack_malformed(tmp_path):
    with pytest.raises(MissingDataError, match="posetrack"):
        PoseTrack2D(PoseTrackConfig(str(tmp_path / "missing")))
    bad = {"images": [], "annotations": [{"id": 4, "image_id": 1, "keypoints": [0] * 51}]}
    (tmp_path / "v.json").write_text(json.dumps(bad))
    with pytest.raises(DataFormatError, match=r"v\.json: annotations\[0\] \(id 4\): missing key\(s\) \['track_id'\]"):
        PoseTrack2D(PoseTrackConfig(str(tmp_path)))
    bad["annotations"][0].update(track_id=1, keypoints=[0] * 48)
    (tmp_path / "v.json").write_text(json.dumps(bad))
    with pytest.raises(DataFormatError, match=r"51 numbers; got 48"):
        PoseTrack2D(PoseTrackConfig(str(tmp_path)))
    (tmp_path / "v.json").write_text("{not json")
    with pytest.raises(DataFormatError, match=r"v\.json: not valid JSON"):
        PoseTrack2D(PoseTrackConfig(str(tmp_path)))


# --------------------------------------------------------------------------------- InstaVariety
def test_instavariety_clips_filter_and_values(tmp_path):
    write_instavariety(tmp_path, lengths=(100, 40, 90))
    ds = InstaVariety2D(InstaVarietyConfig(str(tmp_path), scale_range=(1.0, 1.0)))
    # clip 0: window 0 only (19 frames dropped); clip 1: 40 frames resampled to 81; clip 2: window 0
    # (9 dropped) but its first-frame root confidence is 0 → dropped
    assert len(ds) == 2 and ds.report.frames_dropped == 28
    assert ds.report.dropped == {"clips with first-frame root confidence <= 0": 1}
    s = ds[0]
    assert_float32(s)
    assert s[INPUT].shape == (81, 17, 3) and s[HAS_3D] is False
    # box: x ∈ [0, 1], y ∈ [0, 0.08] → side 1, corner (0, -0.46): x' = 2x - 1, y' = 2y - 0.08
    np.testing.assert_allclose(s[INPUT][10, 16], [1.0, 2 * 0.010 - 0.08, 1.0], atol=1e-6)
    np.testing.assert_allclose(s[INPUT][0, 8], [2 * 8 / 16 - 1, -0.08, 1.0], atol=1e-6)
    assert not s[INPUT][:, [7, 10]].any()  # confidence-0 joints are zeroed
    short = ds[1][INPUT]  # frames 0..39 of clip 1 stretched: y ∈ [1, 1.039]
    np.testing.assert_allclose(short[[0, -1], 0, 1], [2 * 1.0 - 2.039, 2 * 1.039 - 2.039], atol=1e-5)


def test_instavariety_malformed(tmp_path):
    motion, ids = write_instavariety(tmp_path)
    np.save(tmp_path / "id_all.npy", ids[:-1])
    with pytest.raises(DataFormatError, match=r"id_all\.npy: id_all .*got \(229,\)"):
        InstaVariety2D(InstaVarietyConfig(str(tmp_path)))
    (tmp_path / "id_all.npy").unlink()
    with pytest.raises(MissingDataError, match=r"id_all\.npy"):
        InstaVariety2D(InstaVarietyConfig(str(tmp_path)))


# ---------------------------------------------------------------------------------------- mesh
def test_mesh_pw3d_clips_and_values(tmp_path):
    path = tmp_path / "mesh_det_pw3d.pkl"
    write_mesh(path, "pw3d", videos=(24, 5))
    train = MeshClips(MeshConfig(str(path), "train"))  # stride 8: windows 0, 8 + the short video
    assert len(train) == 3 and train.report.frames_dropped == 0 and not train.hybrik
    s = train[1]
    assert_float32(s)
    assert s[INPUT].shape == (16, 17, 3) and s[SMPL_POSE].shape == (16, 72) and s[SMPL_SHAPE].shape == (16, 10)
    np.testing.assert_allclose(s[INPUT][0, :, 0], np.arange(17) / 960, atol=1e-6)  # (960 + j)/1920·2 − 1
    assert np.allclose(s[INPUT][..., 1], 0) and (s[INPUT][..., 2] == 1).all()  # conf 1.5 clipped
    np.testing.assert_allclose(s[SMPL_POSE][0], 8 / 1000, rtol=1e-6)  # clip starts at frame 8
    assert HYBRIK_POSE not in s and s[FPS] == 30.0 and s[SOURCE] == "pw3d"
    test = MeshClips(MeshConfig(str(path), "test"))  # stride 16: window 0 (8 frames dropped) + short video
    assert len(test) == 2 and test.report.frames_dropped == 8


def test_mesh_coco_h36m_and_hybrik(tmp_path):
    coco = tmp_path / "mesh_det_coco_w_hybrik_pred.pkl"
    write_mesh(coco, "coco", hybrik=True, videos=(3, 2), conf_shape="3d")
    ds = MeshClips(MeshConfig(str(coco), "train"))
    assert len(ds) == 5 and ds.hybrik
    s = ds[4]
    assert s[INPUT].shape == (1, 17, 3)
    np.testing.assert_allclose(s[INPUT][0, :, 0], np.arange(17) / 320, atol=1e-6)  # res 640
    np.testing.assert_allclose(s[HYBRIK_POSE], 2 * s[SMPL_POSE])
    np.testing.assert_allclose(s[HYBRIK_SHAPE], 2 * s[SMPL_SHAPE])
    h36m = tmp_path / "mesh_det_h36m.pkl"
    write_mesh(h36m, "h36m", videos=(16,))
    s = MeshClips(MeshConfig(str(h36m), "test"))[0]
    np.testing.assert_allclose(s[INPUT][0, :, :2], np.stack([np.arange(17) / 500, np.zeros(17)], -1), atol=1e-6)
    assert s[SOURCE] == "h36m_mesh" and s[FPS] == 50.0


def test_mesh_malformed(tmp_path):
    path = tmp_path / "mesh_det_pw3d.pkl"
    data = write_mesh(path, "pw3d")
    with pytest.raises(DataFormatError, match=r"train: missing key\(s\) \['pred_smpl_pose', 'pred_smpl_shape'\]"):
        MeshClips(MeshConfig(str(path), hybrik=True))
    data["train"]["smpl_pose"] = data["train"]["smpl_pose"][:, :69]
    with open(path, "wb") as f:
        pickle.dump(data, f)
    with pytest.raises(DataFormatError, match=r"mesh_det_pw3d\.pkl: train/smpl_pose: expected shape \(25, 72\); got \(25, 69\)"):
        MeshClips(MeshConfig(str(path)))
    with pytest.raises(ValueError, match="cannot tell the dataset"):
        MeshClips(MeshConfig(str(tmp_path / "other.pkl")))


# ----------------------------------------------------------------------------------------- NTU
def test_ntu_normalisation_conversion_and_confidences(tmp_path):
    path = tmp_path / "ntu60_hrnet.pkl"
    write_ntu(path)
    cfg = dict(path=str(path), split="xview_val", clip_len=5, crop_scale=False)
    s = NTUAction(NTUConfig(**cfg))[0]  # sample A: 10 frames → linspace indices 0, 2, 4, 6, 8
    assert_float32(s)
    x = s[INPUT]
    assert x.shape == (2, 5, 17, 3) and s[LABEL] == 0 and not x[1].any()  # zero second person
    assert s[FPS] == 30.0 * 5 / 10
    # make_cam: (960 + j, 540 + t) / 1920 · 2 − 1 → (j / 960, (540 + t) / 960 − 1)
    np.testing.assert_allclose(x[0, :, 0, 0], 11.5 / 960, atol=1e-6)  # root = mid-hip (COCO 11, 12)
    np.testing.assert_allclose(x[0, :, 0, 1], (540 + np.array([0, 2, 4, 6, 8])) / 960 - 1, atol=1e-6)
    np.testing.assert_allclose(x[0, 0, 10, 0], 1.5 / 960, atol=1e-6)  # head = mid-eyes
    # confidences converted with the joints: root = min(s11, s12), r_hip = s12, nose = s0, head = min(s1, s2)
    np.testing.assert_allclose(x[0, 0, [0, 1, 9, 10, 16], 2], [0.11, 0.12, 0.0, 0.01, 0.10], atol=1e-6)
    quirk = NTUAction(NTUConfig(**cfg, motionbert_conf_quirk=True))[0][INPUT]
    np.testing.assert_allclose(quirk[0, 0, :, 2], np.arange(17) / 100, atol=1e-6)  # COCO order (issue #132)
    np.testing.assert_array_equal(quirk[..., :2], x[..., :2])


def test_ntu_tracking_swaps_persons_and_their_confidences(tmp_path):
    path = tmp_path / "ntu60_hrnet.pkl"
    write_ntu(path)
    cfg = dict(path=str(path), split="xsub_val", clip_len=6, crop_scale=False)
    ds = NTUAction(NTUConfig(**cfg))
    assert len(ds) == 1 and ds.report.dropped == {"split entries without an annotation": 1}
    x = ds[0][INPUT]
    np.testing.assert_allclose(x[0, :, 9, 0], 100 / 960 - 1, atol=1e-6)  # person A (x0 = 100) in every frame
    np.testing.assert_allclose(x[1, :, 9, 0], 1500 / 960 - 1, atol=1e-6)
    assert np.allclose(x[0, ..., 2], 0.9) and np.allclose(x[1, ..., 2], 0.3)
    quirk = NTUAction(NTUConfig(**cfg, motionbert_conf_quirk=True))[0][INPUT]
    np.testing.assert_allclose(quirk[0, :, 0, 2], [0.9, 0.9, 0.9, 0.3, 0.3, 0.3])  # scores not swapped


def test_ntu_crop_scale_test_ratio(tmp_path):
    path = tmp_path / "ntu60_hrnet.pkl"
    write_ntu(path)
    x = NTUAction(NTUConfig(str(path), "xview_val", clip_len=5))[0][INPUT]  # ratio 2
    # in units of 1/960: x ∈ [1.5, 16] (nose has confidence 0), y ∈ [-420, -412] → side 29,
    # corner (-5.75, -430.5)
    np.testing.assert_allclose(x[0, 0, 0, :2], [2 * 17.25 / 29 - 1, 2 * 10.5 / 29 - 1], atol=1e-5)
    assert not x[1].any()


def test_ntu_train_resampling_and_augmentation_are_seeded(tmp_path):
    path = tmp_path / "ntu60_hrnet.pkl"
    write_ntu(path)
    a = NTUAction(NTUConfig(str(path), "xsub_train", clip_len=20, seed=3))
    b = NTUAction(NTUConfig(str(path), "xsub_train", clip_len=20, seed=3))
    for i in range(2):
        assert np.all(np.diff(a.resample[i]) >= 0) and a.resample[i].max() < a.samples[i]["keypoint"].shape[1]
        np.testing.assert_array_equal(a[i][INPUT], b[i][INPUT])  # dataset[i]: the epoch-0 draw of `seed`
        np.testing.assert_array_equal(a[i][INPUT], a.item(i, item_rng(3, 0, i))[INPUT])
        assert not np.allclose(a[i][INPUT], a.item(i, item_rng(3, 1, i))[INPUT])  # another epoch
        assert np.abs(a[i][INPUT]).max() <= 1
    plain = NTUAction(NTUConfig(str(path), "xsub_train", clip_len=20, seed=3, random_move=False, crop_scale=False))
    assert not np.allclose(a[0][INPUT][0, ..., :2], plain[0][INPUT][0, ..., :2])


def test_ntu_malformed_and_extra_persons(tmp_path):
    path = tmp_path / "ntu60_hrnet.pkl"
    data = write_ntu(path)
    with pytest.raises(DataFormatError, match=r"split 'xset_train' not found; the file has \['xsub_train'"):
        NTUAction(NTUConfig(str(path), "xset_train"))
    ann = data["annotations"][0]
    ann["keypoint"] = np.concatenate([ann["keypoint"]] * 3)  # 3 persons
    ann["keypoint_score"] = np.concatenate([ann["keypoint_score"]] * 3)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    ds = NTUAction(NTUConfig(str(path), "xview_val", clip_len=5))
    assert ds[0][INPUT].shape == (2, 5, 17, 3)
    assert ds.report.dropped == {"persons beyond the first 2 (samples)": 1}
    ann["keypoint_score"] = ann["keypoint_score"][:, :, :16]
    with open(path, "wb") as f:
        pickle.dump(data, f)
    with pytest.raises(DataFormatError, match=r"S001C001P001R001A001\)/keypoint_score: expected shape \(3, 10, 17\)"):
        NTUAction(NTUConfig(str(path), "xview_val"))
