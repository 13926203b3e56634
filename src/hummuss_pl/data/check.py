"""`hummuss-data check ROOT`: every dataset of the registry that is under ROOT, read fully by its
own reader (`DatasetLayout.check`), one row each: files, clips per split, problems, status."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from .common import CheckResult, MissingDataError
from .layout import DatasetLayout
from .registry import LAYOUT

__all__ = ["check_root", "render_lines", "render_table"]


def check_root(root: str | os.PathLike, max_files: int | None = None, on_dataset: Callable[[str], None] | None = None) -> list[CheckResult]:
    """Finds every dataset of the registry's LAYOUT under `root` and reads it fully with its reader
    (clip-store pickles: all, or the first `max_files` per split). Datasets that are absent are not
    listed; every failure becomes a problem in its row, never an exception."""
    root = Path(root)
    if not root.is_dir():
        raise MissingDataError("data root", root)
    readers_log = logging.getLogger(__package__)
    level = readers_log.level
    readers_log.setLevel(logging.ERROR)  # drops are shown in the table, not as warnings
    try:
        results: list[CheckResult] = []
        for layout in LAYOUT.values():
            path = root / layout.path
            present = [f for f in layout.files if (root / f).exists()]
            if not path.exists() and not present:
                continue
            if on_dataset is not None:
                on_dataset(layout.title)
            if not path.exists():
                results.append(CheckResult(layout.title, [str(root / f) for f in present], problems=[f"missing {layout.path}"],
                                           status="incomplete"))  # fmt: skip
                continue
            results += _check_one(layout, root, max_files)
        return results
    finally:
        readers_log.setLevel(level)


def _check_one(layout: DatasetLayout, root: Path, max_files: int | None) -> list[CheckResult]:
    row = CheckResult(layout.title, files=[f for f in layout.files if (root / f).exists()] or [layout.path])
    missing = [f for f in layout.files if not (root / f).exists()]
    if missing:
        row.status = "incomplete"
        row.problems += [f"missing {f}" for f in missing]
    if layout.check is None:
        return [row]
    try:
        return layout.check(root / layout.path, row, max_files)
    except Exception as e:  # noqa: BLE001 - every failure is reported in the table
        row.fail(e)
        return [row]


def render_table(results: list[CheckResult], root: str | os.PathLike):
    """A rich Table of the results."""
    from rich.table import Table

    table = Table(title=f"datasets under {root}", show_lines=True)
    for col in ("dataset", "files", "clips / frames per split", "problems", "status"):
        table.add_column(col, overflow="fold")
    colour = {"ok": "green", "incomplete": "yellow", "malformed": "bold red"}
    for r in results:
        table.add_row(
            r.dataset,
            "\n".join(r.files),
            "\n".join(f"{k}: {v}" for k, v in r.splits.items()) or "-",
            "\n".join(r.problems) or "-",
            f"[{colour[r.status]}]{r.status}[/]",
        )
    return table


def render_lines(results: list[CheckResult], root: str | os.PathLike) -> list[str]:
    """The results as plain lines for logs (no table, no wrapping): one per dataset, then one per
    problem, paths whole."""
    lines = [f"datasets under {root}:"]
    for r in results:
        splits = "; ".join(f"{k}: {v}" for k, v in r.splits.items()) or "-"
        lines.append(f"{r.status:10s} {r.dataset} [{', '.join(r.files)}] {splits}")
        lines += [f"{'':10s}   problem: {p}" for p in r.problems]
    return lines
