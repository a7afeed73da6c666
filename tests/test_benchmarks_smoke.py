"""The benchmark scripts still run: each at a tiny size, all four at once.

The figures are not checked (they mean nothing at this size); only that every
script runs to its end and prints its tables, so that a change to the product
cannot leave them broken unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

RUNS = {
    "bench_propose.py": (["--customers", "200", "--repeat", "1"], "us/customer"),
    "bench_apply.py": (
        ["--customers", "300", "--proposals", "100", "--repeat", "1"],
        "bare UPDATE s",
    ),
    "bench_ui.py": (
        ["--customers", "300", "--small-customers", "100"]
        + ["--apply-customers", "200", "--repeat", "1", "--apply-repeat", "1"]
        + ["--presses", "3"],
        "mark all and apply",
    ),
    "bench_import.py": (["--rows", "2000", "--repeat", "1"], "rows/s"),
}


@pytest.mark.slow
def test_every_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    processes = {}
    for script, (arguments, _) in RUNS.items():
        stores = tmp_path / script
        extra = [] if script == "bench_import.py" else ["--stores", str(stores)]
        processes[script] = subprocess.Popen(
            [sys.executable, str(BENCHMARKS / script), *arguments, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
    for script, process in processes.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{script}:\n{err}"
        assert RUNS[script][1] in out, f"{script}:\n{out}"
