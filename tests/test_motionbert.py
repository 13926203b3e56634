"""The MotionBERT (DSTformer) baseline: official key layout, forward against an independent
re-derivation, checkpoints in the official formats, causal mask, window and KV-cache streaming."""

import io
import math
from collections import OrderedDict
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hummuss_pl.models import (
    MotionBERT,
    MotionBERTCheckpointError,
    MotionBERTConfig,
    Streamer,
    export_motionbert_checkpoint,
    load_motionbert_checkpoint,
)

# The 24 tensors of one official Block, in the official state_dict order (Attention registers
# `proj` before `qkv`).
BLOCK_SUFFIXES = [
    "norm1_s.weight", "norm1_s.bias",
    "norm1_t.weight", "norm1_t.bias",
    "attn_s.proj.weight", "attn_s.proj.bias",
    "attn_s.qkv.weight", "attn_s.qkv.bias",
    "attn_t.proj.weight", "attn_t.proj.bias",
    "attn_t.qkv.weight", "attn_t.qkv.bias",
    "norm2_s.weight", "norm2_s.bias",
    "norm2_t.weight", "norm2_t.bias",
    "mlp_s.fc1.weight", "mlp_s.fc1.bias",
    "mlp_s.fc2.weight", "mlp_s.fc2.bias",
    "mlp_t.fc1.weight", "mlp_t.fc1.bias",
    "mlp_t.fc2.weight", "mlp_t.fc2.bias",
]  # fmt: skip


def official_keys(depth: int) -> list[str]:
    keys = ["temp_embed", "pos_embed", "joints_embed.weight", "joints_embed.bias"]
    for stream in ("blocks_st", "blocks_ts"):
        keys += [f"{stream}.{i}.{s}" for i in range(depth) for s in BLOCK_SUFFIXES]
    keys += ["norm.weight", "norm.bias", "pre_logits.fc.weight", "pre_logits.fc.bias", "head.weight", "head.bias"]
    keys += [f"ts_attn.{i}.{p}" for i in range(depth) for p in ("weight", "bias")]
    return keys


