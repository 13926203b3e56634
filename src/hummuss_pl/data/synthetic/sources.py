"""The synthetic corpus as sources DataModules can name, like any dataset (no files needed):

    synthetic        pose clips (or, with `layout: action`, two-person action samples); options are
                     SyntheticConfig's fields. Held-out splits ("val", "test") have num_clips // 8
                     clips when `num_clips` is given. Evaluation windows (the 3DHP protocol) run
                     over `test_sequences` held-out sequences of `test_frames` frames, at every
                     frame or only at frames [start, stop) of each (`test_valid_frames`; the
                     others are context, as 3DHP's invalid frames).
    synthetic_pw3d   3DPW-like mesh videos and COCO-like images (`synthetic.mesh`): options
    synthetic_coco   `smpl_dir` (required: the SMPL files the meshes are made with), `hybrik`,
                     `mesh` (SyntheticMeshConfig's fields) and MeshConfig's (clip_len, stride).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hummuss_pl.batch import FPS, INPUT, SCALE_MM, TARGET_3D
from hummuss_pl.models.smpl import build_smpl

from ..layout import Reader, SourceConfig, SourceSpec
from ..mesh import MeshClips, MeshConfig
from ..windows import EvaluationWindows, MotionSequence, WindowSpec
from .config import SOURCE_NAME, SyntheticConfig
from .dataset import SyntheticMotion
from .mesh import SyntheticMeshConfig, synthesize_mesh_split

_WINDOW_OPTIONS = {"test_sequences": 8, "test_frames": 256, "test_valid_frames": None}  # held-out sequences for windows


def _corpus(cfg: SourceConfig, split: str) -> SyntheticMotion:
    options = {k: v for k, v in cfg.reader_options().items() if k not in _WINDOW_OPTIONS}
    if split != "train" and "num_clips" in options:
        options["num_clips"] = max(1, options["num_clips"] // 8)  # held-out splits are smaller
    return SyntheticMotion(SyntheticConfig(split=split, **options))


def _build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
    return _corpus(cfg, split)


def _windows(cfg: SourceConfig, path: Path | None, spec: WindowSpec) -> Dataset:
    """Windows over held-out "test" sequences (disjoint subjects), every frame evaluated."""
    options = _WINDOW_OPTIONS | {k: v for k, v in cfg.options.items() if k in _WINDOW_OPTIONS}
    held_out = SourceConfig(cfg.name, clip_len=options["test_frames"],
                            options={k: v for k, v in cfg.options.items() if k not in _WINDOW_OPTIONS} | {"num_clips": options["test_sequences"]})  # fmt: skip
    corpus = SyntheticMotion(SyntheticConfig(split="test", **held_out.reader_options()))
    valid = None
    if options["test_valid_frames"] is not None:
        start, stop = options["test_valid_frames"]
        if not 0 <= start < stop <= options["test_frames"]:
            raise ValueError(f"source {cfg.key!r}: test_valid_frames must be [start, stop) within the {options['test_frames']} "
                             f"test frames; got {options['test_valid_frames']}")  # fmt: skip
        valid = np.zeros(options["test_frames"], bool)
        valid[start:stop] = True
    sequences = []
    for i in range(len(corpus)):
        item = corpus[i]
        sequences.append(MotionSequence(f"synthetic test {i}", item[INPUT], item[TARGET_3D], float(item[FPS]), float(item[SCALE_MM]), valid))
    windows = EvaluationWindows(sequences, spec, SOURCE_NAME, corpus.describe())
    windows.report.log()
    return windows


def _mesh_source(dataset: str) -> SourceSpec:
    def build(cfg: SourceConfig, path: Path | None, split: str) -> Dataset:
        options = cfg.reader_options()
        if options.get("smpl_dir") is None:
            raise ValueError(f"source {cfg.key!r} makes meshes with SMPL: set its option smpl_dir to the folder holding "
                             "SMPL_NEUTRAL.pkl and J_regressor_h36m_correct.npy")  # fmt: skip
        smpl = build_smpl(options.pop("smpl_dir"), f"source {cfg.key!r} option smpl_dir")
        hybrik = bool(options.pop("hybrik", False))
        mesh = SyntheticMeshConfig(**options.pop("mesh", {}))
        data = {split: synthesize_mesh_split(smpl, mesh, dataset, split, hybrik)}
        config = MeshConfig(f"<synthetic {dataset} from {smpl.model_path}>", split, dataset=dataset, hybrik=hybrik, **options)
        return MeshClips(config, data=data, source=f"{SOURCE_NAME}_{dataset}")

    return SourceSpec(build, None, has_3d=False, eval_split="test" if dataset == "pw3d" else None)


READER = Reader(sources={
    SOURCE_NAME: SourceSpec(_build, None, eval_split="val", windows=_windows),
    "synthetic_pw3d": _mesh_source("pw3d"),
    "synthetic_coco": _mesh_source("coco"),
})  # fmt: skip
