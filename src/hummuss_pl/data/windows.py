"""Datasets over whole sequences (`MotionSequence`): training clips (`SequenceClips`, MotionBERT's
slicing) and evaluation windows (`EvaluationWindows`): MPI-INF-3DHP's test protocol, for any source
that has whole held-out sequences (3DHP's test set, held-out synthetic sequences, motion_npz).

Evaluation windows: one sample per valid frame of every sequence: a window of `clip_len` frames, `frame_step` apart,
around it (`anchor="center"`: the frame at position (clip_len − 1) // 2, the published protocol;
`"last"`: at the window's end, so a causal model sees no future frame); indices past the sequence
ends are clamped (edge replication); invalid frames stay in the windows as context only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import (
    FPS,
    FRAME,
    FRAME_STEP,
    HAS_3D,
    INPUT,
    SCALE_MM,
    SEQUENCE,
    SOURCE,
    TARGET_3D,
    TARGET_INDEX,
    VALID,
)

from .common import ReadReport, split_clips

Anchor = Literal["center", "last"]


@dataclass
class MotionSequence:
    """One whole sequence (one camera) in H36M order, normalised (hummuss_pl.batch units)."""

    name: str
    input: np.ndarray  # (F, 17, 3) x, y, confidence
    target: np.ndarray  # (F, 17, 3)
    fps: float
    scale_mm: float
    valid: np.ndarray | None  # (F,) bool: frames that are evaluated; None: all of them


@dataclass(frozen=True)
class WindowSpec:
    """clip_len frames per window; the evaluated frame at the window's centre or end; frame_step:
    every k-th frame (the frame-rate study: the same frames evaluated at fps / k)."""

    clip_len: int = 243
    anchor: Anchor = "center"
    frame_step: int = 1

    def __post_init__(self) -> None:
        for name in ("clip_len", "frame_step"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"WindowSpec.{name} must be a positive integer; got {value!r}")
        if self.anchor not in ("center", "last"):
            raise ValueError(f'WindowSpec.anchor must be "center" or "last"; got {self.anchor!r}')

    @property
    def target_index(self) -> int:
        return (self.clip_len - 1) // 2 if self.anchor == "center" else self.clip_len - 1


class SequenceClips(Dataset):
    """Clips of `clip_len` frames every `stride` frames of each sequence (`split_clips`: a tail that
    fills no clip is dropped and counted; a sequence shorter than a clip is resampled to one),
    labelled `source`; `origin` names where the sequences came from in the report.

    Sample keys: INPUT (T, 17, 3), TARGET_3D (T, 17, 3), HAS_3D True, FPS, SCALE_MM, SOURCE,
    VALID (T,) bool (all True where the sequence has no flags).
    """

    def __init__(self, sequences: list[MotionSequence], clip_len: int, stride: int, source: str, origin: str) -> None:
        self.sequences, self.source = sequences, source
        self.index: list[tuple[int, np.ndarray]] = []
        self.report = ReadReport(source, origin)
        resampled = 0
        for s, seq in enumerate(sequences):
            clips, rep = split_clips(np.zeros(len(seq.input), np.int8), clip_len, stride)
            self.index += [(s, idx) for idx in clips]
            self.report.frames += rep.frames
            self.report.frames_dropped += rep.frames_dropped
            resampled += rep.resampled_videos
        self.report.items = len(self.index)
        if resampled:
            self.report.notes.append(f"{resampled} sequences shorter than {clip_len} frames resampled")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict:
        s, idx = self.index[index]
        seq = self.sequences[s]
        return {
            INPUT: seq.input[idx],  # (T, 17, 3)
            TARGET_3D: seq.target[idx],  # (T, 17, 3)
            HAS_3D: True,
            FPS: seq.fps,
            SCALE_MM: seq.scale_mm,
            SOURCE: self.source,
            VALID: np.ones(len(idx), bool) if seq.valid is None else seq.valid[idx],
        }


class EvaluationWindows(Dataset):
    """One sample per valid frame of `sequences`, labelled `source`; `origin` names where the
    sequences came from (a file, or a description) in the report.

    Sample keys: INPUT (T, 17, 3), TARGET_3D (T, 17, 3), HAS_3D True, FPS (fps / frame_step),
    SCALE_MM, SOURCE, VALID (T,) the window frames' flags, SEQUENCE (name), FRAME (evaluated frame
    index), TARGET_INDEX (its position in the window), FRAME_STEP.
    """

    def __init__(self, sequences: list[MotionSequence], spec: WindowSpec, source: str, origin: str) -> None:
        self.sequences, self.spec, self.source = sequences, spec, source
        self.target_index = spec.target_index
        self.offsets = (np.arange(spec.clip_len) - self.target_index) * spec.frame_step  # (T,)
        self.index = [(s, int(f)) for s, seq in enumerate(sequences)
                      for f in (np.flatnonzero(seq.valid) if seq.valid is not None else range(len(seq.input)))]  # fmt: skip
        frames = sum(len(seq.input) for seq in sequences)
        self.report = ReadReport(source, origin, items=len(self.index), frames=frames)
        self.report.notes.append(f"{frames - len(self.index)} invalid frames used as context only")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict:
        s, f = self.index[index]
        seq = self.sequences[s]
        idx = np.clip(f + self.offsets, 0, len(seq.input) - 1)  # (T,) edge-replicated
        return {
            INPUT: seq.input[idx],
            TARGET_3D: seq.target[idx],
            HAS_3D: True,
            FPS: seq.fps / self.spec.frame_step,
            SCALE_MM: seq.scale_mm,
            SOURCE: self.source,
            VALID: np.ones(len(idx), bool) if seq.valid is None else seq.valid[idx],
            SEQUENCE: seq.name,
            FRAME: f,
            TARGET_INDEX: self.target_index,
            FRAME_STEP: self.spec.frame_step,
        }
