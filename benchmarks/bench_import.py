"""Import a ledger CSV through a mapping: rows per second and memory at two sizes.

Writes a Business Central style "Customer Ledger Entries" export of `--rows` rows
(ten invoices per customer, a third of them open, amounts with thousands
separators) and imports it into a fresh store with `importing.import_ledger`
through the shipped `bc-customer-ledger-entries.toml` mapping, once at a tenth of
the size and once at the full size (and at the sizes `--more` adds), each in a
fresh process so that its peak memory is the import's. The baseline is the bare
`csv.reader` over the same file. Last, the same file with one bad row at the end
is imported to show that it is refused whole.

    python benchmarks/bench_import.py --rows 1000000 [--more 3000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import benchkit
from sqlalchemy import func, select

from segment_tui import services
from segment_tui.errors import InputError
from segment_tui.importing import import_ledger, load_mapping
from segment_tui.store.engine import make_engine
from segment_tui.store.models import LedgerEntry

SCRIPT = Path(__file__).resolve()
MAPPING = SCRIPT.parents[1] / "data" / "mappings" / "bc-customer-ledger-entries.toml"
HEADER = [
    "Customer No.",
    "Customer Name",
    "Document No.",
    "Posting Date",
    "Due Date",
    "Amount",
    "Remaining Amount",
    "Closed at Date",
    "On Hold",
    "Dispute Status",
]


def write_ledger(path: Path, rows: int, *, bad_last_row: bool = False) -> None:
    """A ledger export of `rows` rows, always the same for the same size."""
    rng = random.Random(7)
    first = benchkit.REFERENCE - timedelta(days=730)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for number in range(rows):
            customer = number // 10
            posted = first + timedelta(days=rng.randrange(700))
            due = posted + timedelta(days=30)
            cents = rng.randrange(2_000, 900_000)
            paid = rng.random() > 0.3
            closed = due + timedelta(days=rng.randrange(-10, 60)) if paid else None
            writer.writerow(
                [
                    f"C{customer:07d}",
                    f"Customer {customer}",
                    f"INV{number:09d}",
                    _us(posted),
                    _us(due),
                    f"{cents / 100:,.2f}",
                    "0.00" if paid else f"{cents / 100:,.2f}",
                    _us(closed) if closed else "",
                    "No",
                    "*" if rng.random() < 0.01 else "No",
                ]
            )
        if bad_last_row:
            writer.writerow(
                ["C9999999", "Bad", "BAD", "13/45/2024", "", "x", "", "", "", ""]
            )


def _us(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def time_csv_reader(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8-sig") as file:
        for _ in csv.reader(file):
            pass
    return time.perf_counter() - started


def run_once(csv_path: str, store: str) -> None:
    """One import into a fresh store, in this (fresh) process; figures as JSON."""
    engine = make_engine(store)
    services.initialise(engine, benchkit.OPERATOR)
    mapping = load_mapping(MAPPING, "ledger")
    before = benchkit.peak_rss_mb()
    started = time.perf_counter()
    refused = ""
    try:
        result = import_ledger(engine, Path(csv_path), mapping)
        rows = result.rows
    except InputError as error:
        refused = str(error)
        rows = 0
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.count()).select_from(LedgerEntry)
        ).scalar_one()
    engine.dispose()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "stored": stored,
                "refused": refused,
                "rss_mb": benchkit.peak_rss_mb(),
                "rss_before_mb": before,
                "parser_rss_mb": benchkit.children_peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--more",
        type=int,
        nargs="*",
        default=[],
        metavar="ROWS",
        help="further sizes, e.g. 3000000 to see that memory stays flat",
    )
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_once(*args.run)
        return

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as scratch:
        work = Path(scratch)
        print(f"import: {benchkit.machine_line()}")
        table = []
        for rows in (max(args.rows // 10, 1), args.rows, *args.more):
            path = work / f"ledger-{rows}.csv"
            write_ledger(path, rows)
            readers, imports = [], []
            for attempt in range(args.repeat):
                readers.append(time_csv_reader(path))
                store = work / f"store-{rows}-{attempt}.db"
                imports.append(
                    benchkit.in_child(SCRIPT, "--run", str(path), str(store))
                )
            reader = benchkit.best(readers)
            fastest = min(imports, key=lambda run: run["seconds"])
            table.append(
                [
                    rows,
                    f"{path.stat().st_size / 1e6:.0f}",
                    reader,
                    fastest["seconds"],
                    f"{fastest['seconds'] / reader:.1f}x",
                    f"{rows / fastest['seconds']:,.0f}",
                    f"{max(run['rss_mb'] for run in imports):.0f}",
                    f"{max(run['parser_rss_mb'] for run in imports):.0f}",
                ]
            )
        print(f"  best of {args.repeat}")
        benchkit.print_table(
            [
                "rows",
                "MB",
                "csv.reader s",
                "import s",
                "ratio",
                "rows/s",
                "peak MB",
                "parser MB",
            ],
            table,
        )

        bad = work / "ledger-bad.csv"
        write_ledger(bad, args.rows, bad_last_row=True)
        refused = benchkit.in_child(SCRIPT, "--run", str(bad), str(work / "bad.db"))
        print(
            f"  {args.rows:,} good rows and a bad last one: {refused['stored']:,} "
            f"stored after {refused['seconds']:.1f} s; "
            f"{refused['refused'][:100] or 'NOT REFUSED'}"
        )
        print(f"after: {benchkit.machine_line()}")


if __name__ == "__main__":
    sys.exit(main())
