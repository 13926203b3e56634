"""Tiny dataset files in the exact on-disk formats the official tools write (no real data).

Every writer builds its file with plain pickle / numpy / json — nothing from hummuss_pl — so tests
exercise the readers on the formats themselves. Values are chosen so expectations can be worked
out by hand (documented per writer); each writer returns what a test needs to know.

    write_mb_clip(path, data_input, data_label)        one MB3D_f243s81 clip pickle
    write_mb_store(mb3d_root, ...)                     AMASS (input None) and H36M-SH subsets
    write_h36m_source(path)                            h36m_sh_conf_cam_source_final.pkl
    write_amass_joints(path)                           amass_joints_h36m_60.pkl (list of (17, T, 3))
    write_3dhp(root)                                   data_train_3dhp.npz / data_test_3dhp.npz
    official_3dhp_test()                               a test dict with the official TS1–TS6 valid counts
    write_posetrack(folder)                            PoseTrack18 MMPose-style annotation JSONs
    write_instavariety(folder)                         motion_all.npy + id_all.npy
    write_mesh(path, dataset, hybrik)                  mesh_det_{pw3d,coco,h36m}[...].pkl
    write_ntu(path)                                    pyskl ntu60_hrnet.pkl
    write_data_root(root)                              all of the above in the documented layout
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

J = 17


# ------------------------------------------------------------------------------- MotionBERT clips
def write_mb_clip(path, data_input, data_label) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"data_input": data_input, "data_label": data_label}, f)


def mb_label(k: int, t: int = 9) -> np.ndarray:
    """Clip k's label: x = k + frame/100, y = joint/100, z = -1 (float32, (t, 17, 3))."""
    lab = np.zeros((t, J, 3), np.float32)
    lab[..., 0] = k + np.arange(t)[:, None] / 100
    lab[..., 1] = np.arange(J)[None, :] / 100
    lab[..., 2] = -1
    return lab


def write_mb_store(mb3d_root, amass_train: int = 3, h36m_train: int = 2, h36m_test: int = 1, t: int = 9) -> Path:
    """AMASS/train: clips with data_input None, labels mb_label(k). H36M-SH/{train,test}: labels
    mb_label(k) and inputs = label xy with confidence 0.5."""
    root = Path(mb3d_root)
    for k in range(amass_train):
        write_mb_clip(root / "AMASS" / "train" / f"{k:08d}.pkl", None, mb_label(k, t))
    for split, n in (("train", h36m_train), ("test", h36m_test)):
        for k in range(n):
            lab = mb_label(k, t)
            inp = lab.copy()
            inp[..., 2] = 0.5
            write_mb_clip(root / "H36M-SH" / split / f"{k:08d}.pkl", inp, lab)
    return root


# --------------------------------------------------------------------------------- H36M source
def write_h36m_source(path, train_videos=((12, "54138969"), (5, "55011271")), test_videos=((10, "60457274"),)) -> dict:
    """The LCN/MotionBERT source pickle. Every 2D joint sits at pixel (500, 250); joint3d_image at
    (500, 250, 100); confidence (N, 17) = 0.5 (train) or (N, 17, 1) = 0.25 (test); test has
    2.5d_factor = 4.0 and joints_2.5d_image / action. Videos are runs of `source` ids.
    Expected (camera 1000 × 1002: x 0, y 250/1000·2 − 1.002 = −0.502; 1000 × 1000: y −0.5), z 0.2."""
    data = {}
    for split, videos in (("train", train_videos), ("test", test_videos)):
        n = sum(length for length, _ in videos)
        d = {
            "joint_2d": np.tile(np.array([500.0, 250.0], np.float32), (n, J, 1)),
            "joint3d_image": np.tile(np.array([500.0, 250.0, 100.0], np.float32), (n, J, 1)),
            "camera_name": np.array(sum(([cam] * length for length, cam in videos), [])),
            "source": np.array(sum(([f"s_{v:02d}_act_02_subact_01_ca_{cam[-2:]}"] * length for v, (length, cam) in enumerate(videos)), [])),
        }
        if split == "train":
            d["confidence"] = np.full((n, J), 0.5, np.float32)
        else:
            d["confidence"] = np.full((n, J, 1), 0.25, np.float32)
            d["2.5d_factor"] = np.full((n,), 4.0)
            d["joints_2.5d_image"] = d["joint3d_image"] * 4.0
            d["action"] = np.array(["Walking"] * n)
        data[split] = d
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return data


