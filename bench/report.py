"""What every benchmark shares: the machine it ran on, a Rich table, the JSON result.

Results go to ``bench/results/<name>.json`` (gitignored) so a run can be
compared with the last one; the machine block says what the numbers are worth
(this project's reference machine has 2 cores, shared with whatever else runs).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
console = Console(width=None if sys.stdout.isatty() else 120)


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    try:
        mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo")
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = None
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_avg": load,
            "mem_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def show(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
         caption: str | None = None) -> None:
    table = Table(title=title, caption=caption, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, str) else fmt(cell) for cell in row))
    console.print(table)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def write(name: str, summary: dict[str, Any], out: Path | None = None) -> Path:
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bench": name, "machine": machine(), **summary}, indent=2,
                               default=str))
    console.print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


# --- per-call timing, shared by the SDK and telemetry overhead benchmarks ---

#: A recorded call's inputs and output, as the example project's router sees them.
INPUTS = {"customer": "ACME GmbH", "product": "KX-200",
          "text": "The charger sparks when plugged in and smells of smoke."}
OUTPUT = {"team": "electrical", "severity": "high", "reason": "Mentions 'spark'."}


def timed(fn, calls: int, warmup: int = 1000) -> list[float]:
    """Microseconds per call, each call timed on its own (``fn`` gets the index)."""
    clock = time.perf_counter_ns
    for i in range(warmup):
        fn(i)
    out = [0.0] * calls
    for i in range(calls):
        t0 = clock()
        fn(i)
        out[i] = (clock() - t0) / 1000
    return out


def summary(samples: list[float]) -> dict[str, Any]:
    return {"calls": len(samples), "median_us": median(samples),
            "p90_us": percentile(samples, 90), "p99_us": percentile(samples, 99),
            "max_us": max(samples), "mean_us": sum(samples) / len(samples)}
