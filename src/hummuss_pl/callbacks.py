"""Callbacks shared by the tasks and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

__all__ = ["PredictionWriter", "gather_predictions"]


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