# ------------------------------------------------------------------------------------- AMASS
def write_amass_joints(path, lengths=(20, 7)) -> list[np.ndarray]:
    """A list of (17, T, 3) arrays in metres, z up. Motion 0 joint j at frame t: (x, y, z) =
    (1 + t/10, 2, 3 + j/10), so in camera units: (0.298·x, −0.298·z, 0.298·y)."""
    motions = []
    for length in lengths:
        m = np.zeros((J, length, 3), np.float64)
        m[..., 0] = 1 + np.arange(length)[None, :] / 10
        m[..., 1] = 2
        m[..., 2] = 3 + np.arange(J)[:, None] / 10
        motions.append(m)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(motions, f)
    return motions


# ----------------------------------------------------------------------------------- 3DHP npz
MPI_ROOT = 14


def mpi_pose_3d(frames: int, root=(100.0, 200.0, 3000.0)) -> np.ndarray:
    """(F, 17, 3) mm in 3DHP order: joint j = root + (10·j, −5·j, 2·j) (+ frame·1 mm in x);
    joint 14 (the root) is exactly `root` + frame."""
    off = np.arange(J)[:, None] * np.array([10.0, -5.0, 2.0])
    off = off - off[MPI_ROOT]
    pose = np.asarray(root) + off[None] + np.arange(frames)[:, None, None] * np.array([1.0, 0, 0])
    return pose.astype(np.float32)


def mpi_pose_2d(frames: int, w: int, h: int) -> np.ndarray:
    """(F, 17, 2) pixels: joint j of frame f at (w/2 + j, h/2 + f), so after normalisation
    x' = 2j/w and y' = 2f/w for every image size."""
    p = np.zeros((frames, J, 2), np.float32)
    p[..., 0] = w / 2 + np.arange(J)[None, :]
    p[..., 1] = h / 2 + np.arange(frames)[:, None]
    return p


