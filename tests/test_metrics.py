"""Metrics: hand-computed values, invariances, 3DHP PCK/AUC edge cases, and exact DDP (gloo) sums."""

import math

import pytest
import roma
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hummuss_pl import metrics as M
from hummuss_pl.skeleton import H36M_3DHP_PCK_14, H36M_EVAL_14

# Two poses of two joints; targets at the origin, so each error is the norm of the prediction.
PRED_2x2 = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], [[1.0, 2.0, 2.0], [0.0, 6.0, 8.0]]])
# errors: 5, 0, 3, 10


def test_mpjpe_hand_computed():
    target = torch.zeros_like(PRED_2x2)
    assert M.mpjpe(PRED_2x2, target).item() == pytest.approx((5 + 0 + 3 + 10) / 4)
    assert M.mpjpe(PRED_2x2, target, joints=[0]).item() == pytest.approx((5 + 3) / 2)
    # root=1: pose 1 joint 0 → (3, 4, 0) − 0; pose 2 joint 0 → (1, 2, 2) − (0, 6, 8) = (1, −4, −6), √53
    assert M.mpjpe(PRED_2x2, target, root=1).item() == pytest.approx((5 + math.sqrt(53)) / 4)
    # root subtracted before the subset is taken (the root itself is then excluded)
    assert M.mpjpe(PRED_2x2, target, joints=[0], root=1).item() == pytest.approx((5 + math.sqrt(53)) / 2)
    assert M.joint_errors(PRED_2x2, target).tolist() == [[5.0, 0.0], [3.0, 10.0]]


def test_n_mpjpe_hand_computed_and_scale_invariant():
    target = torch.tensor([[[1.0, 0, 0], [-1.0, 0, 0]]])
    pred = torch.tensor([[[1.0, 1, 0], [-1.0, -1, 0]]])
    # s = <p, t>/<p, p> = 2/4; s·p = (±0.5, ±0.5, 0); each error √0.5
    assert M.n_mpjpe(pred, target).item() == pytest.approx(math.sqrt(0.5))
    torch.manual_seed(0)
    t = torch.randn(4, 17, 3, dtype=torch.float64)
    p = t + 0.1 * torch.randn_like(t)
    assert M.n_mpjpe(3.7 * p, t).item() == pytest.approx(M.n_mpjpe(p, t).item(), rel=1e-12)
    assert M.n_mpjpe(0.5 * t, t).item() < 1e-12
    assert M.mpjpe(0.5 * t, t).item() > 0.1


