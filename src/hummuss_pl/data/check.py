"""The data-root layout (one place: `LAYOUT`) and `check_root`, behind `hummuss-data check ROOT`.

DATA_ROOT mirrors MotionBERT's `data/` folder (so an existing MotionBERT checkout's data folder
works as it is), plus the 3DHP npz files:

    DATA_ROOT/
      motion3d/MB3D_f243s81/{AMASS,H36M-SH,...}/{train,test}/%08d.pkl   clip store
      motion3d/h36m_sh_conf_cam_source_final.pkl                         H36M-SH source
      AMASS/amass_joints_h36m_60.pkl                                     AMASS joints
      mpi_inf_3dhp/data_{train,test}_3dhp.npz                            MPI-INF-3DHP
      motion2d/posetrack18_annotations/train/*.json                      PoseTrack18
      motion2d/InstaVariety/{motion_all,id_all}.npy                      InstaVariety
      mesh/mesh_det_{pw3d,coco,h36m}[_w_hybrik_pred...].pkl              3DPW / COCO / H36M mesh
      mesh/{SMPL_NEUTRAL.pkl,J_regressor_h36m_correct.npy,smpl_mean_params.npz}   SMPL files
      action/ntu{60,120}_hrnet.pkl                                       NTU RGB+D (pyskl)

DataModules take paths from `dataset_path(root, key)` so they and `check` always agree.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .motionbert_clips import DataFormatError, MissingDataError, ReadReport, list_clip_files, load_pickle, read_clip

__all__ = ["DatasetLayout", "LAYOUT", "dataset_path", "CheckResult", "check_root", "render_table"]


@dataclass(frozen=True)
class DatasetLayout:
    """path: what the reader is given (a file or a folder), relative to DATA_ROOT.
    files: the files that must exist for the dataset to be complete (relative to DATA_ROOT).
    anchor: the section of docs/DATA.md."""

    title: str
    path: str
    files: tuple[str, ...]
    anchor: str


_MESH = {
    "mesh_pw3d": ("3DPW mesh", "mesh_det_pw3d.pkl"),
    "mesh_coco": ("COCO mesh", "mesh_det_coco.pkl"),
    "mesh_h36m": ("H36M mesh", "mesh_det_h36m.pkl"),
    "mesh_pw3d_hybrik": ("3DPW mesh + HybrIK", "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl"),
    "mesh_coco_hybrik": ("COCO mesh + HybrIK", "mesh_det_coco_w_hybrik_pred.pkl"),
    "mesh_h36m_hybrik": ("H36M mesh + HybrIK", "mesh_det_h36m_w_hybrik_pred.pkl"),
}

LAYOUT: dict[str, DatasetLayout] = {
    "mb3d": DatasetLayout("MotionBERT clip store", "motion3d/MB3D_f243s81", (), "motionbert-clip-store"),
    "h36m": DatasetLayout(
        "H36M-SH source", "motion3d/h36m_sh_conf_cam_source_final.pkl",
        ("motion3d/h36m_sh_conf_cam_source_final.pkl",), "human36m-h36m-sh",
    ),
    "amass": DatasetLayout("AMASS joints", "AMASS/amass_joints_h36m_60.pkl", ("AMASS/amass_joints_h36m_60.pkl",), "amass"),
    "mpi_inf_3dhp": DatasetLayout(
        "MPI-INF-3DHP", "mpi_inf_3dhp", ("mpi_inf_3dhp/data_train_3dhp.npz", "mpi_inf_3dhp/data_test_3dhp.npz"), "mpi-inf-3dhp",
    ),
    "posetrack": DatasetLayout("PoseTrack18", "motion2d/posetrack18_annotations/train", (), "posetrack18"),
    "instavariety": DatasetLayout(
        "InstaVariety", "motion2d/InstaVariety",
        ("motion2d/InstaVariety/motion_all.npy", "motion2d/InstaVariety/id_all.npy"), "instavariety",
    ),
    **{k: DatasetLayout(t, f"mesh/{f}", (f"mesh/{f}",), "mesh-3dpw-coco-h36m") for k, (t, f) in _MESH.items()},
    "smpl": DatasetLayout(
        "SMPL model files", "mesh",
        ("mesh/SMPL_NEUTRAL.pkl", "mesh/J_regressor_h36m_correct.npy", "mesh/smpl_mean_params.npz"), "mesh-3dpw-coco-h36m",
    ),
    "ntu60": DatasetLayout("NTU RGB+D 60", "action/ntu60_hrnet.pkl", ("action/ntu60_hrnet.pkl",), "ntu-rgbd-60120-pyskl"),
    "ntu120": DatasetLayout("NTU RGB+D 120", "action/ntu120_hrnet.pkl", ("action/ntu120_hrnet.pkl",), "ntu-rgbd-60120-pyskl"),
}  # fmt: skip


def dataset_path(root: str | os.PathLike, key: str) -> Path:
    """Where dataset `key` of LAYOUT lives under `root` (the path its reader takes)."""
    if key not in LAYOUT:
        raise KeyError(f"unknown dataset {key!r}; known: {sorted(LAYOUT)}")
    return Path(root) / LAYOUT[key].path


Status = Literal["ok", "incomplete", "malformed"]


@dataclass
class CheckResult:
    dataset: str
    files: list[str] = field(default_factory=list)
    splits: dict[str, str] = field(default_factory=dict)  # split -> "N clips / F frames"
    problems: list[str] = field(default_factory=list)
    status: Status = "ok"

    def fail(self, error: BaseException) -> None:
        self.status = "malformed"
        self.problems.append(str(error) if isinstance(error, (DataFormatError, MissingDataError, ValueError)) else f"{type(error).__name__}: {error}")


def _note(result: CheckResult, split: str, report: ReadReport, unit: str) -> None:
    text = f"{report.items} {unit}, {report.frames} frames"
    if report.frames_dropped:
        text += f" ({report.frames_dropped} trailing frames in no clip)"
    result.splits[split] = text
    _report_problems(result, split, report)


def _report_problems(result: CheckResult, split: str, report: ReadReport) -> None:
    """Drops and warnings go to the problems column; they do not make the dataset malformed."""
    result.problems += [f"{split}: dropped {n} {reason}" for reason, n in report.dropped.items()]
    result.problems += [f"{split}: {w}" for w in report.warnings]


def _check_mb3d(data_root: Path, root: Path, max_files: int | None) -> list[CheckResult]:
    results = []
    for subset in sorted(p for p in root.iterdir() if p.is_dir()):
        res = CheckResult(f"MB3D_f243s81/{subset.name}", files=[str(subset.relative_to(data_root))])
        splits = [s for s in ("train", "test") if (subset / s).is_dir()]
        if not splits:
            res.status, res.problems = "incomplete", [f"no train/ or test/ folder in {subset}"]
        for split in splits:
            files = list_clip_files(subset / split)
            lengths = set()
            for path in files[:max_files] if max_files else files:
                try:
                    inp, label = read_clip(path)
                    lengths.add(len(label))
                except Exception as e:  # noqa: BLE001 - every failure is reported in the table
                    res.fail(e)
                    break
            res.splits[split] = f"{len(files)} clips" + (f" × {'/'.join(map(str, sorted(lengths)))} frames" if lengths else "")
            if not files:
                res.problems.append(f"{split}: no clip files")
                res.status = "incomplete" if res.status == "ok" else res.status
            if max_files and len(files) > max_files:
                res.problems.append(f"{split}: checked the first {max_files} of {len(files)} files")
        results.append(res)
    return results


def _check_smpl(res: CheckResult, folder: Path) -> None:
    from ..models.heads import load_mean_params
    from ..models.smpl import SMPL, load_smpl_model_file
    from .modules.mesh import smpl_files

    files = smpl_files(folder)
    if files.model.is_file():
        model = load_smpl_model_file(files.model)
        vertices, joints = np.asarray(model["v_template"]).shape[0], np.asarray(model["kintree_table"]).shape[-1]
        res.splits["model"] = f"{vertices} vertices, {joints} joints"
        if files.regressor.is_file():
            SMPL(files.model, files.regressor)  # checks the regressor's (17, vertices) shape
            res.splits["regressor"] = f"17 H36M joints × {vertices} vertices"
    if files.mean_params.is_file():
        load_mean_params(files.mean_params)
        res.splits["mean params"] = "pose (24 × 6D), shape (10)"


def _check_one(key: str, root: Path) -> CheckResult:
    from .amass import AMASSJoints, AMASSJointsConfig
    from .h36m import H36MSource, H36MSourceConfig
    from .instavariety import InstaVariety2D, InstaVarietyConfig
    from .mesh import MeshClips, MeshConfig
    from .mpi_inf_3dhp import MPI3DHPClips, MPI3DHPConfig, MPI3DHPTestWindows, load_3dhp
    from .ntu import NTUAction, NTUConfig
    from .posetrack import PoseTrack2D, PoseTrackConfig

    lay = LAYOUT[key]
    path = dataset_path(root, key)
    res = CheckResult(lay.title, files=[f for f in lay.files if (root / f).exists()] or [lay.path])
    missing = [f for f in lay.files if not (root / f).exists()]
    if missing:
        res.status = "incomplete"
        res.problems += [f"missing {f}" for f in missing]
    try:
        if key == "h36m":
            data = load_pickle(path)
            for split in ("train", "test"):
                _note(res, split, H36MSource(H36MSourceConfig(str(path), split), data=data).report, "clips")
        elif key == "amass":
            _note(res, "train", AMASSJoints(AMASSJointsConfig(str(path))).report, "clips")
        elif key == "mpi_inf_3dhp":
            if (path / "data_train_3dhp.npz").exists():
                seqs = load_3dhp(path / "data_train_3dhp.npz", "train")
                _note(res, "train", MPI3DHPClips(MPI3DHPConfig(str(path), "train"), seqs).report, f"clips ({len(seqs)} sequence-cameras)")
            if (path / "data_test_3dhp.npz").exists():
                seqs = load_3dhp(path / "data_test_3dhp.npz", "test")
                rep = MPI3DHPTestWindows(MPI3DHPConfig(str(path), "test"), seqs).report
                res.splits["test"] = f"{rep.items} valid frames of {rep.frames} ({len(seqs)} sequences)"
                _report_problems(res, "test", rep)
        elif key == "posetrack":
            n = len(list(path.glob("*.json")))
            _note(res, "train", PoseTrack2D(PoseTrackConfig(str(path))).report, f"tracks ({n} files)")
        elif key == "instavariety":
            _note(res, "train", InstaVariety2D(InstaVarietyConfig(str(path))).report, "clips")
        elif key.startswith("mesh_"):
            data = load_pickle(path)
            hybrik = True if key.endswith("_hybrik") else None  # a HybrIK file must have the HybrIK fields
            for split in ("train", "test"):
                ds = MeshClips(MeshConfig(str(path), split, hybrik=hybrik), data=data)
                _note(res, split, ds.report, "clips" + (" (+HybrIK)" if ds.hybrik else ""))
        elif key.startswith("ntu"):
            data = load_pickle(path)
            splits = data.get("split") if isinstance(data, dict) else None
            if not isinstance(splits, dict) or not splits:
                raise DataFormatError(path, "missing or empty 'split' dict")
            for split in sorted(splits):
                _note(res, split, NTUAction(NTUConfig(str(path), split), data=data).report, "samples")
        elif key == "smpl":  # what the mesh tasks need; each present file is loaded as MeshTask would
            _check_smpl(res, path)
        else:
            raise KeyError(key)
    except Exception as e:  # noqa: BLE001 - every failure is reported in the table
        res.fail(e)
    return res


def check_root(root: str | os.PathLike, max_files: int | None = None, on_dataset: Callable[[str], None] | None = None) -> list[CheckResult]:
    """Finds every LAYOUT dataset under `root` and reads it fully with its reader (clip-store
    pickles: all, or the first `max_files` per split). Datasets that are absent are not listed."""
    root = Path(root)
    if not root.is_dir():
        raise MissingDataError("data root", root)
    readers_log = logging.getLogger(__package__)
    level = readers_log.level
    readers_log.setLevel(logging.ERROR)  # drops are shown in the table, not as warnings
    try:
        results: list[CheckResult] = []
        for key, lay in LAYOUT.items():
            path = root / lay.path
            if not path.exists() and not any((root / f).exists() for f in lay.files):
                continue
            if on_dataset is not None:
                on_dataset(lay.title)
            if key == "mb3d":
                results += _check_mb3d(root, path, max_files)
            elif key == "mpi_inf_3dhp" or path.exists():
                results.append(_check_one(key, root))
            else:
                results.append(CheckResult(lay.title, [str(root / f) for f in lay.files if (root / f).exists()],
                                           problems=[f"missing {lay.path}"], status="incomplete"))
        return results
    finally:
        readers_log.setLevel(level)


def render_table(results: list[CheckResult], root: str | os.PathLike):
    """A rich Table of the results."""
    from rich.table import Table

    table = Table(title=f"datasets under {root}", show_lines=True)
    for col in ("dataset", "files", "clips / frames per split", "problems", "status"):
        table.add_column(col, overflow="fold")
    colour = {"ok": "green", "incomplete": "yellow", "malformed": "bold red"}
    for r in results:
        table.add_row(
            r.dataset,
            "\n".join(r.files),
            "\n".join(f"{k}: {v}" for k, v in r.splits.items()) or "-",
            "\n".join(r.problems) or "-",
            f"[{colour[r.status]}]{r.status}[/]",
        )
    return table
