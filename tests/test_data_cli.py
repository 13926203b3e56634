"""`hummuss-data check / synth / convert-*` on a fixture data root, in-process and as the console
script; the layout constants agree with where the fixtures (docs/DATA.md) put every file."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures import official_3dhp_test, write_3dhp, write_data_root, write_mesh

from hummuss_pl.batch import FPS, INPUT, SCALE_MM, SOURCE, TARGET_3D
from hummuss_pl.data.check import check_root
from hummuss_pl.data.cli import main
from hummuss_pl.data.motionbert_clips import MotionBERTClipConfig, MotionBERTClips
from hummuss_pl.data.registry import LAYOUT, dataset_path

SCRIPT = Path(sys.executable).parent / "hummuss-data"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("data"))


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at the terminal width


def test_layout_matches_the_documented_places(data_root):
    present = {k for k in LAYOUT if dataset_path(data_root, k).exists()}
    absent = {"ntu120", "mesh_coco_hybrik", "mesh_h36m_hybrik"}  # not written by write_data_root
    assert present == set(LAYOUT) - absent
    assert dataset_path(data_root, "mpi_inf_3dhp") == data_root / "mpi_inf_3dhp"
    docs = (Path(__file__).parents[1] / "docs" / "DATA.md").read_text()
    for lay in LAYOUT.values():
        assert lay.path in docs, f"{lay.path} is not documented in docs/DATA.md"
        assert f'<a id="{lay.anchor}"></a>' in docs, lay.anchor


def test_check_in_process_prints_table_and_exits_0(data_root, wide, capsys):
    assert main(["check", str(data_root)]) == 0
    out = capsys.readouterr().out
    for name in ("MB3D_f243s81/AMASS", "MB3D_f243s81/H36M-SH", "H36M-SH source", "AMASS joints", "MPI-INF-3DHP",
                 "PoseTrack18", "InstaVariety", "3DPW mesh", "COCO mesh", "H36M mesh", "3DPW mesh + HybrIK", "NTU RGB+D 60"):  # fmt: skip
        assert name in out, name
    assert "malformed" not in out
    assert "5 valid frames of 14" in out  # 3DHP test: TS1 3 + TS5 2 valid frames
    assert "dropped 1 tracks shorter than 30 frames" in out  # PoseTrack drops are reported


def test_check_results_count_clips(data_root):
    results = {r.dataset: r for r in check_root(data_root)}
    assert results["MB3D_f243s81/AMASS"].splits == {"train": "3 clips × 9 frames"}
    assert results["InstaVariety"].splits["train"].startswith("2 clips, 230 frames")
    assert results["3DPW mesh"].splits["train"].startswith("5 clips, 50 frames")  # (40, 10) frames, stride 8
    smpl = results.pop("SMPL model files")  # the fixture root has mesh data but no SMPL files
    assert smpl.status == "incomplete" and smpl.problems == [
        "missing mesh/SMPL_NEUTRAL.pkl", "missing mesh/J_regressor_h36m_correct.npy", "missing mesh/smpl_mean_params.npz"]
    assert all(r.status == "ok" for r in results.values())


def test_check_loads_the_smpl_files_the_mesh_task_needs(tmp_path):
    from smpl_fixture import write_smpl_files

    files = write_smpl_files(tmp_path / "mesh")
    [smpl] = check_root(tmp_path)
    assert (smpl.dataset, smpl.status, smpl.problems) == ("SMPL model files", "ok", [])
    assert smpl.splits["model"] == "6890 vertices, 24 joints"
    np.save(files["regressor"], np.zeros((17, 100)))
    [smpl] = check_root(tmp_path)
    assert smpl.status == "malformed" and "J_regressor_h36m_correct.npy" in smpl.problems[0]
    assert "(17, 6890)" in smpl.problems[0]


def test_check_exits_1_on_a_malformed_file(tmp_path, wide, capsys):
    root = write_data_root(tmp_path)
    data = write_mesh(root / "mesh" / "mesh_det_coco.pkl", "coco", videos=(3, 2))
    del data["test"]["smpl_shape"]
    with open(root / "mesh" / "mesh_det_coco.pkl", "wb") as f:
        pickle.dump(data, f)
    (root / "motion3d" / "MB3D_f243s81" / "AMASS" / "train" / "00000001.pkl").write_bytes(b"not a pickle")
    assert main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "smpl_shape" in out and "00000001.pkl" in out and "malformed: MB3D_f243s81/AMASS, COCO mesh" in out
    results = {r.dataset: r.status for r in check_root(root)}
    assert results["COCO mesh"] == "malformed" and results["3DPW mesh"] == "ok"


def test_check_requires_the_hybrik_fields_in_hybrik_files(tmp_path, wide, capsys):
    path = tmp_path / "mesh" / "mesh_det_pw3d_w_hybrik_pred_hr48_w.pkl"
    data = write_mesh(path, "pw3d", hybrik=True, videos=(40, 10))
    result = {r.dataset: r for r in check_root(tmp_path)}["3DPW mesh + HybrIK"]
    assert result.status == "ok" and "clips (+HybrIK)" in result.splits["test"]
    del data["test"]["pred_smpl_pose"]  # a HybrIK file without its HybrIK predictions
    with open(path, "wb") as f:
        pickle.dump(data, f)
    result = {r.dataset: r for r in check_root(tmp_path)}["3DPW mesh + HybrIK"]
    assert result.status == "malformed" and "missing key(s) ['pred_smpl_pose']" in result.problems[0]
    assert main(["check", str(tmp_path)]) == 1
    assert "malformed: 3DPW mesh + HybrIK" in capsys.readouterr().out
    plain = tmp_path / "mesh" / "mesh_det_pw3d.pkl"
    write_mesh(plain, "pw3d", videos=(40, 10))  # the plain file needs no HybrIK fields
    assert {r.dataset: r for r in check_root(tmp_path)}["3DPW mesh"].status == "ok"


def test_check_notes_a_3dhp_test_set_that_is_not_the_official_one(data_root, tmp_path):
    result = {r.dataset: r for r in check_root(data_root)}["MPI-INF-3DHP"]  # the fixture: TS1 and TS5, 5 valid frames
    assert result.status == "ok"  # a note, not a failure
    assert result.problems == [
        "test: not the official test set (missing TS2, TS3, TS4, TS6; valid frames TS1 3 (official 603), TS5 2 "
        "(official 276)): 5 valid frames instead of 2929, so PCK / AUC / MPJPE are not comparable with published numbers"
    ]
    write_3dhp(tmp_path / "mpi_inf_3dhp", test_frames=official_3dhp_test())
    [full] = check_root(tmp_path)
    assert (full.dataset, full.status, full.problems) == ("MPI-INF-3DHP", "ok", [])
    assert full.splits["test"] == "2929 valid frames of 2941 (6 sequences)"


def test_check_incomplete_dataset_is_reported_not_fatal(tmp_path, wide, capsys):
    root = write_data_root(tmp_path)
    (root / "mpi_inf_3dhp" / "data_test_3dhp.npz").unlink()
    assert main(["check", str(root)]) == 0
    result = {r.dataset: r for r in check_root(root)}["MPI-INF-3DHP"]
    assert result.status == "incomplete" and result.problems == ["missing mpi_inf_3dhp/data_test_3dhp.npz"]


def test_check_empty_root_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert main(["check", str(tmp_path / "nowhere")]) == 2


def test_console_script(tmp_path):
    root = write_data_root(tmp_path)
    ok = subprocess.run([str(SCRIPT), "check", str(root)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "MPI-INF-3DHP" in ok.stdout
    (root / "motion2d" / "InstaVariety" / "id_all.npy").write_bytes(b"garbage")
    bad = subprocess.run([str(SCRIPT), "check", str(root)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "malformed" in bad.stdout


def test_synth_writes_clips_the_reader_and_check_accept(tmp_path, wide, capsys):
    from hummuss_pl.data.synthetic import SyntheticConfig, SyntheticMotion

    assert main(["synth", str(tmp_path), "--train", "3", "--test", "2", "--clip-len", "16", "--fps", "30"]) == 0
    mb3d = tmp_path / "motion3d" / "MB3D_f243s81"
    train = MotionBERTClips(MotionBERTClipConfig(str(mb3d), "Synthetic", "train"))
    assert len(train) == 3 and len(MotionBERTClips(MotionBERTClipConfig(str(mb3d), "Synthetic", "test"))) == 2
    s = train[1]
    ref = SyntheticMotion(SyntheticConfig(num_clips=3, clip_len=16, fps=30.0, seed=0, split="train"))[1]
    np.testing.assert_allclose(s[INPUT], ref[INPUT], atol=1e-6)
    np.testing.assert_allclose(s[TARGET_3D], ref[TARGET_3D], atol=1e-6)
    assert s[SOURCE] == "synthetic" and s[FPS] == 30.0
    assert s[SCALE_MM] == pytest.approx(ref[SCALE_MM])
    with open(mb3d / "Synthetic" / "train" / "00000000.pkl", "rb") as f:
        assert set(pickle.load(f)) == {"data_input", "data_label"}  # MotionBERT's clip format
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0
    assert "MB3D_f243s81/Synthetic" in capsys.readouterr().out


def test_convert_commands(tmp_path):
    from fixtures import write_amass_joints, write_h36m_source

    write_amass_joints(tmp_path / "amass.pkl", lengths=(20, 7))
    write_h36m_source(tmp_path / "h36m.pkl")
    out = tmp_path / "MB3D_f243s81"
    assert main(["convert-amass", str(tmp_path / "amass.pkl"), str(out), "--clip-len", "8", "--stride", "5"]) == 0
    assert main(["convert-h36m", str(tmp_path / "h36m.pkl"), str(out), "--clip-len", "4", "--stride-train", "3"]) == 0
    assert len(MotionBERTClips(MotionBERTClipConfig(str(out), "AMASS", "train"))) == 4
    assert len(MotionBERTClips(MotionBERTClipConfig(str(out), "H36M-SH", "train"))) == 4
    assert len(MotionBERTClips(MotionBERTClipConfig(str(out), "H36M-SH", "test"))) == 2