def _random_similarity(x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rot = roma.random_rotmat(x.shape[0], dtype=x.dtype)
    scale = 0.5 + 2 * torch.rand(x.shape[0], 1, 1, generator=g, dtype=x.dtype)
    shift = 100 * torch.randn(x.shape[0], 1, 3, generator=g, dtype=x.dtype)
    return scale * (x @ rot.transpose(1, 2)) + shift


def test_pa_mpjpe_zero_under_random_similarity():
    torch.manual_seed(1)
    target = 200 * torch.randn(6, 17, 3, dtype=torch.float64)
    pred = _random_similarity(target, seed=1)
    assert M.mpjpe(pred, target).item() > 50
    assert M.pa_mpjpe(pred, target).item() < 1e-9
    assert M.pa_mpjpe(pred, target, joints=H36M_EVAL_14, root=0).item() < 1e-9
    # float32 input: alignment still runs in float64
    assert M.pa_mpjpe(pred.float(), target.float()).item() < 1e-3


def test_pa_mpjpe_corrects_reflections():
    torch.manual_seed(2)
    target = 200 * torch.randn(5, 17, 3, dtype=torch.float64)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # a reflection, not a rotation
    pred = _random_similarity(mirrored, seed=2)
    aligned = M.procrustes_align(pred, target)
    # An orthogonal (reflecting) fit would reach 0; a proper rotation cannot.
    assert M.pa_mpjpe(pred, target).item() > 10
    # The alignment is a similarity with positive determinant: solve the linear map pred → aligned.
    p0, a0 = pred - pred.mean(1, keepdim=True), aligned - aligned.mean(1, keepdim=True)
    linear = torch.linalg.lstsq(p0, a0).solution  # rows: a = p @ linear
    assert (torch.linalg.det(linear) > 0).all()
    # Same optimum as an independent implementation (roma's Umeyama with special Procrustes).
    rot, shift, scale = roma.rigid_points_registration(pred, target, compute_scaling=True)
    expected = scale[:, None, None] * (pred @ rot.transpose(1, 2)) + shift[:, None]
    torch.testing.assert_close(aligned, expected, atol=1e-8, rtol=0)


def test_pa_matches_independent_implementation_on_noisy_poses():
    torch.manual_seed(3)
    target = 300 * torch.randn(8, 14, 3, dtype=torch.float64)
    pred = _random_similarity(target + 20 * torch.randn_like(target), seed=3)
    rot, shift, scale = roma.rigid_points_registration(pred, target, compute_scaling=True)
    expected = scale[:, None, None] * (pred @ rot.transpose(1, 2)) + shift[:, None]
    want = (expected - target).norm(dim=-1).mean().item()
    assert M.pa_mpjpe(pred, target).item() == pytest.approx(want, rel=1e-10)
    assert 5 < want < M.mpjpe(pred, target).item()


def _poses_with_errors(errors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued random targets, prediction displaced by `errors` (P, 17) mm along ±x, ±y or ±z
    (so every error is exactly the given number in float64)."""
    g = torch.Generator().manual_seed(0)
    target = torch.randint(-500, 500, errors.shape + (3,), generator=g).double()
    axis = torch.nn.functional.one_hot(torch.randint(0, 3, errors.shape, generator=g), 3).double()
    sign = torch.randint(0, 2, errors.shape + (1,), generator=g).double() * 2 - 1
    return target + errors[..., None] * axis * sign, target


def test_pck_auc_edge_cases():
    pred, target = _poses_with_errors(torch.full((3, 17), 149.9, dtype=torch.float64))
    assert M.pck(pred, target).item() == pytest.approx(100.0)
    assert M.auc(pred, target).item() == pytest.approx(100 / 31)  # only t = 150 counts
    pred, target = _poses_with_errors(torch.full((3, 17), 150.0, dtype=torch.float64))
    assert M.pck(pred, target).item() == 0.0  # exactly 150 mm: strict < fails everywhere
    assert M.auc(pred, target).item() == 0.0
    same = torch.randn(2, 17, 3)
    assert M.pck(same, same).item() == 100.0
    assert M.auc(same, same).item() == pytest.approx(100 * 30 / 31)
    assert M.auc(same, same).item() == pytest.approx(96.77, abs=5e-3)


def test_pck_auc_hand_computed_mixed_errors():
    # 3DHP joints get errors 0, 10, 150, 200 (repeating); the 3 excluded joints get 1000 and must not count.
    errors = torch.full((1, 17), 1000.0, dtype=torch.float64)
    for i, j in enumerate(H36M_3DHP_PCK_14):
        errors[0, j] = (0.0, 10.0, 150.0, 200.0)[i % 4]
    pred, target = _poses_with_errors(errors)
    # 14 joints: four of 0, four of 10, three of 150, three of 200 → PCK = 8/14
    assert M.pck(pred, target).item() == pytest.approx(100 * 8 / 14)
    # AUC: an error of 0 passes 30 thresholds (5..150), an error of 10 passes 28 (15..150), others none
    assert M.auc(pred, target).item() == pytest.approx(100 * (4 * 30 + 4 * 28) / (31 * 14))
    assert M.pck(pred, target, joints=None).item() == pytest.approx(100 * 8 / 17)


def test_mpve_and_topk_hand_computed():
    pv = torch.tensor([[[1.0, 0, 0], [0, 2, 0], [0, 0, 0]]])
    tv = torch.zeros_like(pv)
    assert M.mpve(pv, tv).item() == pytest.approx(1.0)
    # subtract roots: pred root (1, 0, 0) → vertices (0,0,0), (−1,2,0), (−1,0,0); target root 0
    assert M.mpve(pv, tv, torch.tensor([[1.0, 0, 0]]), torch.zeros(1, 3)).item() == pytest.approx((0 + math.sqrt(5) + 1) / 3)
    logits = torch.tensor([[0.1, 0.5, 0.2, 0.9], [3.0, 1.0, 2.0, 0.0], [0.0, 0.1, 0.3, 0.2]])
    labels = torch.tensor([3, 2, 0])
    # top-1 picks 3, 0, 2 → one hit; top-2 picks {3,1}, {0,2}, {2,3} → two hits
    assert M.topk_accuracy(logits, labels, 1).item() == pytest.approx(100 / 3)
    assert M.topk_accuracy(logits, labels, 2).item() == pytest.approx(200 / 3)
    assert M.topk_accuracy(logits, labels, 4).item() == pytest.approx(100.0)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_metric_objects_accumulate_like_functions_over_all_data():
    torch.manual_seed(4)
    target = 300 * torch.randn(10, 4, 17, 3)
    pred = target + 60 * torch.randn_like(target)
    pairs = [
        (M.MPJPE(joints=H36M_EVAL_14, root=0), lambda p, t: M.mpjpe(p, t, H36M_EVAL_14, 0)),
        (M.NMPJPE(), M.n_mpjpe),
        (M.PAMPJPE(joints=H36M_EVAL_14, root=0), lambda p, t: M.pa_mpjpe(p, t, H36M_EVAL_14, 0)),
        (M.PCK(), M.pck),
        (M.AUC(), M.auc),
    ]
    for metric, fn in pairs:
        for chunk in (slice(0, 3), slice(3, 4), slice(4, 10)):  # uneven batches
            metric.update(pred[chunk], target[chunk])
        assert metric.compute().item() == pytest.approx(fn(pred, target).item(), rel=1e-12), type(metric).__name__
        metric.reset()
        with pytest.raises(RuntimeError, match="before any update"):
            metric.compute()
    mpve = M.MPVE()
    mpve.update(pred[:4], target[:4], pred[:4, :, 0], target[:4, :, 0])
    mpve.update(pred[4:], target[4:], pred[4:, :, 0], target[4:, :, 0])
    assert mpve.compute().item() == pytest.approx(M.mpve(pred, target, pred[..., 0, :], target[..., 0, :]).item())
    acc = M.TopKAccuracy(k=5)
    logits, labels = torch.randn(20, 60), torch.randint(0, 60, (20,))
    acc.update(logits[:7], labels[:7])
    acc.update(logits[7:], labels[7:])
    assert acc.compute().item() == pytest.approx(M.topk_accuracy(logits, labels, 5).item())


def test_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        M.mpjpe(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="joints="):
        M.mpjpe(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), joints=[7])
    with pytest.raises(ValueError, match="k=7"):
        M.topk_accuracy(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), 7)
    with pytest.raises(ValueError, match="both pred_root and target_root"):
        M.mpve(torch.zeros(1, 4, 3), torch.zeros(1, 4, 3), pred_root=torch.zeros(1, 3))


# ---------------------------------------------------------------------------------------------- DDP


def _ddp_data():
    g = torch.Generator().manual_seed(5)
    target = 300 * torch.randn(9, 17, 3, generator=g, dtype=torch.float64)
    pred = target + 80 * torch.randn(target.shape, generator=g, dtype=torch.float64)
    logits, labels = torch.randn(9, 60, generator=g), torch.randint(0, 60, (9,), generator=g)
    return pred, target, logits, labels


def _all_metrics():
    return {"mpjpe": M.MPJPE(), "pa": M.PAMPJPE(joints=H36M_EVAL_14), "n": M.NMPJPE(), "pck": M.PCK(),
            "auc": M.AUC(), "mpve": M.MPVE(), "top5": M.TopKAccuracy(5)}


def _update(metrics, pred, target, logits, labels):
    for name, m in metrics.items():
        if name == "top5":
            m.update(logits, labels)
        else:
            m.update(pred, target)


def _ddp_worker(rank: int, init_file: str, out_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        pred, target, logits, labels = _ddp_data()
        shard = slice(0, 6) if rank == 0 else slice(6, 9)  # uneven shards: 6 and 3 samples
        metrics = _all_metrics()
        _update(metrics, pred[shard], target[shard], logits[shard], labels[shard])
        values = {name: m.compute().item() for name, m in metrics.items()}
        torch.save(values, f"{out_file}.{rank}")
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_two_ranks_equal_single_process(tmp_path):
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(tmp_path / "values")), nprocs=2, join=True)
    metrics = _all_metrics()
    _update(metrics, *_ddp_data())
    single = {name: m.compute().item() for name, m in metrics.items()}
    for rank in (0, 1):
        got = torch.load(tmp_path / f"values.{rank}")
        assert got.keys() == single.keys()
        for name in single:
            assert got[name] == pytest.approx(single[name], rel=1e-12, abs=1e-12), (rank, name)
    # the shards alone differ from the whole (the sync really happened)
    local = _all_metrics()
    pred, target, logits, labels = _ddp_data()
    _update(local, pred[:6], target[:6], logits[:6], labels[:6])
    assert local["mpjpe"].compute().item() != pytest.approx(single["mpjpe"], rel=1e-9)


def test_metrics_reset_in_inference_mode_still_update_in_training():
    """`trainer.validate` before `fit` leaves metric states created under inference mode."""
    from hummuss_pl.metrics import AUC, MPJPE, TopKAccuracy

    pose = torch.zeros(2, 17, 3)
    for metric, args in ((MPJPE(), (pose, pose + 1)), (AUC(), (pose, pose)), (TopKAccuracy(1), (torch.eye(3), torch.arange(3)))):
        with torch.inference_mode():
            metric.reset()
        metric.update(*args)  # outside inference mode, as a training step
        assert torch.isfinite(metric.compute())