def write_3dhp(root, train_frames=(30, 12), test_frames=None) -> dict:
    """data_train_3dhp.npz: {"S1 Seq1": [{"0": .., "2": ..}, 25], "S1 Seq2": [{"0": ..}, 50]}
    with the frame counts of `train_frames` (per sequence); data_test_3dhp.npz: TS1 (2048²,
    9 frames, valid = frames 2, 3, 8) and TS5 (1920 × 1080, 5 frames, valid = frames 0, 4).
    Written with np.savez_compressed(path, data=dict) as P-STMO's scripts do."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    f0, f1 = train_frames
    train = {
        "S1 Seq1": [{cam: {"data_2d": mpi_pose_2d(f0, 2048, 2048), "data_3d": mpi_pose_3d(f0)} for cam in ("0", "2")}, 25],
        "S1 Seq2": [{"0": {"data_2d": mpi_pose_2d(f1, 2048, 2048), "data_3d": mpi_pose_3d(f1)}}, 50],
    }
    test = test_frames or {
        "TS1": {"data_2d": mpi_pose_2d(9, 2048, 2048), "data_3d": mpi_pose_3d(9),
                "valid": np.array([0, 0, 1, 1, 0, 0, 0, 0, 1], np.float64)},
        "TS5": {"data_2d": mpi_pose_2d(5, 1920, 1080), "data_3d": mpi_pose_3d(5),
                "valid": np.array([1, 0, 0, 0, 1], np.float64)},
    }  # fmt: skip
    np.savez_compressed(root / "data_train_3dhp.npz", data=train)
    np.savez_compressed(root / "data_test_3dhp.npz", data=test)
    return {"train": train, "test": test}


# The valid frames of the official test set per sequence (datasets.md §1.1; 2929 in all).
OFFICIAL_3DHP_VALID = {"TS1": 603, "TS2": 540, "TS3": 505, "TS4": 553, "TS5": 276, "TS6": 452}


def official_3dhp_test() -> dict:
    """The test dict of write_3dhp with TS1–TS6 as large as the official ones: sequence s has
    OFFICIAL_3DHP_VALID[s] valid frames followed by 2 invalid ones (poses as mpi_pose_2d / _3d)."""
    test = {}
    for name, valid in OFFICIAL_3DHP_VALID.items():
        w, h = (1920, 1080) if name in ("TS5", "TS6") else (2048, 2048)
        flags = np.concatenate([np.ones(valid), np.zeros(2)])
        test[name] = {"data_2d": mpi_pose_2d(valid + 2, w, h), "data_3d": mpi_pose_3d(valid + 2), "valid": flags}
    return test


# ----------------------------------------------------------------------------------- PoseTrack
def posetrack_pose(vis=None) -> np.ndarray:
    """(17, 3) PoseTrack keypoints (x, y, v). Joints lie in the box x ∈ [100, 300], y ∈ [200, 300]:
    left hip (11) at (180, 260), right hip (12) at (220, 260), head_bottom (1) at (200, 210),
    nose (0) at (200, 220), head_top (2) at (200, 200); others spread inside the box, with
    (100, 200) and (300, 300) reached. Ears (3, 4) unannotated (0, 0, 0) as in PoseTrack18."""
    xy = np.array([
        [200, 220], [200, 210], [200, 200], [0, 0], [0, 0],
        [160, 230], [240, 230], [130, 250], [270, 250], [100, 270], [300, 270],
        [180, 260], [220, 260], [170, 280], [230, 280], [160, 300], [240, 300],
    ], np.float32)  # fmt: skip
    v = np.ones(17, np.float32) if vis is None else np.asarray(vis, np.float32)
    v[[3, 4]] = 0
    out = np.concatenate([xy, v[:, None]], 1)
    out[v == 0, :2] = 0
    return out


def write_posetrack(folder) -> dict:
    """Two files. video_a.json: track 7 has 32 frames, all visible but the left elbow (7) in frame 0
    (15 joints × 30 − 1 = 449 > 306): kept; its annotations are written in reverse image order (the
    reader orders by "images"), the visible joints of frame k shifted by +k px in x. track 8 has 20 frames: too short. video_b.json: track 1 has
    30 frames with only 10 visible joints (300 ≤ 306): dropped; track 2 has 30 frames, right hip
    invisible in frame 5: root not visible everywhere, dropped. Expected: 1 track kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def doc(tracks, reverse=False):
        n = max(len(t) for t in tracks.values())
        images = [{"id": 10000 + k, "file_name": f"images/train/x/{k:06d}.jpg", "frame_id": 10000 + k, "vid_id": "x",
                   "nframes": n, "is_labeled": True} for k in range(n)]  # fmt: skip
        anns = []
        for tid, frames in tracks.items():
            for k, kp in enumerate(frames):
                anns.append({"id": len(anns), "image_id": 10000 + k, "track_id": tid, "category_id": 1,
                             "keypoints": kp.reshape(-1).tolist(), "bbox": [100, 200, 200, 100]})  # fmt: skip
        if reverse:
            anns = anns[::-1]
        return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}

    def shifted(k):
        p = posetrack_pose(vis=np.where(np.arange(17) == 7, 0, 1) if k == 0 else None)
        p[p[:, 2] > 0, 0] += k
        return p

    a = {7: [shifted(k) for k in range(32)], 8: [posetrack_pose() for _ in range(20)]}
    low = np.zeros(17)
    low[[0, 1, 2, 5, 6, 11, 12, 13, 14, 15]] = 1
    no_hip = [posetrack_pose() for _ in range(30)]
    no_hip[5] = posetrack_pose(vis=np.where(np.arange(17) == 12, 0, 1))
    b = {1: [posetrack_pose(low) for _ in range(30)], 2: no_hip}
    (folder / "video_a.json").write_text(json.dumps(doc(a, reverse=True)))
    (folder / "video_b.json").write_text(json.dumps(doc(b)))
    return {"a": a, "b": b}


