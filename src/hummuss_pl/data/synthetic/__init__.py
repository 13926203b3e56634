"""Procedural synthetic motion corpus: the embedded default data set.

Nothing here is real data. Every clip is generated on the fly, deterministically, from
(seed, split, index):

    subject (bone lengths) ─┐
    class template + random  ├─ joint angles a(t) ─ forward kinematics ─ world joints (metres, y up)
    tempo/amplitude/phase    ┘                                                 │
    camera (orthographic | perspective with intrinsics) ─────────────── 2D input + 3D label

Motion model. A motion is a *continuous function of time*: joint angles are a fixed linear mix of
a few time functions (a constant, sin/cos of the action tempo and its 2nd/3rd harmonics, rectified
sines for one-sided actions such as jump flight, kicks and punches, and two slow sway tones),
followed by forward kinematics on the H36M-17 skeleton with per-subject bone lengths. The pelvis
height is set at every instant so that the lower ankle sits at ankle height above the ground (plus
a flight term for jumps and runs), and travelling classes walk/run on a circle on a "stage" in
front of the camera (as Human3.6M subjects do), so a clip never leaves the frame however long it
is. Because everything is evaluated analytically at the requested timestamps, there is no base
render rate to subsample from: a clip at `fps` takes the exact times t_k = start_time + k / fps,
so the clip at 30 fps is, to float tolerance, every second frame of the clip at 60 fps, and
`render_motion` evaluates the same motion at any timestamps (variable frame rate, streaming).

Classes (`SYNTHETIC_CLASSES`): walk, run, jump, wave, squat, turn, kick, punch, jumping_jack,
idle. Every item draws a subject, a tempo, an amplitude scale, a phase, per-channel amplitude and
posture jitter, slow sway, a heading, a left/right mirror (so one-sided actions come with either
side and the corpus is left/right symmetric in distribution) and a camera.

Units (hummuss_pl.batch). Camera axes are x right, y down, z forward (depth).
- "orthographic" (MotionBERT's AMASS pretraining): 3D label = 0.298 · camera-space metres, depth
  relative to the stage centre; 2D input = the label's (x, y), confidence 1. SCALE_MM = 1000/0.298.
- "perspective": pinhole intrinsics (f, cx, cy) for an image of `image_size` pixels; 2D input is
  the projection (u, v) normalised as MotionBERT does (u / w · 2 − 1, v / w · 2 − h / w). The 3D
  label is the camera-space pose in metres times s = 2f / (w · D) (D: depth of the stage centre),
  shifted by the normalised principal point, so label xy equals the 2D input exactly for points at
  depth D and differs elsewhere only by perspective. SCALE_MM = 1000 / s, exact for the whole clip.

Telling it apart from real data. Every sample carries SOURCE == "synthetic" (`SOURCE_NAME`) and a
"subject" id; `SyntheticMotion.describe()` returns a one-line banner (`SYNTHETIC_NOTICE` is its
prefix). The DataModules (data/modules/) log that banner once at setup ("SYNTHETIC DATA ...") and
record the hyper-parameter `data/source` ("synthetic", or the names of the real datasets), which
the Trainer logs with the model's hyper-parameters, so no run trained on synthetic data can pass
for one trained on AMASS (docs/DATA.md, "Synthetic data").

Determinism. Item i of a corpus with seed s and split p is a pure function of (s, p, i, config):
its random numbers come from numpy's generator seeded with (s, p, i); no global random state is
read or written, so DataLoader workers, DDP ranks and repeated runs all see the same clips. The
motion (and, for the first actor, the camera) of item i does not depend on fps, clip_len,
start_time, the camera type or the layout, so `replace(config, fps=30, clip_len=...)` renders the
same motions at another rate; it does depend on `classes` (item i has class classes[i % len]) and
`num_subjects`. Splits use disjoint subject ids and disjoint seed streams.

Speed. `SyntheticMotion.__getitems__` renders a whole batch in one vectorised numpy pass (torch's
DataLoader calls it whenever it batches). Measured on the 2-core development VM, single process,
243-frame clips, `DataLoader(batch_size=64..256, num_workers=0)`: about 2,000–2,800 clips/s
(orthographic or perspective); one item at a time through `__getitem__` about 1,000 clips/s.
Reproduce with `python -m hummuss_pl.data.synthetic` (prints the figures for this machine).


Modules: `config` (SyntheticConfig and the corpus constants), `motions` (the motion library: time
basis, class templates, subjects, per-item random draws), `kinematics` (cameras, forward kinematics,
projection), `dataset` (rendering items, SyntheticMotion), `mesh` (SMPL-based 3DPW/COCO-like data).
"""

from .config import (
    MOTIONBERT_UNITS_PER_METRE,
    SOURCE_NAME,
    SYNTHETIC_CLASSES,
    SYNTHETIC_NOTICE,
    SyntheticConfig,
)
from .dataset import SyntheticMotion, render_motion, render_world

__all__ = [
    "MOTIONBERT_UNITS_PER_METRE",
    "SOURCE_NAME",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_NOTICE",
    "SyntheticConfig",
    "SyntheticMotion",
    "render_motion",
    "render_world",
]
