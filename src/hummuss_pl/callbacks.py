"""Callbacks shared by the tasks and the CLI: prediction files, and what keeps a run's record true
(checkpoints verified once written, a resumable checkpoint on SIGTERM, the global random state in
every checkpoint)."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import (
    BasePredictionWriter,
    ModelCheckpoint,
    ProgressBar,
)

from hummuss_pl.batch import FPS, HAS_3D, INPUT, SOURCE, TARGET_3D
from hummuss_pl.data.common import DataFormatError, MissingDataError
from hummuss_pl.metrics import root_relative
from hummuss_pl.models import CheckpointFileError, read_checkpoint

__all__ = [
    "CheckpointWriteError",
    "GlobalRandomState",
    "InterruptedBySignal",
    "MetricsFile",
    "PlainProgress",
    "PredictionWriter",
    "RunContext",
    "StopOnSigterm",
    "VerifiedModelCheckpoint",
    "gather_predictions",
    "verify_written",
]


class RunContext(Callback):
    """Adds to a data error that stops a run where in the run it happened ("during train, epoch 2,
    step 57"): files read lazily (the clip store) fail mid-epoch, and the step says how far it got."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        chain, seen = [], set()
        error: BaseException | None = exception
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            chain.append(error)
            error = error.__cause__ or error.__context__
        # a data error, or one re-raised from a DataLoader worker (its text names the worker's error type)
        if any(isinstance(e, (DataFormatError, MissingDataError)) or "DataFormatError" in str(e) for e in chain):
            stage = trainer.state.stage.value if trainer.state.stage is not None else "the run"
            exception.add_note(f"(during {stage}, epoch {trainer.current_epoch}, step {trainer.global_step})")


class PlainProgress(ProgressBar):
    """The progress report for logs (SLURM, nohup, `make pretrain > log`), where a live progress bar
    prints nothing readable: one plain line per epoch (epoch, curriculum phase, steps, mean training
    loss, validation metrics, training time and samples/s, epoch time with validation), a line at
    most every `every_minutes` within a long
    epoch, and the metrics of `validate` / `test` runs. The `hummuss` CLI uses it in place of the rich
    bar whenever standard output is not a terminal."""

    def __init__(self, every_minutes: float = 5.0) -> None:
        super().__init__()
        if not every_minutes > 0:
            raise ValueError(f"PlainProgress.every_minutes must be > 0; got {every_minutes}")
        self.every = 60.0 * every_minutes
        self._enabled = True
        self._epoch_start = self._last_line = self._train_seconds = 0.0
        self._losses: list[float] = []
        self._samples = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _print(self, trainer: Trainer, text: str) -> None:
        if self._enabled and trainer.is_global_zero:
            print(text, flush=True)

    @staticmethod
    def _metrics(trainer: Trainer, prefixes: tuple[str, ...]) -> str:
        items = sorted((k, v) for k, v in trainer.callback_metrics.items() if k.startswith(prefixes))
        return ", ".join(f"{k} {float(v):.4g}" for k, v in items)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._epoch_start = self._last_line = time.monotonic()
        self._losses, self._samples = [], 0

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self._losses.append(float(loss.detach()))
        self._samples += _batch_len(batch)
        now = time.monotonic()
        self._train_seconds = now - self._epoch_start
        if now - self._last_line >= self.every:
            self._last_line = now
            self._print(trainer, f"epoch {trainer.current_epoch}: step {batch_idx + 1}/{self.total_train_batches}, "
                                 f"train/loss {self._mean_loss():.4g}, {now - self._epoch_start:.0f} s")  # fmt: skip

    def _mean_loss(self) -> float:
        return sum(self._losses) / len(self._losses) if self._losses else float("nan")

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seconds = time.monotonic() - self._epoch_start
        datamodule = getattr(trainer, "datamodule", None)
        phases, index = getattr(datamodule, "phases", None), getattr(datamodule, "phase_index", None)
        phase = f" (phase {index + 1}/{len(phases)})" if phases and index is not None and len(phases) > 1 else ""
        metrics = self._metrics(trainer, ("val/",))
        rate = self._samples / max(self._train_seconds, 1e-9)
        self._print(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}{phase}: {len(self._losses)} steps "
                             f"in {self._train_seconds:.0f} s ({rate:.1f} samples/s), train/loss {self._mean_loss():.4g}"
                             + (f", {metrics}" if metrics else "") + f"; epoch {seconds:.0f} s with validation")  # fmt: skip

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._print(trainer, f"validation: {self._metrics(trainer, ('val/',))}")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._print(trainer, f"test: {self._metrics(trainer, ('test/',))}")


