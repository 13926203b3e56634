"""Every key of a sample or batch dictionary, in one place: the contract between readers, data
modules, tasks and metrics (imported by all of them; it imports nothing of the package).

Coordinates follow MotionBERT: 2D keypoints are normalised screen coordinates (pixels mapped so the
image width spans [-1, 1]); 3D joints are in the same units (x, y as the 2D, z scaled alike), so a
model lifts 2D to 3D without a camera. `scale_mm` converts those units to millimetres where the
source has a metric scale (e.g. MPI-INF-3DHP: w/2 mm per unit), so metrics are reported in mm.

All arrays are float32 numpy arrays or tensors; T frames, J = 17 joints in H36M order
(`hummuss_pl.skeleton`) unless a reader says otherwise.

Pose / pretraining samples
    INPUT      (T, J, 3)  x, y, confidence: the model input, clean (pretraining corruption is applied
                           to batches on the device, `data.corruption`, which keeps the clean input
                           as CLEAN_INPUT)
    TARGET_3D  (T, J, 3)  3D joints, normalised units (zeros when HAS_3D is False)
    HAS_3D     bool       the sample has a 3D label (False: 2D-only source, trained with L_2D)
    FPS        float      frame rate of the clip as stored
    SCALE_MM   float      millimetres per normalised unit (1.0 when the source has no metric scale)
    SOURCE     str        dataset name, e.g. "amass", "mpi_inf_3dhp", "synthetic"
    NOISE      bool       pretraining training clips only: corruption may add keypoint noise
                           (SourceConfig.noise; False for detected keypoints such as InstaVariety)
    VALID      (T,) bool  frames that count in evaluation (MPI-INF-3DHP test; all True elsewhere)

Evaluation windows (`data.windows`: 3DHP test protocol, any source with held-out sequences)
    SEQUENCE     str      the sequence the window is cut from ("TS3", "S1 Seq1 cam0")
    FRAME        int      the evaluated frame's index in its sequence
    TARGET_INDEX int      its position in the window
    FRAME_STEP   int      the window takes every k-th frame of the sequence (the frame-rate study):
                          the input runs at fps / k, so a model with a rate runs at rate k

Synthetic corpus (`data.synthetic`)
    SUBJECT    int        subject id (bone lengths); ids of different splits never coincide
    TIMES      (T,)       the sample times in seconds
    INDEX      int        the item index in the corpus

Action samples (NTU, synthetic with layout "action")
    INPUT      (M, T, J, 3)  M = 2 persons (a missing second person is all zeros)
    LABEL      int
    NUM_CLASSES int          how many classes LABEL ranges over (the task checks its head against it)
    FRAME_DIR  str           NTU: the sample's name

Mesh samples (3DPW / COCO / H36M mesh pickles)
    INPUT      (T, J, 3)
    SMPL_POSE  (T, 72)   axis-angle, SMPL order;   SMPL_SHAPE (T, 10)
    HYBRIK_POSE (T, 72), HYBRIK_SHAPE (T, 10)      only in the "+HybrIK" variants
"""

INPUT = "input"
CLEAN_INPUT = "clean_input"
TARGET_3D = "target_3d"
HAS_3D = "has_3d"
FPS = "fps"
SCALE_MM = "scale_mm"
SOURCE = "source"
NOISE = "noise"
VALID = "valid"
# evaluation windows
SEQUENCE = "sequence"
FRAME = "frame"
TARGET_INDEX = "target_index"
FRAME_STEP = "frame_step"
# synthetic corpus
SUBJECT = "subject"
TIMES = "times"
INDEX = "index"
# action
LABEL = "label"
NUM_CLASSES = "num_classes"
FRAME_DIR = "frame_dir"
# mesh
SMPL_POSE = "smpl_pose"
SMPL_SHAPE = "smpl_shape"
HYBRIK_POSE = "hybrik_pose"
HYBRIK_SHAPE = "hybrik_shape"


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
