"""What the benchmark scripts share: demo stores, the floor query, timing, memory.

The scripts import this module from their own folder (Python puts a script's folder
first on the module path). Nothing here runs in the test suite, except through the
smoke test that runs each script at a tiny size.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from segment_tui import services
from segment_tui.demo import generate_demo
from segment_tui.store.engine import make_engine
from segment_tui.store.models import JULIAN_DAY_OFFSET

REFERENCE = date(2025, 6, 30)
"""Every demo store is generated as of this day and every run made as of it, so a
store built once can be measured again."""

OPERATOR = "benchmark"


def demo_store(folder: Path, customers: int) -> Path:
    """The demo store of `customers` customers in `folder`, generated if missing."""
    path = folder / f"demo-{customers}.db"
    if path.exists():
        engine = make_engine(str(path))
        try:
            services.initialise(engine, OPERATOR)  # upgrades an older store's schema
        finally:
            engine.dispose()
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for stale in folder.glob(partial.name + "*"):
        stale.unlink()
    engine = make_engine(str(partial))
    try:
        services.initialise(engine, OPERATOR)
        started = time.perf_counter()
        result = generate_demo(engine, customers, today=REFERENCE)
        print(
            f"  generated {customers:,} customers, {result.ledger_entries:,} ledger "
            f"entries in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    finally:
        engine.dispose()
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        leftover = Path(str(partial) + suffix)
        if leftover.exists():
            leftover.unlink()
    return path


def copy_store(source: Path, target: Path) -> None:
    """Copy a store file for a measurement, and wait until the copy is on disk.

    A copy of a large store leaves the system writing its pages out for seconds
    afterwards; a measurement taken meanwhile competes with that writing, and its
    time varied by half from one copy to the next.
    """
    shutil.copyfile(source, target)
    os.sync()


def julian(day: date) -> int:
    """A date as SQLite stores it (see `models.Day`)."""
    return day.toordinal() + JULIAN_DAY_OFFSET


def floor_query(reference: date = REFERENCE) -> str:
    """The bare single-pass aggregate over `ledger_entry`: the floor of the store.

    One GROUP BY customer computing an overdue sum, a maximum of days overdue, a
    late count and an average of days late, with the reference date as an integer.
    """
    r = julian(reference)
    return (
        "SELECT customer_no, "
        f"SUM(CASE WHEN closed_at IS NULL AND {r} - due_date > 0 THEN amount "
        "ELSE 0 END), "
        f"MAX(CASE WHEN closed_at IS NULL THEN {r} - due_date ELSE 0 END), "
        "SUM(CASE WHEN closed_at - due_date > 0 THEN 1 ELSE 0 END), "
        "AVG(closed_at - due_date) "
        "FROM ledger_entry GROUP BY customer_no"
    )


def time_floor(engine: Engine, batch_size: int = 10_000) -> float:
    """Seconds for the floor query, read to the end through the driver.

    On a connection of the product's engine, so with the same settings (write-ahead
    log, cache) as the product's own queries.
    """
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        started = time.perf_counter()
        cursor = driver.execute(floor_query())
        while cursor.fetchmany(batch_size):
            pass
        elapsed = time.perf_counter() - started
        cursor.close()
    return elapsed


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The largest peak resident memory of a finished child process, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user and system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def in_child(script: Path, *arguments: str) -> dict[str, Any]:
    """Run `script` with `arguments` in a fresh process; its last line, as JSON.

    A fresh process per measurement, so that its peak memory is the measured
    operation's and nothing else's.
    """
    done = subprocess.run(
        [sys.executable, str(script), *arguments],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best(times: Sequence[float]) -> float:
    return min(times)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def machine_line() -> str:
    """The machine and its load, to print with the figures."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, load average {load}, Python "
        f"{sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}"
    )


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain table with right-aligned columns."""
    cells = [list(header)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        print(
            "  ".join(
                cell.rjust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result
