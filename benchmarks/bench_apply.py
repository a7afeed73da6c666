"""Apply and delete many proposals at once, against a bare UPDATE of those customers.

On a copy of a demo store with open proposals: the proposals of the first
`--proposals` customers (by customer number) are selected by id, as the proposals
page passes its marks, and applied with `services.apply_proposals`, or deleted with
`services.delete_proposals`. The baseline is one bare statement that sets those
customers' dunning condition to the proposed one (in a transaction that is rolled
back):

    UPDATE customer SET dunning_condition = p.proposed_condition
    FROM (SELECT customer_no, proposed_condition FROM proposal
          ORDER BY customer_no LIMIT N) AS p
    WHERE customer.customer_no = p.customer_no

Each apply and delete runs on a fresh copy of the store; best of `--repeat`.

    python benchmarks/bench_apply.py --customers 1000000 --proposals 100000 \
        --stores ~/segment-bench
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import benchkit
from sqlalchemy import Engine, select

from segment_tui import services
from segment_tui.services import Selection
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import Proposal

SCRIPT = Path(__file__).resolve()


def bare_update_sql(proposals: int) -> str:
    return (
        "UPDATE customer SET dunning_condition = p.proposed_condition FROM "
        "(SELECT customer_no, proposed_condition FROM proposal "
        f"ORDER BY customer_no LIMIT {proposals}) AS p "
        "WHERE customer.customer_no = p.customer_no"
    )


def time_bare_update(engine: Engine, proposals: int) -> float:
    """Seconds for the bare UPDATE, in a write transaction that is rolled back."""
    with write_transaction(engine) as connection:
        started = time.perf_counter()
        connection.exec_driver_sql(bare_update_sql(proposals))
        elapsed = time.perf_counter() - started
        connection.rollback()
    return elapsed


def selected_ids(engine: Engine, proposals: int) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Proposal.id).order_by(Proposal.customer_no).limit(proposals)
            ).scalars()
        )


def run_once(store: str, operation: str, proposals: int) -> None:
    """One apply or delete in this (fresh) process; its figures as a JSON line."""
    engine = make_engine(store)
    ids = selected_ids(engine, proposals)
    selection = Selection(proposal_ids=ids)
    before = benchkit.peak_rss_mb()
    started = time.perf_counter()
    if operation == "apply":
        result = services.apply_proposals(engine, selection, benchkit.OPERATOR)
        done = len(result.applied)
    else:
        done = services.delete_proposals(engine, selection)
    seconds = time.perf_counter() - started
    engine.dispose()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "done": done,
                "rss_mb": benchkit.peak_rss_mb(),
                "rss_before_mb": before,
            }
        )
    )


def ensure_proposals(store: Path, proposals: int) -> int:
    engine = make_engine(str(store))
    try:
        with engine.connect() as connection:
            count = services.open_proposal_count(connection)
        if count < proposals:
            services.create_proposals(engine, benchkit.REFERENCE, benchkit.OPERATOR)
            with engine.connect() as connection:
                count = services.open_proposal_count(connection)
    finally:
        engine.dispose()
    if count < proposals:
        raise SystemExit(
            f"the store has {count:,} open proposals, fewer than {proposals:,}; "
            "give more --customers"
        )
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--stores", type=Path, help="folder of reusable demo stores")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        store, operation, proposals = args.run
        run_once(store, operation, int(proposals))
        return

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as scratch:
        folder = args.stores or Path(scratch)
        print(f"apply: {benchkit.machine_line()}")
        store = benchkit.demo_store(folder, args.customers)
        open_count = ensure_proposals(store, args.proposals)
        work = Path(scratch) / "work.db"
        floors: list[float] = []
        figures: dict[str, list[dict[str, float]]] = {"apply": [], "delete": []}
        for _ in range(args.repeat):
            for operation in ("apply", "delete"):
                benchkit.copy_store(store, work)
                engine = make_engine(str(work))
                floors.append(time_bare_update(engine, args.proposals))
                engine.dispose()
                figures[operation].append(
                    benchkit.in_child(
                        SCRIPT, "--run", str(work), operation, str(args.proposals)
                    )
                )
        floor = benchkit.best(floors)
        rows = []
        for operation, runs in figures.items():
            fastest = min(runs, key=lambda run: run["seconds"])
            rows.append(
                [
                    operation,
                    int(fastest["done"]),
                    floor,
                    fastest["seconds"],
                    f"{fastest['seconds'] / floor:.2f}x",
                    f"{fastest['seconds'] / fastest['done'] * 1e6:.1f}",
                    f"{max(run['rss_mb'] for run in runs):.0f}",
                ]
            )
        print(
            f"  {args.customers:,} customers, {open_count:,} open proposals, "
            f"{args.proposals:,} selected by id; best of {args.repeat}"
        )
        benchkit.print_table(
            ["operation", "proposals", "bare UPDATE s", "s", "ratio", "us/proposal"]
            + ["peak MB"],
            rows,
        )
        print(f"after: {benchkit.machine_line()}")


if __name__ == "__main__":
    sys.exit(main())