# ----------------------------------------------------------------------------------- InstaVariety
def write_instavariety(folder, lengths=(100, 40, 90)) -> tuple[np.ndarray, np.ndarray]:
    """motion_all (ΣF, 17, 3) float32, id_all (ΣF,) int. Clip c frame t joint j: x = j/16 (0..1),
    y = t/1000 + c, conf 1; belly (7) and head (10) all 0 as convert_insta.py writes them. Clip 2's
    first frame has root confidence 0 (dropped by the valid filter)."""
    motions, ids = [], []
    for c, length in enumerate(lengths):
        m = np.zeros((length, J, 3), np.float32)
        m[..., 0] = np.arange(J)[None] / 16
        m[..., 1] = np.arange(length)[:, None] / 1000 + c
        m[..., 2] = 1
        m[:, [7, 10]] = 0
        if c == 2:
            m[0, 0, 2] = 0
        motions.append(m)
        ids.append(np.full(length, 1000 + c))
    motion, ids = np.concatenate(motions), np.concatenate(ids)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "motion_all.npy", motion)
    np.save(folder / "id_all.npy", ids)
    return motion, ids


# ------------------------------------------------------------------------------------- mesh
def write_mesh(path, dataset: str = "pw3d", hybrik: bool = False, videos=(20, 5), conf_shape: str = "2d") -> dict:
    """{'train': {...}, 'test': {...}} with per-frame arrays. joint_2d: joint j of frame k at
    (c + j, c) with c = res/2 (960 for 3DPW, 320 for COCO; 500 with camera 55011271 for H36M);
    confidence 1.5 (clipped to 1 by the reader) with shape (N, 17) or (N, 17, 1); smpl_pose[k] =
    k/1000 everywhere, smpl_shape[k] = −k/1000; HybrIK: pred_* = 2 × the GT arrays."""
    c = {"pw3d": 960.0, "coco": 320.0, "h36m": 500.0}[dataset]
    data = {}
    for split in ("train", "test"):
        n = sum(videos)
        j2d = np.zeros((n, J, 2), np.float32)
        j2d[..., 0] = c + np.arange(J)[None]
        j2d[..., 1] = c
        conf = np.full((n, J) if conf_shape == "2d" else (n, J, 1), 1.5, np.float32)
        k = np.arange(n, dtype=np.float32)
        d = {
            "joint_2d": j2d,
            "confidence": conf,
            "smpl_pose": np.tile(k[:, None] / 1000, (1, 72)).astype(np.float32),
            "smpl_shape": np.tile(-k[:, None] / 1000, (1, 10)).astype(np.float32),
            "source": np.concatenate([np.full(v, f"{split}_video_{i}") for i, v in enumerate(videos)]),
        }
        if dataset == "h36m":
            d["camera_name"] = np.array(["55011271"] * n)
        if hybrik:
            d["pred_smpl_pose"] = 2 * d["smpl_pose"]
            d["pred_smpl_shape"] = 2 * d["smpl_shape"]
        data[split] = d
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return data


# ------------------------------------------------------------------------------------- NTU
def ntu_person(frames: int, x0: float, y0: float) -> np.ndarray:
    """(T, 17, 2) COCO keypoints: joint j at (x0 + j, y0 + t)."""
    kp = np.zeros((frames, J, 2), np.float32)
    kp[..., 0] = x0 + np.arange(J)[None]
    kp[..., 1] = y0 + np.arange(frames)[:, None]
    return kp


