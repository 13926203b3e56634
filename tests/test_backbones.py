"""Every backbone preset builds, runs and round-trips through its checkpoint form; the capability
`supports_rate` and the per-frame floor (FramewiseMLP) behave as documented."""

from __future__ import annotations

import pytest
import torch

from hummuss_pl.models import (
    BACKBONE_PRESETS,
    FramewiseConfig,
    FramewiseMLP,
    HumMUSSConfig,
    backbone_as_dict,
    build_backbone,
    resolve_backbone,
    supports_rate,
)
from hummuss_pl.tasks import Pose3DTask

SMALL = sorted(name for name in BACKBONE_PRESETS if "tiny" in name or "small" in name)


@pytest.mark.parametrize("name", SMALL)
def test_every_small_preset_runs(name):
    torch.manual_seed(0)
    cfg = resolve_backbone(name)
    model = build_backbone(cfg).eval()
    x = torch.randn(2, 9, 17, 3)
    with torch.no_grad():
        rep, out = model.representation(x), model(x)
    assert rep.shape == (2, 9, 17, cfg.dim_rep) and out.shape == (2, 9, 17, 3)
    assert torch.isfinite(rep).all() and torch.isfinite(out).all()
    assert resolve_backbone(backbone_as_dict(cfg)) == cfg  # what checkpoints store rebuilds the same config


@pytest.mark.parametrize("name", sorted(BACKBONE_PRESETS))
def test_only_hummuss_takes_a_rate(name):
    cfg = resolve_backbone(name)
    assert supports_rate(cfg) == isinstance(cfg, HumMUSSConfig)


def test_the_framewise_floor_sees_one_frame_at_a_time():
    torch.manual_seed(0)
    model = FramewiseMLP(FramewiseConfig(hidden=32, depth=2, dim_rep=8)).eval()
    x = torch.randn(1, 6, 17, 3)
    changed = x.clone()
    changed[:, 3] += 1.0  # another frame 3 only
    with torch.no_grad():
        a, b = model(x), model(changed)
    assert torch.equal(a[:, :3], b[:, :3]) and torch.equal(a[:, 4:], b[:, 4:])
    assert not torch.allclose(a[:, 3], b[:, 3])
    with pytest.raises(ValueError, match="causal must be True"):
        FramewiseConfig(causal=False)
    with pytest.raises(ValueError, match=r"FramewiseMLP expects x of shape \(batch, frames, joints=17"):
        model(torch.randn(6, 17, 3))


def test_the_floor_is_a_backbone_for_the_tasks():
    task = Pose3DTask("framewise-small")
    assert isinstance(task.backbone, FramewiseMLP) and task.has_rate is False
    with pytest.raises(ValueError, match="FramewiseMLP has no frame-rate parameter"):
        Pose3DTask("framewise-small", eval_rate=2.0)