def tiny(causal: bool, seed: int = 0) -> MotionBERT:
    """A tiny model with every weight perturbed, so the fusion (zero weights at init) and the
    LayerNorm affines (identity at init) take part in the comparisons."""
    torch.manual_seed(seed)
    model = MotionBERT(MotionBERTConfig.tiny(causal=causal)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def outputs(model: MotionBERT, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


# ------------------------------------------------------------------ an independent forward pass
def reference_forward(sd: dict, cfg: MotionBERTConfig, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """DSTformer written from the architecture description (reference/motionbert.md), on the
    state_dict alone: tokens laid out (B·F, J, C) for spatial and (B·J, F, C) for temporal
    attention, explicit einsum attention with an explicit mask."""
    b, f, j, _ = x.shape
    c, h = cfg.dim_feat, cfg.num_heads
    d = c // h

    def lin(t, name):
        return t @ sd[name + ".weight"].T + sd[name + ".bias"]

    def ln(t, name):
        return F.layer_norm(t, (c,), sd[name + ".weight"], sd[name + ".bias"], eps=1e-6)

    def attention(t, name, mask_future):  # t (S, N, C): attention over N
        s, n, _ = t.shape
        qkv = lin(t, name + ".qkv").reshape(s, n, 3, h, d)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (S, N, H, d)
        scores = torch.einsum("snhd,smhd->shnm", q, k) / math.sqrt(d)
        if mask_future:
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        out = torch.einsum("shnm,smhd->snhd", scores.softmax(-1), v).reshape(s, n, c)
        return lin(out, name + ".proj")

    def spatial(t, p):  # t (B·F, J, C)
        t = t + attention(ln(t, p + "norm1_s"), p + "attn_s", False)
        return t + lin(F.gelu(lin(ln(t, p + "norm2_s"), p + "mlp_s.fc1")), p + "mlp_s.fc2")

    def temporal(t, p):  # t (B·F, J, C); attention per joint over frames
        u = ln(t, p + "norm1_t").reshape(b, f, j, c).permute(0, 2, 1, 3).reshape(b * j, f, c)
        a = attention(u, p + "attn_t", causal).reshape(b, j, f, c).permute(0, 2, 1, 3).reshape(b * f, j, c)
        t = t + a
        return t + lin(F.gelu(lin(ln(t, p + "norm2_t"), p + "mlp_t.fc1")), p + "mlp_t.fc2")

    t = lin(x.reshape(b * f, j, 3), "joints_embed") + sd["pos_embed"]
    t = (t.reshape(b, f, j, c) + sd["temp_embed"][:, :f]).reshape(b * f, j, c)
    for i in range(cfg.depth):
        x_st = temporal(spatial(t, f"blocks_st.{i}."), f"blocks_st.{i}.")
        x_ts = spatial(temporal(t, f"blocks_ts.{i}."), f"blocks_ts.{i}.")
        alpha = lin(torch.cat([x_st, x_ts], -1), f"ts_attn.{i}").softmax(-1)
        t = x_st * alpha[..., :1] + x_ts * alpha[..., 1:]
    rep = torch.tanh(lin(ln(t, "norm"), "pre_logits.fc"))
    return lin(rep, "head").reshape(b, f, j, cfg.out_channels)


# ------------------------------------------------------------------ architecture
@pytest.fixture(scope="module")
def lite():
    return MotionBERT(MotionBERTConfig.lite())


def test_parameter_counts_match_the_official_models(lite):
    assert sum(p.numel() for p in lite.parameters()) == 16_001_549
    base = MotionBERT(MotionBERTConfig.base())
    assert sum(p.numel() for p in base.parameters()) == 42_466_317
    assert MotionBERTConfig.base(causal=True).causal and not MotionBERTConfig.lite().causal


def test_state_dict_keys_order_shapes_and_init_are_official(lite):
    sd = lite.state_dict()
    assert list(sd) == official_keys(5) and len(sd) == 260
    assert sd["temp_embed"].shape == (1, 243, 1, 256)
    assert sd["pos_embed"].shape == (1, 17, 256)
    assert sd["joints_embed.weight"].shape == (256, 3)
    assert sd["blocks_ts.4.attn_t.qkv.weight"].shape == (768, 256) and sd["blocks_ts.4.attn_t.qkv.bias"].shape == (768,)
    assert sd["blocks_st.0.mlp_s.fc1.weight"].shape == (1024, 256)
    assert sd["pre_logits.fc.weight"].shape == (512, 256) and sd["head.weight"].shape == (3, 512)
    for i in range(5):
        assert sd[f"ts_attn.{i}.weight"].shape == (2, 512)
        assert torch.all(sd[f"ts_attn.{i}.weight"] == 0) and torch.all(sd[f"ts_attn.{i}.bias"] == 0.5)
    norms = [m for m in lite.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 41 and all(m.eps == 1e-6 for m in norms)
    assert not any(isinstance(m, torch.nn.Dropout) for m in lite.modules())
    assert 0.015 < sd["temp_embed"].std().item() < 0.025  # truncated normal, std 0.02


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
def test_forward_matches_an_independent_implementation(causal):
    model = tiny(causal)
    x = torch.randn(2, 11, 17, 3)
    with torch.no_grad():
        expected = reference_forward(model.state_dict(), model.cfg, x, causal)
        got = model(x)
        rep = model.representation(x)
    assert got.shape == (2, 11, 17, 3) and rep.shape == (2, 11, 17, model.cfg.dim_rep)
    assert (got - expected).abs().max().item() <= 1e-5
    assert torch.allclose(model.head(rep), got) and rep.abs().max() < 1  # tanh features


def test_gradients_reach_every_parameter():
    model = tiny(causal=True).train()
    x = torch.randn(1, model.cfg.maxlen, 17, 3)  # every temp_embed row in use
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


# ------------------------------------------------------------------ input validation
def test_more_frames_than_maxlen_raises_and_points_to_the_streamer():
    model = tiny(causal=True)
    with pytest.raises(ValueError, match=r"maxlen=48.*streamer"):
        model(torch.zeros(1, 49, 17, 3))
    assert model(torch.zeros(1, 48, 17, 3)).shape == (1, 48, 17, 3)


def test_input_validation_and_rate():
    model = tiny(causal=False)
    x = torch.randn(1, 5, 17, 3)
    with pytest.raises(ValueError, match=r"joints=17, channels=3"):
        model(torch.zeros(1, 5, 16, 3))
    with pytest.raises(ValueError, match=r"joints=17, channels=3"):
        model(torch.zeros(5, 17, 3))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, 17, 3))
    bad = x.clone()
    bad[0, 2, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(1, 5, 17, 3, dtype=torch.long))
    for rate in (2.0, 0.5, torch.tensor([1.0, 2.0])):
        with pytest.raises(ValueError, match="no frame-rate parameter"):
            model(x, rate=rate)
    assert torch.equal(outputs(model, x), model(x, rate=1.0).detach())
    assert torch.equal(outputs(model, x), model(x, rate=torch.ones(1)).detach())


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="num_heads=3 must divide dim_feat=32"):
        MotionBERTConfig(dim_feat=32, num_heads=3)
    with pytest.raises(ValueError, match="MotionBERTConfig.maxlen"):
        MotionBERTConfig(maxlen=0)


# ------------------------------------------------------------------ causal mask
def test_causal_outputs_ignore_future_frames_and_bidirectional_do_not():
    x = torch.randn(2, 40, 17, 3)
    changed = x.clone()
    changed[:, 21:] = torch.randn(2, 19, 17, 3)
    for causal in (True, False):
        model = tiny(causal)
        diff = (outputs(model, x) - outputs(model, changed))[:, :21].abs().max().item()
        if causal:
            assert diff <= 1e-6
        else:
            assert diff > 1e-3


# ------------------------------------------------------------------ checkpoints
def official_file(path, model: MotionBERT, **extra) -> None:
    """What official train.py writes: DataParallel keys under 'model_pos', min_loss a numpy float."""
    weights = OrderedDict(("module." + k, v.clone()) for k, v in model.state_dict().items())
    torch.save({"epoch": 60, "lr": 1.1e-4, "optimizer": None, "model_pos": weights, "min_loss": np.float64(37.2), **extra}, path)


def test_official_pose_checkpoint_loads_strictly_and_reproduces_outputs(tmp_path):
    source, target = tiny(causal=False, seed=0), tiny(causal=False, seed=1)
    x = torch.randn(2, 9, 17, 3)
    assert not torch.allclose(outputs(source, x), outputs(target, x))
    official_file(tmp_path / "latest_epoch.bin", source)
    assert load_motionbert_checkpoint(target, tmp_path / "latest_epoch.bin") is target
    assert torch.equal(outputs(source, x), outputs(target, x))
    # Official (bidirectional) weights go into the causal variant unchanged and give the masked model.
    causal = load_motionbert_checkpoint(tiny(causal=True, seed=2), str(tmp_path / "latest_epoch.bin"))
    expected = reference_forward(source.state_dict(), source.cfg, x, causal=True)
    assert (outputs(causal, x) - expected).abs().max().item() <= 1e-5


def test_numpy1_pickled_official_file_loads_with_weights_only(tmp_path):
    """Released files were written under numpy 1, which names numpy's scalar rebuilder differently."""
    source = tiny(causal=False)
    buf = io.BytesIO()
    weights = {"module." + k: v for k, v in source.state_dict().items()}
    torch.save({"epoch": 1, "lr": 1e-4, "model_pos": weights, "min_loss": np.float64(40.0)}, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as numpy 1 writes it
    assert b"numpy.core.multiarray" in data
    (tmp_path / "best_epoch.bin").write_bytes(data)
    target = load_motionbert_checkpoint(tiny(causal=False, seed=3), tmp_path / "best_epoch.bin")
    x = torch.randn(1, 6, 17, 3)
    assert torch.equal(outputs(source, x), outputs(target, x))


def test_untrusted_objects_need_weights_only_false(tmp_path):
    source = tiny(causal=False)
    official_file(tmp_path / "odd.bin", source, note=Fraction(1, 3))
    with pytest.raises(MotionBERTCheckpointError, match="weights_only=False"):
        load_motionbert_checkpoint(tiny(causal=False, seed=1), tmp_path / "odd.bin")
    target = load_motionbert_checkpoint(tiny(causal=False, seed=1), tmp_path / "odd.bin", weights_only=False)
    x = torch.randn(1, 4, 17, 3)
    assert torch.equal(outputs(source, x), outputs(target, x))


def test_action_checkpoint_takes_the_backbone_and_names_what_it_ignored(tmp_path):
    source = tiny(causal=False)
    sd = OrderedDict(("module.backbone." + k, v.clone()) for k, v in source.state_dict().items())
    sd["module.head.fc1.weight"] = torch.randn(2048, 17 * 32)
    sd["module.head.bn.running_mean"] = torch.zeros(2048)
    sd["module.head.bn.num_batches_tracked"] = torch.tensor(5)
    torch.save({"epoch": 3, "lr": 1e-4, "optimizer": None, "model": sd, "best_acc": 90.0}, tmp_path / "best_epoch.bin")
    target = tiny(causal=False, seed=4)
    with pytest.warns(UserWarning, match=r"ignored 3 .*head\.fc1\.weight"):
        load_motionbert_checkpoint(target, tmp_path / "best_epoch.bin")
    x = torch.randn(2, 7, 17, 3)
    assert torch.equal(outputs(source, x), outputs(target, x))


def test_bare_state_dicts_with_or_without_module_prefix_load():
    source = tiny(causal=False)
    x = torch.randn(1, 5, 17, 3)
    for sd in (source.state_dict(), {"module." + k: v for k, v in source.state_dict().items()}):
        target = load_motionbert_checkpoint(tiny(causal=False, seed=5), sd)
        assert torch.equal(outputs(source, x), outputs(target, x))


def test_renamed_key_is_listed_as_missing_and_unexpected():
    sd = {"module." + k: v for k, v in tiny(causal=False).state_dict().items()}
    sd["module.blocks_st.1.attn_s.qkv_weight"] = sd.pop("module.blocks_st.1.attn_s.qkv.weight")
    target = tiny(causal=False, seed=6)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(MotionBERTCheckpointError) as err:
        load_motionbert_checkpoint(target, {"model_pos": sd})
    msg = str(err.value)
    assert "missing keys (1): blocks_st.1.attn_s.qkv.weight" in msg
    assert "unexpected keys (1): blocks_st.1.attn_s.qkv_weight" in msg
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # nothing half-loaded


def test_reshaped_key_is_listed_with_both_shapes():
    sd = dict(tiny(causal=False).state_dict())
    sd["temp_embed"] = sd["temp_embed"][:, :40]
    with pytest.raises(MotionBERTCheckpointError, match=r"mis-shaped keys \(1\): temp_embed: checkpoint \(1, 40, 1, 32\) vs model \(1, 48, 1, 32\)") as err:
        load_motionbert_checkpoint(tiny(causal=False, seed=7), sd)
    assert "maxlen=40" in str(err.value)
    wider = MotionBERT(replace(MotionBERTConfig.tiny(), dim_feat=64))
    with pytest.raises(MotionBERTCheckpointError, match=r"dim_feat=64 but the model 32"):
        load_motionbert_checkpoint(tiny(causal=False), wider.state_dict())


# The dict official train.py's save_checkpoint writes (pretrain and pose3d runs).
OFFICIAL_TOP_LEVEL_KEYS = {"epoch", "lr", "optimizer", "model_pos", "min_loss"}


def test_export_is_official_format_and_round_trips(tmp_path):
    source = tiny(causal=True)
    path = tmp_path / "latest_epoch.bin"
    export_motionbert_checkpoint(source, path, epoch=12, lr=2e-4, min_loss=41.5)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # plain weights_only: no extra globals needed
    assert set(ckpt) == OFFICIAL_TOP_LEVEL_KEYS
    assert ckpt["epoch"] == 12 and ckpt["lr"] == 2e-4 and ckpt["optimizer"] is None and ckpt["min_loss"] == 41.5
    assert list(ckpt["model_pos"]) == ["module." + k for k in official_keys(source.cfg.depth)]
    target = load_motionbert_checkpoint(tiny(causal=True, seed=8), path)
    x = torch.randn(2, 10, 17, 3)
    assert torch.equal(outputs(source, x), outputs(target, x))


def test_export_loads_the_official_way_into_dataparallel(tmp_path):
    """Official train.py / infer_wild.py wrap the model in nn.DataParallel and then call
    load_state_dict(checkpoint['model_pos'], strict=True): keys must carry `module.`."""
    source = tiny(causal=False)
    path = tmp_path / "best_epoch.bin"
    export_motionbert_checkpoint(source, path)  # defaults: what a plain hand-over needs
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt) == OFFICIAL_TOP_LEVEL_KEYS
    wrapped = torch.nn.DataParallel(MotionBERT(source.cfg))
    wrapped.load_state_dict(ckpt["model_pos"], strict=True)
    x = torch.randn(1, 8, 17, 3)
    with torch.no_grad():
        assert torch.equal(wrapped.module(x), outputs(source, x))
    # Official --resume: st = checkpoint['epoch']; lr = checkpoint['lr']; then lr *= lr_decay every epoch.
    assert isinstance(ckpt["epoch"], int) and ckpt["epoch"] == 0
    assert isinstance(ckpt["lr"], float) and ckpt["lr"] * 0.99 == pytest.approx(4.95e-4)
    for bad in (None, 0.0, -1e-4, float("nan")):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            export_motionbert_checkpoint(source, tmp_path / "bad.bin", lr=bad)


# ------------------------------------------------------------------ streaming
def push_all(streamer: Streamer, x: torch.Tensor, rate=None) -> torch.Tensor:
    return torch.stack([streamer.push(x[:, t], rate=rate) for t in range(x.shape[1])], 1)


def test_kv_cache_equals_full_causal_recompute():
    model = tiny(causal=True)
    x = torch.randn(2, 30, 17, 3)
    s = model.streamer(2, mode="kv")
    streamed = push_all(s, x)
    assert streamed.shape == (2, 30, 17, 3) and s.frames == 30
    assert (streamed - outputs(model, x)).abs().max().item() <= 1e-5
    # After reset the cache holds nothing of the old streams.
    s.reset()
    y = torch.randn(2, 10, 17, 3)
    assert s.frames == 0 and (push_all(s, y, rate=1.0) - outputs(model, y)).abs().max().item() <= 1e-5


def test_kv_cache_covers_maxlen_frames_then_raises():
    model = tiny(causal=True)
    maxlen = model.cfg.maxlen
    x = torch.randn(1, maxlen + 1, 17, 3)
    s = model.streamer(1, mode="kv")
    streamed = push_all(s, x[:, :maxlen])
    assert (streamed[:, -1] - outputs(model, x[:, :maxlen])[:, -1]).abs().max().item() <= 1e-5
    with pytest.raises(RuntimeError, match=r"maxlen=48.*mode='window'"):
        s.push(x[:, maxlen])
    assert s.frames == maxlen
    s.reset()
    assert (s.push(x[:, 0]) - streamed[:, 0]).abs().max().item() <= 1e-6


def test_kv_cache_with_max_frames_is_smaller_equal_and_raises_when_full():
    model = tiny(causal=True)
    n = 20
    cache = model.init_kv_cache(2, max_frames=n)
    assert len(cache) == 2 * model.cfg.depth
    assert all(k.shape == v.shape == (2, 17, 4, n, 8) for k, v in cache)  # (B, J, H, max_frames, C/H)
    assert model.init_kv_cache(2)[0][0].shape[3] == model.cfg.maxlen
    x = torch.randn(2, n + 1, 17, 3)
    s = model.streamer(2, mode="kv", max_frames=n)
    assert s.max_frames == n
    assert (push_all(s, x[:, :n]) - outputs(model, x[:, :n])).abs().max().item() <= 1e-5
    with pytest.raises(RuntimeError, match=r"max_frames=20 frames and is full.*maxlen=48"):
        s.push(x[:, n])
    assert s.frames == n
    s.reset()
    assert (push_all(s, x[:, 1 : n + 1]) - outputs(model, x[:, 1 : n + 1])).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="past the cache's max_frames=20"):
        model.step_representation(x[:, 0], cache, n)