def write_ntu(path) -> dict:
    """pyskl layout: split {xsub_train, xsub_val, xview_train, xview_val} of frame_dir names and
    annotations. S001C001P001R001A001 (label 0): 1 person, 10 frames, at (960 + j, 540 + t) in a
    1920 × 1080 image, scores s[j] = j / 100. S001C002P002R001A002 (label 1): 2 persons, 6 frames,
    person A at x0 = 100 and person B at x0 = 1500, but from frame 3 on the detector lists them the
    other way round (so tracking must swap them back); scores A = 0.9, B = 0.3.
    S001C003P001R001A003 (label 2): 1 person, 4 frames. xsub_val also names a sample that has no
    annotation (counted as dropped)."""
    a = {"frame_dir": "S001C001P001R001A001", "label": 0, "img_shape": (1080, 1920), "original_shape": (1080, 1920),
         "total_frames": 10, "keypoint": ntu_person(10, 960, 540)[None],
         "keypoint_score": np.tile(np.arange(J, dtype=np.float32) / 100, (1, 10, 1))}  # fmt: skip
    pa, pb = ntu_person(6, 100, 300), ntu_person(6, 1500, 300)
    kp = np.stack([pa, pb])
    kp[:, 3:] = kp[::-1, 3:].copy()
    sc = np.stack([np.full((6, J), 0.9, np.float32), np.full((6, J), 0.3, np.float32)])
    sc[:, 3:] = sc[::-1, 3:].copy()
    b = {"frame_dir": "S001C002P002R001A002", "label": 1, "img_shape": (1080, 1920), "original_shape": (1080, 1920),
         "total_frames": 6, "keypoint": kp, "keypoint_score": sc}  # fmt: skip
    c = {"frame_dir": "S001C003P001R001A003", "label": 2, "img_shape": (1080, 1920), "original_shape": (1080, 1920),
         "total_frames": 4, "keypoint": ntu_person(4, 500, 500)[None], "keypoint_score": np.ones((1, 4, J), np.float32)}  # fmt: skip
    data = {
        "split": {
            "xsub_train": [a["frame_dir"], c["frame_dir"]],
            "xsub_val": [b["frame_dir"], "S001C001P003R001A001"],
            "xview_train": [b["frame_dir"], c["frame_dir"]],
            "xview_val": [a["frame_dir"]],
        },
        "annotations": [a, b, c],
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return data


def write_motion_npz(path, frames: int, width: float = 1000.0, height: float = 500.0, fps: float = 50.0, **extra) -> dict:
    """A sequence whose joint j at frame k is at pixel (100 + j + k, 200 + 2 j) and at millimetre
    (10 j + k, −5 j, 3000 + j)."""
    k, j = np.meshgrid(np.arange(frames), np.arange(17), indexing="ij")  # (F, 17)
    arrays = {
        "keypoints_2d": np.stack([100.0 + j + k, 200.0 + 2.0 * j], -1),
        "joints_3d": np.stack([10.0 * j + k, -5.0 * j, 3000.0 + j], -1),
        "image_size": np.array([width, height]),
        "fps": np.array(fps),
    } | extra
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


# ------------------------------------------------------------------------------------ data root
def write_data_root(root) -> Path:
    """Every dataset above at its documented place under `root` (docs/DATA.md)."""
    root = Path(root)
    write_mb_store(root / "motion3d" / "MB3D_f243s81")
    write_h36m_source(root / "motion3d" / "h36m_sh_conf_cam_source_final.pkl")
    write_amass_joints(root / "AMASS" / "amass_joints_h36m_60.pkl")
    write_3dhp(root / "mpi_inf_3dhp")
    write_posetrack(root / "motion2d" / "posetrack18_annotations" / "train")
    write_instavariety(root / "motion2d" / "InstaVariety")
    write_mesh(root / "mesh" / "mesh_det_pw3d.pkl", "pw3d", videos=(40, 10))
    write_mesh(root / "mesh" / "mesh_det_coco.pkl", "coco", videos=(3, 2))
    write_mesh(root / "mesh" / "mesh_det_h36m.pkl", "h36m", videos=(20,))
    write_mesh(root / "mesh" / "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl", "pw3d", hybrik=True, videos=(40, 10))
    write_ntu(root / "action" / "ntu60_hrnet.pkl")
    write_motion_npz(root / "motion_npz" / "train" / "walk.npz", 20)
    write_motion_npz(root / "motion_npz" / "test" / "dance.npz", 6)
    return root
