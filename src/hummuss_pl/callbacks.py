"""Callbacks shared by the tasks and the CLI."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, Callback, ProgressBar

__all__ = ["MetricsFile", "PlainProgress", "PredictionWriter", "RunContext", "gather_predictions"]


class RunContext(Callback):
    """Adds to an error that stops a run where in the run it happened ("during training, epoch 2,
    step 57"), so that a data error read lazily mid-epoch names the step as well as the file."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
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
        self._write(trainer, pl_module)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not trainer.sanity_checking:
            self._write(trainer, pl_module)

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
    share as `predictions-rank<r>.pt`; "index" maps rows back to dataset items."""

    def __init__(self, output_dir: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = Path(output_dir)
        self.written: list[Path] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Every rank writes to rank 0's directory: ranks that torchrun or srun started next to rank 0 may
        # have been configured with another one (`cli.shared_run_dir`).
        self.output_dir = Path(trainer.strategy.broadcast(str(self.output_dir)))

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
