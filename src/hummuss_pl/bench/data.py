"""Throughput of the pretraining data pipeline: loader (read or render, collate) + corruption.

    python -m hummuss_pl.bench.data                          # synthetic 243-frame clips
    python -m hummuss_pl.bench.data --data-root /data --sources amass mpi_inf_3dhp posetrack instavariety
    python -m hummuss_pl.bench.data --workers 0 2 4

It runs the real PretrainDataModule train loader (one source per batch, as in training) and applies
the training corruption (flip, noise, masking) to every batch as the trainer would, then reports
clips per second for each number of loader workers. Compare with the model's clips/s to see
whether data loading can starve training.
"""

from __future__ import annotations

import argparse
import time

import torch

from hummuss_pl.batch import CLEAN_INPUT
from hummuss_pl.data.corruption import CorruptionConfig, corrupt_batch
from hummuss_pl.data.modules import Phase, PretrainDataModule, SourceConfig


def measure(datamodule: PretrainDataModule, batches: int, corruption: CorruptionConfig) -> float:
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    gen = torch.Generator().manual_seed(0)
    clips, started = 0, None
    for i, batch in enumerate(loader):
        if i == 1:  # the first batch pays for starting the workers
            started, clips = time.perf_counter(), 0
        batch = corrupt_batch(batch, corruption, CLEAN_INPUT, generator=gen)
        clips += batch["input"].shape[0]
        if i == batches:
            break
    if started is None:
        raise RuntimeError("the loader gave fewer than 2 batches; use more data or a smaller batch size")
    return clips / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=None, help="data root (docs/DATA.md); default: the synthetic corpus")
    parser.add_argument("--sources", nargs="+", default=["synthetic"])
    parser.add_argument("--clip-len", type=int, default=243)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args(argv)
    sources = [
        SourceConfig(name, clip_len=args.clip_len if name in ("synthetic", "mpi_inf_3dhp") else None,
                     options={"num_clips": args.batch_size * (args.batches + 2)} if name == "synthetic" else {})
        for name in args.sources
    ]  # fmt: skip
    corruption = CorruptionConfig()
    print(f"torch threads: {torch.get_num_threads()}; batch {args.batch_size}; sources {args.sources}")
    for workers in args.workers:
        dm = PretrainDataModule(sources=sources, phases=[Phase(0, tuple(args.sources))], data_root=args.data_root,
                                batch_size=args.batch_size, num_workers=workers)  # fmt: skip
        rate = measure(dm, args.batches, corruption)
        print(f"workers {workers}: {rate:8.0f} clips/s (loader + corruption, {args.clip_len}-frame synthetic clips)" if args.data_root is None
              else f"workers {workers}: {rate:8.0f} clips/s (loader + corruption)")  # fmt: skip


if __name__ == "__main__":
    main()