def test_kv_max_frames_is_checked():
    model = tiny(causal=True)
    for bad in (0, 49):
        with pytest.raises(ValueError, match=r"max_frames must be in \[1, maxlen=48\]"):
            model.streamer(1, mode="kv", max_frames=bad)
        with pytest.raises(ValueError, match=r"max_frames must be in \[1, maxlen=48\]"):
            model.init_kv_cache(1, max_frames=bad)
    with pytest.raises(ValueError, match="max_frames is for mode='kv'"):
        model.streamer(1, mode="window", max_frames=8)
    assert model.streamer(1, mode="kv", max_frames=48).max_frames == 48


def test_window_streamer_equals_the_causal_model_on_the_prefix():
    model = tiny(causal=True)
    x = torch.randn(2, 12, 17, 3)
    s = model.streamer(2)  # mode="window", window = maxlen
    assert s.window == model.cfg.maxlen
    assert (push_all(s, x) - outputs(model, x)).abs().max().item() <= 1e-5


def test_window_streamer_past_the_window_runs_the_model_on_the_last_w_frames():
    model = tiny(causal=True)
    w, n = 8, 21
    x = torch.randn(2, n, 17, 3)
    s = model.streamer(2, mode="window", window=w)
    streamed = push_all(s, x)
    for t in range(n):
        expected = outputs(model, x[:, max(0, t - w + 1) : t + 1])[:, -1]
        assert (streamed[:, t] - expected).abs().max().item() <= 1e-5, t
    # Past the window, the output really forgets the frames that left it.
    assert (streamed[:, -1] - outputs(model, x)[:, -1]).abs().max().item() > 1e-4


