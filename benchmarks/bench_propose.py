"""Create proposals on demo stores of growing size, against the floor of the store.

For each size: the bare single-pass aggregate over `ledger_entry` (the floor, see
`benchkit.floor_query`) and `services.create_proposals`, alternated and repeated,
best of each; their ratio; the time per customer; the peak memory of the run (in a
fresh process, and of the process that reads the ledger beside it); the number of
proposals. Stores are generated once with `generate_demo` (as of 2025-06-30) and
reused from `--stores`; each run replaces the proposals of the one before, as an
operator's runs do.

    python benchmarks/bench_propose.py --customers 10000 100000 1000000 \
        --stores ~/segment-bench

A million customers take about three minutes to generate and 1.7 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import benchkit

from segment_tui import services
from segment_tui.store.engine import make_engine

SCRIPT = Path(__file__).resolve()


def run_once(store: str) -> None:
    """One proposal run in this (fresh) process; its figures as a JSON line."""
    engine = make_engine(store)
    cpu = benchkit.cpu_seconds()
    before = benchkit.peak_rss_mb()
    started = time.perf_counter()
    summary = services.create_proposals(engine, benchkit.REFERENCE, benchkit.OPERATOR)
    seconds = time.perf_counter() - started
    engine.dispose()
    figures = {
        "seconds": seconds,
        "cpu": benchkit.cpu_seconds() - cpu,
        "rss_mb": benchkit.peak_rss_mb(),
        "rss_before_mb": before,
        "reader_rss_mb": benchkit.children_peak_rss_mb(),
        "customers": summary.customer_count,
        "proposals": summary.proposal_count,
    }
    print(json.dumps(figures))


def measure(store: Path, repeat: int) -> dict[str, float]:
    engine = make_engine(str(store))
    try:
        # A first run fills the proposal table (a run replaces the last one's) and
        # brings the store into the file cache; it is not counted.
        benchkit.in_child(SCRIPT, "--run", str(store))
        floors, runs = [], []
        for _ in range(repeat):
            floors.append(benchkit.time_floor(engine))
            runs.append(benchkit.in_child(SCRIPT, "--run", str(store)))
    finally:
        engine.dispose()
    fastest = min(runs, key=lambda run: run["seconds"])
    floor = benchkit.best(floors)
    pairs = [run["seconds"] / f for run, f in zip(runs, floors, strict=True)]
    return {
        "floor": floor,
        "propose": fastest["seconds"],
        "ratio": fastest["seconds"] / floor,
        "median_pair_ratio": benchkit.median(pairs),
        "cpu": fastest["cpu"],
        "us_per_customer": fastest["seconds"] / max(fastest["customers"], 1) * 1e6,
        "customers": fastest["customers"],
        "proposals": fastest["proposals"],
        "rss_mb": max(run["rss_mb"] for run in runs),
        "reader_rss_mb": max(run["reader_rss_mb"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", type=Path, help="folder of reusable demo stores")
    parser.add_argument(
        "--repeat", type=int, help="runs per size (default 3, 1 from a million)"
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_once(args.run)
        return

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as scratch:
        folder = args.stores or Path(scratch)
        print(f"propose: {benchkit.machine_line()}")
        rows = []
        for customers in args.customers:
            store = benchkit.demo_store(folder, customers)
            repeat = args.repeat or (3 if customers < 1_000_000 else 1)
            figures = measure(store, repeat)
            rows.append(
                [
                    figures["customers"],
                    figures["floor"],
                    figures["propose"],
                    f"{figures['ratio']:.2f}x",
                    f"{figures['median_pair_ratio']:.2f}x",
                    figures["cpu"],
                    f"{figures['us_per_customer']:.1f}",
                    figures["proposals"],
                    f"{figures['rss_mb']:.0f}",
                    f"{figures['reader_rss_mb']:.0f}",
                    repeat,
                ]
            )
            print(f"  {customers:,} customers measured", flush=True)
        benchkit.print_table(
            [
                "customers",
                "floor s",
                "propose s",
                "ratio",
                "median",
                "cpu s",
                "us/customer",
                "proposals",
                "peak MB",
                "reader MB",
                "runs",
            ],
            rows,
        )
        print(f"after: {benchkit.machine_line()}")


if __name__ == "__main__":
    sys.exit(main())
