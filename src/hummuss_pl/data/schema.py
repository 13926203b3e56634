"""The sample dictionaries every dataset here yields (the contract between readers and tasks).

Coordinates follow MotionBERT: 2D keypoints are normalised screen coordinates (pixels mapped so the
image width spans [-1, 1]); 3D joints are in the same units (x, y as the 2D, z scaled alike), so a
model lifts 2D to 3D without a camera. `scale_mm` converts those units to millimetres where the
source has a metric scale (e.g. MPI-INF-3DHP: w/2 mm per unit), so metrics are reported in mm.

All arrays are float32 numpy arrays or tensors; T frames, J = 17 joints in H36M order
(`data.skeleton`) unless a reader says otherwise.

Pose / pretraining samples
    INPUT      (T, J, 3)  x, y, confidence: the model input, clean (pretraining corruption is applied
                           to batches on the device, `data.corruption`)
    TARGET_3D  (T, J, 3)  3D joints, normalised units (zeros when HAS_3D is False)
    HAS_3D     bool       the sample has a 3D label (False: 2D-only source, trained with L_2D)
    FPS        float      frame rate of the clip as stored
    SCALE_MM   float      millimetres per normalised unit (1.0 when the source has no metric scale)
    SOURCE     str        dataset name, e.g. "amass", "mpi_inf_3dhp", "synthetic"
    NOISE      bool       pretraining training clips only: corruption may add keypoint noise
                           (SourceConfig.noise; False for detected keypoints such as InstaVariety)

Action samples (NTU)
    INPUT      (M, T, J, 3)  M = 2 persons (a missing second person is all zeros)
    LABEL      int

Mesh samples (3DPW / COCO / H36M mesh pickles)
    INPUT      (T, J, 3)
    SMPL_POSE  (T, 72)   axis-angle, SMPL order;   SMPL_SHAPE (T, 10)
    HYBRIK_POSE (T, 72), HYBRIK_SHAPE (T, 10)      only in the "+HybrIK" variants
"""

INPUT = "input"
TARGET_3D = "target_3d"
HAS_3D = "has_3d"
FPS = "fps"
SCALE_MM = "scale_mm"
SOURCE = "source"
LABEL = "label"
SMPL_POSE = "smpl_pose"
SMPL_SHAPE = "smpl_shape"
HYBRIK_POSE = "hybrik_pose"
HYBRIK_SHAPE = "hybrik_shape"
NOISE = "noise"
VALID = "valid"  # (T,) bool: frames that count in evaluation (MPI-INF-3DHP test)


def normalize_screen(xy, width: float, height: float):
    """(..., 2) pixels → MotionBERT's normalised screen units: x / W · 2 − 1, y / W · 2 − H / W
    (the image width spans [−1, 1]; y keeps the aspect ratio). float32 numpy."""
    import numpy as np

    return (np.asarray(xy, np.float32) / width * 2 - np.array([1, height / width], np.float32)).astype(np.float32)


def sample_2d_only(keypoints, fps: float, source: str) -> dict:
    """The sample dict of a clip without 3D labels: INPUT = keypoints (T, J, 3), zero TARGET_3D."""
    import numpy as np

    return {
        INPUT: keypoints,
        TARGET_3D: np.zeros_like(keypoints),
        HAS_3D: False,
        FPS: fps,
        SCALE_MM: 1.0,
        SOURCE: source,
    }
