"""Create proposals on demo stores of growing size, against the floor of the store.

For each size: the bare single-pass aggregate over `ledger_entry` (the floor, see
`benchkit.floor_query`) and `services.create_proposals`, alternated and repeated,
best of each; their ratio; the time per customer; the peak memory of the run (in a
fresh process, and of the processes that read the ledger beside it); the number of
proposals. Stores are generated once with `generate_demo` (as of 2025-06-30) and
reused from `--stores`.

Two kinds of run are measured. A "rerun" replaces the proposals of the run before,
as an operator's next run does; on the unchanged demo store every proposal is what
it was, so the run writes next to nothing (`proposal_writer` keeps equal
proposals). A "full" run starts from an empty proposal list (emptied before the
clock starts), so it writes every proposal and builds the list's indexes: the
first run on a store, or a run with a new setup.

Each run is made as the page makes it: the commit leaves the copy of SQLite's
write-ahead log into the store file for `services.tidy_store`, which the page calls
in a worker once the operator sees the new proposals. The tidy is timed on its
own ("tidy s"), and the full run's ratio is also given with it ("with tidy").

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
from sqlalchemy import delete

from segment_tui import services
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import Proposal

SCRIPT = Path(__file__).resolve()


def run_once(store: str, full: bool) -> None:
    """One proposal run in this (fresh) process; its figures as a JSON line."""
    engine = make_engine(store)
    if full:
        with write_transaction(engine) as connection:
            connection.execute(delete(Proposal))
    cpu = benchkit.cpu_seconds()
    before = benchkit.peak_rss_mb()
    started = time.perf_counter()
    # As the page runs it: the copy of SQLite's log into the store file comes after
    # the operator sees the proposals (services.tidy_store), timed on its own.
    summary = services.create_proposals(
        engine, benchkit.REFERENCE, benchkit.OPERATOR, checkpoint_now=False
    )
    seconds = time.perf_counter() - started
    services.tidy_store(engine)
    tidy = time.perf_counter() - started - seconds
    engine.dispose()
    figures = {
        "seconds": seconds,
        "tidy": tidy,
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
        floors, reruns, fulls = [], [], []
        for _ in range(repeat):
            floors.append(benchkit.time_floor(engine))
            reruns.append(benchkit.in_child(SCRIPT, "--run", str(store)))
            fulls.append(benchkit.in_child(SCRIPT, "--run", str(store), "--full"))
    finally:
        engine.dispose()
    rerun = min(reruns, key=lambda run: run["seconds"])
    full = min(fulls, key=lambda run: run["seconds"])
    floor = benchkit.best(floors)
    pairs = [run["seconds"] / f for run, f in zip(reruns, floors, strict=True)]
    return {
        "floor": floor,
        "rerun": rerun["seconds"],
        "ratio": rerun["seconds"] / floor,
        "median_pair_ratio": benchkit.median(pairs),
        "full": full["seconds"],
        "full_ratio": full["seconds"] / floor,
        "full_tidy": full["tidy"],
        "full_tidied_ratio": (full["seconds"] + full["tidy"]) / floor,
        "cpu": rerun["cpu"],
        "us_per_customer": rerun["seconds"] / max(rerun["customers"], 1) * 1e6,
        "full_us_per_customer": full["seconds"] / max(full["customers"], 1) * 1e6,
        "customers": rerun["customers"],
        "proposals": rerun["proposals"],
        "rss_mb": max(run["rss_mb"] for run in reruns + fulls),
        "reader_rss_mb": max(run["reader_rss_mb"] for run in reruns + fulls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", type=Path, help="folder of reusable demo stores")
    parser.add_argument(
        "--repeat", type=int, help="runs per size (default 3, 1 from a million)"
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_once(args.run, args.full)
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
                    figures["rerun"],
                    f"{figures['ratio']:.2f}x",
                    f"{figures['median_pair_ratio']:.2f}x",
                    f"{figures['us_per_customer']:.1f}",
                    figures["full"],
                    f"{figures['full_ratio']:.2f}x",
                    figures["full_tidy"],
                    f"{figures['full_tidied_ratio']:.2f}x",
                    f"{figures['full_us_per_customer']:.1f}",
                    figures["cpu"],
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
                "rerun s",
                "ratio",
                "median",
                "us/customer",
                "full s",
                "ratio",
                "tidy s",
                "with tidy",
                "us/customer",
                "rerun cpu s",
                "proposals",
                "peak MB",
                "readers MB",
                "runs",
            ],
            rows,
        )
        print(f"after: {benchkit.machine_line()}")


if __name__ == "__main__":
    sys.exit(main())
