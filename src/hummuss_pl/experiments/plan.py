"""What the report trains, at two scales.

quick  (`make report`): 3D pose lifting on the synthetic corpus, backbones of ~100k parameters each
       (experiments/report/backbones/*.yaml), the budget of experiments/report/quick.yaml, 3 seeds.
paper  (`make report DATA_ROOT=/data`): MPI-INF-3DHP from scratch with the paper's 16M backbones
       (experiments/finetune/pose3d_3dhp_scratch.yaml), 3 seeds; expect GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .runs import Job, seed_args

BACKBONES = ("hummuss_causal", "hummuss_bidirectional", "motionbert_causal", "motionbert_bidirectional")
FLOOR = "framewise"
LABELS = {
    "hummuss_causal": "HumMUSS causal",
    "hummuss_bidirectional": "HumMUSS bidirectional",
    "motionbert_causal": "MotionBERT causal",
    "motionbert_bidirectional": "MotionBERT bidirectional",
    "framewise": "per-frame MLP (floor)",
}
PAPER_PRESETS = {
    "hummuss_causal": "hummuss-causal",
    "hummuss_bidirectional": "hummuss-bidirectional",
    "motionbert_causal": "motionbert-lite-causal",
    "motionbert_bidirectional": "motionbert-lite",
    "framewise": "framewise-small",
}
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Scale:
    name: str  # "quick" or "paper"
    data_root: str | None = None
    seeds: tuple[int, ...] = SEEDS
    extra: tuple[str, ...] = ()  # more `hummuss fit` arguments for every run (smoke tests: a smaller budget)

    @classmethod
    def of(cls, data_root: str | None, seeds: tuple[int, ...] = SEEDS, extra: tuple[str, ...] = ()) -> Scale:
        return cls("paper" if data_root else "quick", data_root, tuple(seeds), tuple(extra))

    @property
    def data(self) -> str:
        return f"MPI-INF-3DHP under {self.data_root}" if self.data_root else "the synthetic corpus (no real data)"

    def backbone_args(self, cell: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The `hummuss fit` arguments of a backbone `cell` at this scale (without the seed)."""
        if self.name == "quick":
            return ("--config", "experiments/report/quick.yaml", "--config", f"experiments/report/backbones/{cell}.yaml", *extra)
        anchor = "last" if "causal" in cell or cell == FLOOR else "center"
        return ("--config", "experiments/finetune/pose3d_3dhp_scratch.yaml", "--data.init_args.data_root", str(self.data_root),
                "--model.init_args.backbone", PAPER_PRESETS[cell], "--data.init_args.anchor", anchor, *extra)  # fmt: skip

    def jobs(self, experiment: str, cells: dict[str, tuple[str, ...]]) -> list[Job]:
        """One job per (cell, seed): cells map a name to its `hummuss fit` arguments."""
        group = f"report/{experiment}"
        return [Job(f"report/{self.name}/{experiment}/{cell}", f"seed{seed}", (*args, *seed_args(seed), *self.extra), group)
                for cell, args in cells.items() for seed in self.seeds]  # fmt: skip
