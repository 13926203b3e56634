"""`hummuss-data`: check a data root, write the synthetic corpus as clips, convert MotionBERT sources.

    hummuss-data check ROOT [--max-files N]      table of every dataset found under ROOT; exit 1
                                                 when a file is malformed, 2 when nothing is found
    hummuss-data synth OUT [--train N --test N --clip-len T --fps F --seed S]
                                                 OUT/motion3d/MB3D_f243s81/Synthetic/{train,test}/%08d.pkl
    hummuss-data convert-amass PKL OUT           amass_joints_h36m_60.pkl → OUT/AMASS/train (OUT = MB3D folder)
    hummuss-data convert-h36m PKL OUT            h36m_sh_conf_cam_source_final.pkl → OUT/H36M-SH/{train,test}

The layout of a data root is `registry.LAYOUT`; docs/DATA.md explains each dataset.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hummuss_pl.batch import FPS, INPUT, SCALE_MM, SOURCE, TARGET_3D

__all__ = ["main", "write_synthetic_clips"]

SYNTH_SUBSET = "Synthetic"


def write_synthetic_clips(out_root: str | Path, num_train: int, num_test: int, clip_len: int = 243, fps: float = 60.0,
                          seed: int = 0, subset: str = SYNTH_SUBSET) -> Path:
    """Writes the synthetic corpus (orthographic camera, MotionBERT's pretraining setting) into the
    clip store format under out_root/motion3d/MB3D_f243s81/<subset>, with a meta.json giving fps,
    scale_mm and source. Returns the subset folder."""
    from .motionbert_clips import SubsetInfo, write_clip, write_subset_meta
    from .registry import dataset_path
    from .synthetic import SyntheticConfig, SyntheticMotion

    subset_dir = dataset_path(out_root, "mb3d") / subset
    info = None
    for split, n in (("train", num_train), ("test", num_test)):
        if n <= 0:
            continue
        ds = SyntheticMotion(SyntheticConfig(num_clips=n, clip_len=clip_len, fps=fps, seed=seed, split=split, camera="orthographic"))
        out = subset_dir / split
        out.mkdir(parents=True, exist_ok=True)
        for start in range(0, n, 256):
            for i, sample in enumerate(ds.__getitems__(list(range(start, min(n, start + 256))))):
                write_clip(out / f"{start + i:08d}.pkl", sample[INPUT].astype("float32"), sample[TARGET_3D].astype("float32"))
                this = SubsetInfo(float(sample[FPS]), float(sample[SCALE_MM]), str(sample[SOURCE]))
                if info is None:
                    info = this
                elif abs(this.scale_mm - info.scale_mm) > 1e-6 * info.scale_mm or this.fps != info.fps:
                    raise RuntimeError(f"synthetic clips disagree on fps / scale_mm ({info} vs {this}); cannot write one meta.json")
    if info is not None:
        write_subset_meta(subset_dir, info)
    return subset_dir


def _check(args) -> int:
    from rich.console import Console

    from .check import check_root, render_lines, render_table

    console = Console()
    root = Path(args.root)
    if not root.is_dir():
        console.print(f"[bold red]{root} is not a folder[/]: pass the data root (see docs/DATA.md)")
        return 2
    with console.status("checking ...") as status:
        results = check_root(root, args.max_files, on_dataset=lambda name: status.update(f"checking {name} ..."))
    if not results:
        console.print(f"[yellow]no supported dataset found under {root}[/]; expected layout: docs/DATA.md")
        return 2
    if sys.stdout.isatty():
        console.print(render_table(results, root))
    else:  # a log file: plain lines, whole paths (a table would wrap them at 80 columns)
        print("\n".join(render_lines(results, root)))
    bad = [r.dataset for r in results if r.status == "malformed"]
    if bad:
        console.print(f"[bold red]malformed: {', '.join(bad)}[/]")
        return 1
    return 0


def _synth(args) -> int:
    try:
        subset = write_synthetic_clips(args.out, args.train, args.test, args.clip_len, args.fps, args.seed, args.subset)
    except ImportError as e:
        print(f"hummuss-data synth: the synthetic corpus is not available ({e})", file=sys.stderr)
        return 1
    print(f"wrote {args.train} train and {args.test} test clips to {subset}")
    return 0


def _convert_amass(args) -> int:
    from .amass import convert_amass

    print(convert_amass(args.pkl, args.out, args.clip_len, args.stride).summary())
    return 0


def _convert_h36m(args) -> int:
    from .h36m import convert_h36m

    for split, rep in convert_h36m(args.pkl, args.out, args.clip_len, args.stride_train, args.stride_test).items():
        print(f"{split}: {rep.summary()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hummuss-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="find and validate every supported dataset under ROOT")
    c.add_argument("root")
    c.add_argument("--max-files", type=int, default=None, help="clip-store pickles to open per split (default: all)")
    c.set_defaults(func=_check)
    s = sub.add_parser("synth", help="write the synthetic corpus in MotionBERT's clip format")
    s.add_argument("out", help="a data root; clips go to OUT/motion3d/MB3D_f243s81/<subset>/")
    s.add_argument("--train", type=int, default=1024, help="train clips")
    s.add_argument("--test", type=int, default=128, help="test clips")
    s.add_argument("--clip-len", type=int, default=243)
    s.add_argument("--fps", type=float, default=60.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--subset", default=SYNTH_SUBSET)
    s.set_defaults(func=_synth)
    a = sub.add_parser("convert-amass", help="amass_joints_h36m_60.pkl → MB3D_f243s81/AMASS/train")
    a.add_argument("pkl")
    a.add_argument("out", help="the MB3D_f243s81 folder")
    a.add_argument("--clip-len", type=int, default=243)
    a.add_argument("--stride", type=int, default=81)
    a.set_defaults(func=_convert_amass)
    h = sub.add_parser("convert-h36m", help="h36m_sh_conf_cam_source_final.pkl → MB3D_f243s81/H36M-SH/{train,test}")
    h.add_argument("pkl")
    h.add_argument("out", help="the MB3D_f243s81 folder")
    h.add_argument("--clip-len", type=int, default=243)
    h.add_argument("--stride-train", type=int, default=81)
    h.add_argument("--stride-test", type=int, default=None, help="default: the clip length (non-overlapping)")
    h.set_defaults(func=_convert_h36m)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
