"""`hummuss export`: the causal HumMUSS step as an ONNX (or TorchScript) file, with the recurrent state
as explicit inputs and outputs, so any runtime can stream with it.

    hummuss export CKPT OUT.onnx [--format onnx|torchscript] [--train-fps FPS] [--task pretrain|pose3d]
    hummuss_pl.export.export_step(model, "step.onnx")          # a causal HumMUSS, from Python

CKPT       a checkpoint of PretrainTask or Pose3DTask (what `hummuss fit` writes) with a causal HumMUSS
           backbone; its backbone is exported (the same model `hummuss-stream` runs).
--format   onnx (default for any suffix but .pt) or torchscript (default for .pt; TorchScript is
           deprecated in recent PyTorch releases, ONNX is the supported path).

The exported function is one frame of B streams (B is dynamic), `models.graph.StepGraph`:

    inputs   keypoints   (B, 17, 3) float32   x, y, confidence in normalised screen units (H36M-17,
                                              as `hummuss-stream` feeds them; missing joints zeros)
             rate        (B,) float32         train_fps / fps of each stream at this frame (1: frames
                                              spaced as in training); may change at every frame
             state_0 … state_{n-1}            n = 2·depth tensors (B, 17, H, M, 2) float32: each
                                              temporal SSM's complex state as (re, im) pairs; zeros
                                              start a stream
    outputs  joints3d    (B, 17, 3) float32   `HumMUSS.step`'s 3D joints (normalised units; subtract
                                              joint 0 for root-relative poses, as `hummuss-stream` does)
             next_state_0 … next_state_{n-1}  feed them back as state_i with the next frame

The graph does not check its inputs (it cannot raise): NaN keypoints give NaN poses and a rate ≤ 0
gives garbage; check them where the frames come in. Ā and B̄ are computed from `rate` inside the graph
in float64, as the PyTorch step does (onnxruntime runs float64 on the CPU); the state and the rest of
the model are float32.

Metadata (a JSON object, `metadata`): the backbone config, the suite's version, the input, output and
state shapes, and the frame rate the model was trained at (`train_fps`: --train-fps or the checkpoint's
reference_fps; null when neither says). ONNX: metadata_props key "hummuss" (onnxruntime:
`session.get_modelmeta().custom_metadata_map["hummuss"]`); TorchScript: the archive's extra file
"hummuss.json" (`torch.jit.load(path, _extra_files={"hummuss.json": ""})`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import re
import sys
import warnings
from pathlib import Path

import torch

from hummuss_pl import __version__
from hummuss_pl.models import HumMUSS, backbone_name
from hummuss_pl.models.graph import StepGraph

FORMATS = ("onnx", "torchscript")
METADATA_KEY = "hummuss"  # ONNX metadata_props key; TorchScript extra file METADATA_KEY + ".json"
EXAMPLE_BATCH = 2  # traced with 2 streams: torch.export would fix a batch axis of size 1 to 1


class ExportError(ValueError):
    """A model or file that cannot be exported (the message says why and what to use instead)."""


def io_names(depth: int) -> tuple[list[str], list[str]]:
    """The graph's input and output names for a model of `depth` layers (2·depth state tensors)."""
    states = range(2 * depth)
    return ["keypoints", "rate", *(f"state_{i}" for i in states)], ["joints3d", *(f"next_state_{i}" for i in states)]


def metadata(graph: StepGraph, train_fps: float | None = None, source: str | None = None) -> dict:
    """What the exported file of `graph` says about itself (see the module doc)."""
    cfg = graph.model.cfg
    inputs, outputs = io_names(cfg.depth)
    state = [["batch", *shape] for shape in graph.state_shapes()]
    joints = ["batch", cfg.num_joints, cfg.in_channels]
    return {
        "format": "hummuss causal step",
        "suite_version": __version__,
        "backbone": backbone_name(cfg),
        "config": cfg.as_dict(),
        "train_fps": train_fps,
        "source": source,
        "inputs": dict(zip(inputs, [joints, ["batch"], *state])),
        "outputs": dict(zip(outputs, [["batch", cfg.num_joints, cfg.out_channels], *state])),
        "state_layout": "each temporal SSM's complex state (B, J, H, M) as float32 (re, im) pairs in the last axis; zeros start a stream",
        "rate": "train_fps / fps per stream at this frame (1: the training frame spacing)",
    }


def export_step(model: HumMUSS, path: str | Path, format: str = "onnx", train_fps: float | None = None,
                source: str | None = None) -> dict:  # fmt: skip
    """Writes the causal step of `model` (a causal HumMUSS, left unchanged) to `path` as `format`
    ("onnx" or "torchscript"); returns the metadata written with it."""
    if format not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}; got {format!r}")
    if not isinstance(model, HumMUSS):
        raise ExportError(f"export_step takes a causal HumMUSS; got {type(model).__name__} ({NO_CONSTANT_STATE})")
    if not model.cfg.causal:
        raise ExportError(BIDIRECTIONAL)
    graph = StepGraph(model)
    info = metadata(graph, train_fps, source)
    inputs, outputs = io_names(model.cfg.depth)
    state = graph.init_state(EXAMPLE_BATCH)
    example = (torch.zeros(EXAMPLE_BATCH, model.cfg.num_joints, model.cfg.in_channels), torch.ones(EXAMPLE_BATCH), *state)
    path = Path(path)
    with torch.no_grad():
        if format == "onnx":
            _write_onnx(graph, example, path, inputs, outputs, info)
        else:
            _write_torchscript(graph, example, path, info)
    return info