class MetricsFile(Callback):
    """Every run's numbers beside its checkpoints, readable without W&B: `metrics-<stage>.csv`, one row
    per training epoch (epoch, step, seconds, every logged metric), and `metrics-<stage>.json`
    {"stage", "seconds", "epochs": [rows], "final": {metric: value}, "best": {metric, mode, value,
    epoch} (fit)}. `hummuss report` and the experiments read these. Rank 0 writes; metrics under DDP
    are the synchronised ones Lightning logs."""

    def __init__(self, output_dir: str | Path, stage: str) -> None:
        self.output_dir, self.stage = Path(output_dir), stage
        self.rows: list[dict[str, float]] = []
        self._start = time.monotonic()

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.output_dir = Path(trainer.strategy.broadcast(str(self.output_dir)))
        self._start = time.monotonic()

    @staticmethod
    def _numbers(trainer: Trainer) -> dict[str, float]:
        return {k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if v.numel() == 1}

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.rows.append({"epoch": trainer.current_epoch, "step": trainer.global_step,
                          "seconds": round(time.monotonic() - self._start, 3)} | self._numbers(trainer))  # fmt: skip

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Written here, after the previous epoch's checkpoints (Lightning runs checkpoint callbacks last):
        # a run directory that cannot be written stops the run with the checkpoint's own error first.
        if self.rows:
            self._write(trainer, pl_module)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.sanity_checking:
            return
        try:
            self._write(trainer, pl_module)
        except OSError as err:  # the run is ending (maybe on that very error): say so, do not hide the first one
            print(f"warning: the run's metrics could not be written to {self.output_dir}: {err}", file=sys.stderr)

    def _write(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        summary: dict[str, Any] = {"stage": self.stage, "seconds": round(time.monotonic() - self._start, 3),
                                   "epochs": self.rows, "final": self._numbers(trainer)}  # fmt: skip
        metric, mode = getattr(pl_module, "monitor", (None, None))
        scored = [r for r in self.rows if metric in r]
        if scored:
            best = (min if mode == "min" else max)(scored, key=lambda r: r[metric])
            summary["best"] = {"metric": metric, "mode": mode, "value": best[metric], "epoch": best["epoch"]}
        (self.output_dir / f"metrics-{self.stage}.json").write_text(json.dumps(summary, indent=1))
        if self.rows:
            columns = list(dict.fromkeys(k for r in self.rows for k in r))
            with open(self.output_dir / f"metrics-{self.stage}.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.rows)


def _batch_len(batch: Any) -> int:
    """Samples in a batch: the length of its first tensor (sample dicts) or of the batch itself."""
    if isinstance(batch, dict):
        batch = next((v for v in batch.values() if isinstance(v, torch.Tensor)), [])
    return len(batch) if hasattr(batch, "__len__") else 0


# ------------------------------------------------------------------------------------ checkpoints written
class CheckpointWriteError(RuntimeError):
    """A checkpoint the run meant to write is not on disk as written."""


def written_problem(path: Path, step: int) -> str | None:
    """What is wrong with checkpoint `path` that should hold global step `step`, or None: it must exist,
    be readable as a checkpoint and hold that step (an older file left by a failed write does not)."""
    if not path.is_file():
        return "the file does not exist after saving"
    try:
        saved = read_checkpoint(path, weights_only=False)  # written by this run a moment ago
    except CheckpointFileError as err:
        return str(err)
    saved_step = saved.get("global_step") if isinstance(saved, dict) else None
    if saved_step != step:
        return f"it holds step {saved_step}, not the step just saved ({step}): the write failed and an older file remains"
    return None


def verify_written(trainer: Trainer, path: str | Path) -> None:
    """Checks on rank 0, which writes checkpoints, that `path` was written at the trainer's current step;
    every rank raises CheckpointWriteError naming the file if not (a collective: call it on all ranks)."""
    path = Path(trainer.strategy.broadcast(str(path)))
    problem = written_problem(path, trainer.global_step) if trainer.is_global_zero else None
    problem = trainer.strategy.broadcast(problem)
    if problem:
        raise CheckpointWriteError(
            f"checkpoint {path} was not written ({problem}); check that {path.parent}/ is writable and its disk has "
            "space. Training stopped so that no more steps go unrecorded"
        )


class VerifiedModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint (same arguments) whose checkpoints are what it reports:

    - every file it writes is read back (`verify_written`), and the run stops with CheckpointWriteError
      naming it when it is not there as written: Lightning's save ignores some failed writes (a
      PermissionError in a read-only directory), after which the run would report checkpoints that do
      not exist;
    - with `save_last=True`, last.ckpt is written at every point where checkpoints are considered (each
      epoch's end or validation), not only when a best checkpoint is: Lightning 2.6 writes it only then,
      so after epochs without a better metric last.ckpt, and `--ckpt_path last`, went back to the last
      improvement.

    Built on ModelCheckpoint's private save methods (lightning 2.6, pinned below 2.7; tests hold both).
    """

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        verify_written(trainer, filepath)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_not_saved(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_not_saved(trainer)

    def _save_last_if_not_saved(self, trainer: Trainer) -> None:
        """last.ckpt at this step, unless a checkpoint (with its last.ckpt copy) was written at it already."""
        if self.save_last is True and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


# ------------------------------------------------------------------------------------ SIGTERM
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM  # 143: what a shell reports for a process the signal ended


class InterruptedBySignal(SystemExit):
    """Ends a fit stopped by SIGTERM once its resumable checkpoint is written: the process exits with
    status 143, so that a scheduler or script sees an interrupted run, not a finished one."""

    def __init__(self) -> None:
        super().__init__(SIGTERM_EXIT_STATUS)


class StopOnSigterm(Callback):
    """On SIGTERM (`kill`, `scancel`, SLURM's notice before a time limit, a preempting orchestrator) training
    stops after the optimizer step in progress: the checkpoint `path` is written at that step and verified,
    one line says where, and the process exits with status 143. `--ckpt_path last` resumes it exactly:
    the data continue at the next batch of the same epoch (the data module's state), weights, optimiser,
    scheduler and global random state are the checkpoint's.

    Lightning's own SIGTERM handling is replaced while training runs (it stops with exit status 0 and
    saves nothing). Under DDP the ranks agree after every batch (one all-reduce of a flag) on whether
    any of them received the signal, so all stop at the same step; the ranks Lightning started itself
    get the signal forwarded. A signal during an epoch's last batch lets the epoch end (validation,
    the end-of-epoch checkpoint) and stops after the next step; one during the last epoch's last batch
    lets training finish normally.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.received = False
        self._trainer: Trainer | None = None  # while our handler is installed

    def on_sanity_check_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._install(trainer)  # Lightning registers its own handler just before; a signal now stops at step 1

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._install(trainer)

    def _install(self, trainer: Trainer) -> None:
        # In place of the handler Lightning registered for this run; Lightning's teardown (on success and on
        # exceptions alike) puts back the one from before the run.
        if self._trainer is None and threading.current_thread() is threading.main_thread():
            self._trainer = trainer
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        launcher = self._trainer.strategy.launcher if self._trainer is not None else None
        if not self.received and launcher is not None:
            launcher.kill(signum)  # the ranks Lightning started from this process stop at the same step
        self.received = True

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._trainer = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not trainer.strategy.reduce_boolean_decision(self.received, all=False) or not self._can_stop_here(trainer):
            return
        trainer.save_checkpoint(self.path)
        verify_written(trainer, self.path)
        if trainer.is_global_zero:
            batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            print(f"hummuss: stopped by SIGTERM after step {trainer.global_step} (epoch {trainer.current_epoch}, batch {batches} of "
                  f"{trainer.num_training_batches}); resumable checkpoint: {self.path} (add --ckpt_path last to the same "
                  f"command to continue); exit status {SIGTERM_EXIT_STATUS}", file=sys.stderr, flush=True)  # fmt: skip
        raise InterruptedBySignal()

    @staticmethod
    def _can_stop_here(trainer: Trainer) -> bool:
        """After an optimizer step (not inside gradient accumulation), and not at the epoch's last batch,
        whose validation and end-of-epoch checkpoint still follow."""
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return done < trainer.num_training_batches and done % trainer.accumulate_grad_batches == 0

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.received and trainer.is_global_zero:
            print("hummuss: SIGTERM arrived after the last step that could stop early (the last epoch's last batch or "
                  "validation); training has finished and its checkpoints are complete", file=sys.stderr, flush=True)  # fmt: skip


# ------------------------------------------------------------------------------------ random state
class GlobalRandomState(Callback):
    """Keeps torch's global random state (CPU, and this process's CUDA device) in every checkpoint and
    restores it when a fit resumes from one, so that what draws from it (dropout in the task heads)
    continues as in an uninterrupted run. The data pipeline has its own seeded generators
    (data/sampling.py). All ranks restore rank 0's state: seeded alike and drawing alike, the ranks'
    states are equal."""

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        return {"torch": torch.get_rng_state(), "cuda": cuda}

    def load_state_dict(self, state: dict[str, torch.Tensor | None]) -> None:
        torch.set_rng_state(state["torch"])
        if state.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"])


# ------------------------------------------------------------------------------------ predictions
def gather_predictions(batches: list[dict[str, Any]], indices: list[list[int]] | None = None) -> dict[str, Any]:
    """Per-batch prediction dicts → one dict of per-sample entries: tensors concatenated along dim 0,
    other values (e.g. lists of source names) joined into one list. `indices`: each batch's sample
    indices in the predicted dataset, stored under "index" (N,) when there is one per sample."""
    if not batches:
        return {}
    keys = list(batches[0])
    for i, batch in enumerate(batches):
        if list(batch) != keys:
            raise ValueError(f"prediction batch {i} has keys {list(batch)}, batch 0 has {keys}")
    out: dict[str, Any] = {}
    for key in keys:
        values = [b[key] for b in batches]
        if isinstance(values[0], torch.Tensor):
            out[key] = torch.cat([v.reshape(1) if v.ndim == 0 else v for v in values])
        else:
            out[key] = [item for v in values for item in v]
    flat = [i for batch in indices or [] for i in batch]
    first = next(iter(out.values()))
    if flat and len(flat) == len(first):
        out["index"] = torch.tensor(flat, dtype=torch.long)
    return out


class PredictionWriter(BasePredictionWriter):
    """Writes what `trainer.predict` (`hummuss predict`) returns to `<output_dir>/predictions.pt`:
    `gather_predictions` of the per-batch dicts of the task's `predict_step` (one file per
    dataloader, `predictions-<i>.pt`, when there are several). Under DDP every rank writes its own
    share as `predictions-rank<r>.pt`; "index" maps rows back to dataset items.

    output_dir: where the files go (default: the trainer's default_root_dir, which the hummuss CLI
        sets to the run directory).
    render: draw the first N predicted clips (rank 0) as `<output_dir>/render/clip-<index>.<render_format>`,
        index the item in the predicted dataset: per frame the 2D input beside the predicted 3D skeleton,
        the ground truth dashed where the clip has one (`render`). For tasks that predict whole clips,
        "pose_3d" (B, T, 17, 3) (pretraining); 0: none.
    render_format: gif, mp4 (needs ffmpeg) or png (each clip's middle frame).
    """

    def __init__(self, output_dir: str | Path | None = None, render: int = 0, render_format: str = "gif") -> None:
        super().__init__(write_interval="epoch")
        if isinstance(render, bool) or not isinstance(render, int) or render < 0:
            raise ValueError(f"PredictionWriter.render is the number of clips to draw, an integer >= 0; got {render!r}")
        if render:
            from hummuss_pl.render import check_output

            check_output(Path(f"clip.{render_format}"))  # ValueError naming the formats, or mp4 without ffmpeg
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.render, self.render_format = render, render_format
        self.written: list[Path] = []
        self.rendered: list[Path] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Every rank writes to rank 0's directory: ranks that torchrun or srun started next to rank 0 may
        # have been configured with another one (`cli.shared_run_dir`).
        own = self.output_dir if self.output_dir is not None else trainer.default_root_dir
        self.output_dir = Path(trainer.strategy.broadcast(str(own)))

    def on_predict_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:  # fmt: skip
        super().on_predict_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
        if len(self.rendered) < self.render and trainer.is_global_zero:
            self._render_clips(pl_module, outputs, batch, trainer.predict_loop.current_batch_indices)

    def _render_clips(self, pl_module: LightningModule, outputs: Any, batch: dict, indices: list[int] | None) -> None:
        """Draws the clips of one predicted batch until `render` clips are written."""
        from hummuss_pl import render

        pose = outputs.get("pose_3d") if isinstance(outputs, dict) else None
        if not isinstance(pose, torch.Tensor) or pose.dim() != 4:
            found = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
            raise ValueError(f"PredictionWriter.render draws predicted clips ('pose_3d' (B, T, 17, 3), what PretrainTask "
                             f"predicts); {type(pl_module).__name__} predicts {found}: set render to 0")  # fmt: skip
        has_3d = batch.get(HAS_3D)
        for i in range(len(pose)):
            if len(self.rendered) >= self.render:
                return
            index = int(indices[i]) if indices is not None and len(indices) == len(pose) else len(self.rendered)
            target = root_relative(batch[TARGET_3D][i]) if has_3d is not None and bool(has_3d[i]) else None
            clip = render.Clip(
                pose[i].float().cpu().numpy(), batch[INPUT][i].float().cpu().numpy(), fps=float(batch[FPS][i]) if FPS in batch else None,
                label=f"{batch[SOURCE][i]} item {index}" if SOURCE in batch else f"item {index}",
                target_3d=target.float().cpu().numpy() if target is not None else None,
            )  # fmt: skip
            path = self.output_dir / "render" / f"clip-{index:05d}.{self.render_format}"
            render.write(clip, path)
            self.rendered.append(path.absolute())

    def write_on_epoch_end(self, trainer, pl_module, predictions: list, batch_indices: list) -> None:
        # Lightning unwraps `predictions` for a single dataloader but always nests batch_indices per loader.
        several = bool(predictions) and isinstance(predictions[0], list)
        per_loader = predictions if several else [predictions]
        per_loader_indices = batch_indices if batch_indices else [None] * len(per_loader)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        rank = f"-rank{trainer.global_rank}" if trainer.world_size > 1 else ""
        for i, (batches, indices) in enumerate(zip(per_loader, per_loader_indices, strict=True)):
            name = f"predictions{'' if len(per_loader) == 1 else f'-{i}'}{rank}.pt"
            path = (self.output_dir / name).absolute()
            torch.save(gather_predictions(batches, indices), path)
            self.written.append(path)
