"""What the benchmarks share (`bench.streaming`, `bench.training`): timing, peak memory, a fresh
process per configuration, a busy core for measurements under load, and the table/plot styling.

Peak memory, measured inside one worker process (`memory_method` says which, for the JSON and
the table titles):
  CUDA: torch.cuda.max_memory_allocated() since `memory_baseline` (weights included).
  CPU:  peak resident set size (ru_maxrss) minus the RSS at `memory_baseline` (taken just before
        the model is built), so weights, activations, gradients, optimizer states, caches are
        included and the torch runtime is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

# --------------------------------------------------------------------------------- measurement


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory_method(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda: torch.cuda.max_memory_allocated (weights included)"
    return "cpu: peak RSS (ru_maxrss) minus RSS before the model was built"


def memory_baseline(device: torch.device) -> int:
    """Call just before building the model: resets CUDA's peak counter, returns the RSS (CPU baseline)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return rss_bytes()


def peak_memory_bytes(device: torch.device, baseline: int) -> int:
    """Peak memory since `memory_baseline` returned `baseline` (see `memory_method`)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline


def seconds(call: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of one call, the device synchronised on both sides."""
    sync(device)
    t0 = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - t0


def time_within_budget(call: Callable[[int], object], repeats: int, budget_s: float, device: torch.device) -> list[float]:
    """Times call(0), call(1), … : `repeats` calls, fewer once `budget_s` seconds are spent (at least one)."""
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget_s):
        k = len(times)
        times.append(seconds(lambda k=k: call(k), device))
    return times


def median(values: list[float]) -> float:
    """The upper median (the middle of an odd count), as the benchmarks report it."""
    return sorted(values)[len(values) // 2]


# --------------------------------------------------------------------------------- the machine


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_info(device: str) -> dict:
    """{"cpu": model name} for a CPU run, {"gpu": device name} for a CUDA one."""
    if torch.device(device).type == "cpu":
        return {"cpu": cpu_name()}
    if torch.cuda.is_available():
        return {"gpu": torch.cuda.get_device_name()}
    return {}


def watch_rss(limit_bytes: int, baseline: int, on_exceed: Callable[[int], object], interval_s: float = 0.05) -> threading.Thread:
    """Calls on_exceed(growth) from a daemon thread, once, when this process's RSS has grown by more
    than `limit_bytes` over `baseline` (checked every `interval_s`; a single allocation larger than
    the machine can hold may still reach the OS's out-of-memory killer first)."""

    def watch() -> None:
        while True:
            growth = rss_bytes() - baseline
            if growth > limit_bytes:
                on_exceed(growth)
                return
            time.sleep(interval_s)

    thread = threading.Thread(target=watch, name="watch_rss", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def busy_core(enabled: bool = True) -> Iterator[None]:
    """Keeps one core busy (a spinning Python process) for the duration of the block: the load a
    data-loader worker or another user puts on the machine. Started before, killed after."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


# --------------------------------------------------------------------------------- fresh processes


class WorkerError(RuntimeError):
    """A benchmark worker that did not hand back a result. `kind`: "exit" (non-zero exit status,
    e.g. an uncaught exception), "signal" (killed, e.g. by the OS's out-of-memory killer),
    "timeout" (ran past its time limit, killed here); `reason` is one line for a report,
    `stderr` the worker's last words."""

    def __init__(self, spec: dict, kind: str, reason: str, stderr: str) -> None:
        self.spec, self.kind, self.reason, self.stderr = spec, kind, reason, stderr
        super().__init__(f"benchmark worker failed for {spec}: {reason}\n{stderr[-3000:]}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def run_isolated(module: str, spec: dict, timeout_s: float | None = None) -> dict:
    """Runs `python -m module --worker JSON(spec)` in a fresh process, so that nothing (peak
    memory counters, allocator caches, compiled code, threads) leaks from one configuration into
    the next, and returns the JSON object the worker prints last. Raises WorkerError (a clear
    reason and the worker's stderr) when it exits non-zero, is killed by a signal or runs past
    `timeout_s` (then it is killed here)."""
    cmd = [sys.executable, "-m", module, "--worker", json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        kind, reason = "", ""
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kind, reason = "timeout", f"ran past its time limit of {timeout_s:.0f} s and was stopped"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if not kind and proc.returncode < 0:
        sig = -proc.returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "unknown signal"
        oom = " (the OS's out-of-memory killer?)" if sig == signal.SIGKILL else ""
        kind, reason = "signal", f"worker killed by signal {sig} ({name}){oom}"
    elif not kind and proc.returncode > 0:
        kind, reason = "exit", f"worker exited with status {proc.returncode}: {_last_line(stderr) or 'no message'}"
    if kind:
        raise WorkerError(spec, kind, reason, stderr)
    try:
        return json.loads(_last_line(stdout))
    except json.JSONDecodeError:
        raise WorkerError(spec, "exit", f"worker printed no JSON result (last line: {_last_line(stdout)[:200]!r})", stderr) from None


# --------------------------------------------------------------------------------- tables and plots


def console(width: int = 120):
    from rich.console import Console

    return Console(width=width)


def table(title: str, columns: list[str] | tuple[str, ...]):
    """A rich table with right-justified columns (figures line up)."""
    from rich.table import Table

    out = Table(title=title)
    for col in columns:
        out.add_column(col, justify="right")
    return out


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_axes(ax, xlabel: str, legend: bool = True) -> None:
    """Log-log axes with a light grid, as every benchmark plot has."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(True, which="both", alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend()


def save_figure(fig, path: Path, dpi: int = 120) -> None:
    """Lays out, writes (creating the folder) and closes `fig`."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