def _write_onnx(graph: StepGraph, example: tuple, path: Path, inputs: list[str], outputs: list[str], info: dict) -> None:
    if importlib.util.find_spec("onnxscript") is None:
        raise ExportError("ONNX export needs the onnxscript package, which torch.onnx translates through: "
                          "pip install 'hummuss-pl[export]' (or pip install onnxscript)")  # fmt: skip
    batch = torch.export.Dim("batch")
    keypoints, rate, state = {0: batch}, {0: batch}, tuple({0: batch} for _ in example[2:])  # forward(keypoints, rate, *state)
    logger = logging.getLogger("torch.onnx")  # it warns "torchvision is not installed" for torchvision's ops
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # torch.export's own use of a deprecated pytree check, and the note that every input's batch axis
            # is one axis (they are: one name, "batch")
            warnings.filterwarnings("ignore", re.escape("`isinstance(treespec, LeafSpec)` is deprecated"))
            warnings.filterwarnings("ignore", "# The axis name: batch will not be used")
            program = torch.onnx.export(graph, example, dynamo=True, input_names=inputs, output_names=outputs,
                                        dynamic_shapes=(keypoints, rate, state), verbose=False)  # fmt: skip
    finally:
        logger.setLevel(level)
    program.model.metadata_props[METADATA_KEY] = json.dumps(info)
    program.save(path, external_data=False)


def _write_torchscript(graph: StepGraph, example: tuple, path: Path, info: dict) -> None:
    with warnings.catch_warnings():
        # The tracer notes that HumMUSS.step's batch-size comparison becomes a constant (it holds for any
        # batch: inputs and state share their batch axis), and PyTorch that TorchScript is deprecated.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.jit")
        traced = torch.jit.trace(graph, example)
        torch.jit.save(traced, str(path), _extra_files={f"{METADATA_KEY}.json": json.dumps(info)})


# ---------------------------------------------------------------------------------------- `hummuss export`
NO_CONSTANT_STATE = "only a causal HumMUSS carries a constant-size state from frame to frame"
BIDIRECTIONAL = ("a bidirectional HumMUSS looks at future frames, so it cannot stream with a constant-size state: export a causal "
                 "model (HumMUSSConfig(causal=True), e.g. the hummuss-causal preset), or run `hummuss predict` on whole clips")  # fmt: skip
MOTIONBERT = ("MotionBERT attends over a window of past frames, so its state grows with the window instead of staying constant: "
              "stream it in PyTorch with `hummuss-stream` (--mode window | kv), or export a causal HumMUSS")  # fmt: skip


def fail(message: str) -> SystemExit:
    return SystemExit(f"hummuss export: {message}")


def main(argv: list[str] | None = None) -> int:
    from hummuss_pl.stream import (
        TASKS,
        OfficialMotionBERTFile,
        UnusableCheckpoint,
        read_lifting_task,
    )

    parser = argparse.ArgumentParser(prog="hummuss export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a .ckpt of a 3D lifting task with a causal HumMUSS backbone")
    parser.add_argument("out", type=Path, help="OUT.onnx, or OUT.pt for TorchScript")
    parser.add_argument("--format", choices=FORMATS, default=None, help="default: torchscript for .pt, else onnx")
    parser.add_argument("--train-fps", type=float, default=None, help="frame rate of the training data (default: the checkpoint's reference_fps)")
    parser.add_argument("--task", choices=sorted(TASKS), default=None, help="for checkpoints not written by the hummuss CLI")
    args = parser.parse_args(argv)

    fmt = args.format or ("torchscript" if args.out.suffix == ".pt" else "onnx")
    if not args.out.parent.is_dir():
        raise fail(f"{args.out}: the folder {args.out.parent} does not exist; create it first")
    if args.train_fps is not None and not args.train_fps > 0:
        raise fail(f"--train-fps must be a frame rate in Hz, > 0; got {args.train_fps}")
    try:
        task = read_lifting_task(args.checkpoint, args.task)
    except OfficialMotionBERTFile as err:
        raise fail(f"{err}. {MOTIONBERT}") from None
    except UnusableCheckpoint as err:
        raise fail(str(err)) from None
    backbone = task.backbone
    if not isinstance(backbone, HumMUSS):
        kind = "MotionBERT" if "MotionBERT" in type(backbone).__name__ else type(backbone).__name__
        reason = MOTIONBERT if kind == "MotionBERT" else NO_CONSTANT_STATE
        raise fail(f"{args.checkpoint} has a {kind} backbone: {reason}")
    if not backbone.cfg.causal:
        raise fail(f"{args.checkpoint}: {BIDIRECTIONAL}")
    train_fps = args.train_fps or getattr(task, "reference_fps", None)
    try:
        info = export_step(backbone, args.out, fmt, train_fps=train_fps, source=str(args.checkpoint))
    except ExportError as err:
        raise fail(str(err)) from None
    shape = "(B, " + ", ".join(map(str, info["inputs"]["state_0"][1:])) + ")"
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {fmt}, {size:.1f} MiB, the causal step of {info['backbone']} ({sum(p.numel() for p in backbone.parameters()):,} parameters)")
    print(f"  inputs  keypoints (B, 17, 3), rate (B,), state_0 … state_{2 * backbone.cfg.depth - 1} {shape} (zeros to start)")
    print(f"  outputs joints3d (B, 17, 3), next_state_0 … next_state_{2 * backbone.cfg.depth - 1}")
    fps = f"trained at {train_fps:g} fps: rate = {train_fps:g} / fps of the stream" if train_fps else \
        "the training frame rate is unknown (pass --train-fps to record it): rate 1 = the training frame spacing"  # fmt: skip
    print(f"  {fps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