@pytest.mark.parametrize("history", [5, 8, 19], ids=["inside-window", "one-window", "past-window"])
def test_window_prefill_leaves_the_state_pushing_would(history):
    model = tiny(causal=True)
    w = 8
    x = torch.randn(2, history + 4, 17, 3)
    pushed = model.streamer(2, mode="window", window=w)
    expected = push_all(pushed, x)[:, history:]  # outputs of the frames after the history
    filled = model.streamer(2, mode="window", window=w)
    filled.push(x[:, 0])
    filled.prefill(x[:, 1:3])  # in pieces, after a push, as a stream would arrive
    filled.prefill(x[:, 3:history])
    assert filled.frames == pushed.frames - 4 == history
    got = push_all(filled, x[:, history:])
    assert (got - expected).abs().max().item() <= 1e-6
    with pytest.raises(ValueError, match="batch_size=2"):
        filled.prefill(torch.zeros(3, 4, 17, 3))
    with pytest.raises(ValueError, match=r"joints=17, channels=3"):
        filled.prefill(torch.zeros(2, 17, 3))


def test_streamer_arguments_are_checked():
    with pytest.raises(RuntimeError, match="causal"):
        tiny(causal=False).streamer(1)
    model = tiny(causal=True)
    with pytest.raises(ValueError, match="mode must be 'window' or 'kv'"):
        model.streamer(1, mode="cache")
    for window in (0, 49):
        with pytest.raises(ValueError, match=r"window must be in \[1, maxlen=48\]"):
            model.streamer(1, window=window)
    with pytest.raises(ValueError, match="window is for mode='window'"):
        model.streamer(1, mode="kv", window=8)
    for mode in ("window", "kv"):
        s = model.streamer(2, mode=mode)
        assert isinstance(s, Streamer) and s.batch_size == 2
        with pytest.raises(ValueError, match="no frame-rate parameter"):
            s.push(torch.zeros(2, 17, 3), rate=0.5)
        with pytest.raises(ValueError, match="batch_size=2"):
            s.push(torch.zeros(3, 17, 3))
        with pytest.raises(ValueError, match=r"joints=17, channels=3"):
            s.push(torch.zeros(17, 3))
        assert s.frames == 0
