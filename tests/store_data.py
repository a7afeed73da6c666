"""Stores with many customers for the concurrency and fault tests, and their snapshots.

`fill` writes customers whose ledgers put them in every segment of the default setup
as of `REFERENCE`, with Core executemany so that tens of thousands take a second or
two. `snapshot` condenses a store into what must survive a crash unchanged: row counts
and checksums of the customers' conditions, the open proposals and the history.
`copy_store` duplicates a prepared store (a file copy on SQLite, a template database
on PostgreSQL) so that each attempt starts from the same state.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url

from segment_tui import services
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import (
    ApplyBatch,
    Customer,
    LedgerEntry,
    Proposal,
    ProposalRun,
    Reminder,
    SegmentChange,
    SetupVersion,
)

REFERENCE = date(2024, 6, 30)
OPERATOR = "tester"
CONDITIONS: tuple[str | None, ...] = (None, "SOFT", "STANDARD", "STRICT", "INTENSIVE")
TABLES = (Customer, LedgerEntry, Reminder, SetupVersion, ProposalRun, Proposal)
HISTORY = (ApplyBatch, SegmentChange)


def _ledger(number: int) -> list[dict[str, Any]]:
    """Three invoices whose payment behaviour depends on the customer's number."""
    kind = number % 4
    rows = []
    for k in range(3):
        posted = REFERENCE - timedelta(days=60 * k + 150)
        due = posted + timedelta(days=14)
        amount = Decimal(100 + (number * 7 + k * 13) % 900) + Decimal("0.25")
        closed: date | None
        if kind == 0:  # prompt
            closed = due - timedelta(days=1)
        elif kind == 1:  # late
            closed = due + timedelta(days=25)
        elif kind == 2:  # long and large arrears
            closed = None
        else:  # sometimes late
            closed = due + timedelta(days=10) if k == 0 else due
        rows.append(
            {
                "customer_no": f"C{number:06d}",
                "entry_key": f"INV{number}-{k}",
                "document_no": f"INV{number}-{k}",
                "posting_date": posted,
                "due_date": due,
                "amount": amount,
                "remaining_amount": None,
                "closed_at": closed,
                "disputed": False,
                "on_hold": False,
            }
        )
    return rows


def customer_row(number: int, name: str | None = None) -> dict[str, Any]:
    return {
        "customer_no": f"C{number:06d}",
        "name": name or f"Customer {number}",
        "dunning_condition": CONDITIONS[number % len(CONDITIONS)],
        "segment": None,
        "blocked": number % 50 == 0,
        "segmentation_blocked": False,
        "payment_arrangement": False,
        "debt_restructuring": False,
        "handed_over": False,
    }


@contextmanager
def proposed_store(db_url: str, customers: int) -> Iterator[Engine]:
    """An engine on a store of `customers` customers (`fill`) with a proposal run
    made, disposed afterwards."""
    engine = make_engine(db_url)
    try:
        services.initialise(engine, OPERATOR)
        fill(engine, customers)
        services.create_proposals(engine, REFERENCE, OPERATOR)
        yield engine
    finally:
        engine.dispose()


def fill(engine: Engine, customers: int, first: int = 1) -> None:
    """Store `customers` customers numbered from `first`, with their ledgers."""
    chunk = 5_000
    with write_transaction(engine) as connection:
        for start in range(first, first + customers, chunk):
            numbers = range(start, min(start + chunk, first + customers))
            connection.execute(insert(Customer), [customer_row(n) for n in numbers])
            connection.execute(
                insert(LedgerEntry), [row for n in numbers for row in _ledger(n)]
            )


def prepared_store(url: str, customers: int, *, propose: bool = True) -> None:
    """Schema, default setup, customers and (with `propose`) one proposal run."""
    engine = make_engine(url)
    try:
        services.initialise(engine, OPERATOR)
        fill(engine, customers)
        if propose:
            services.create_proposals(engine, REFERENCE, OPERATOR)
    finally:
        engine.dispose()


def _digest(rows: Sequence[Sequence[object]]) -> str:
    hasher = hashlib.sha256()
    for row in rows:
        hasher.update(repr(tuple(row)).encode())
    return hasher.hexdigest()[:16]


def snapshot(url: str) -> dict[str, Any]:
    """Row counts and checksums of everything an operation may change."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            state: dict[str, Any] = {
                model.__tablename__: connection.execute(
                    select(func.count()).select_from(model)
                ).scalar_one()
                for model in (*TABLES, *HISTORY)
            }
            customers = connection.execute(
                select(
                    Customer.customer_no, Customer.dunning_condition, Customer.segment
                ).order_by(Customer.customer_no)
            ).all()
            proposals = connection.execute(
                select(
                    Proposal.id,
                    Proposal.run_id,
                    Proposal.customer_no,
                    Proposal.current_condition,
                    Proposal.proposed_condition,
                ).order_by(Proposal.id)
            ).all()
            runs = connection.execute(
                select(
                    ProposalRun.id,
                    ProposalRun.proposal_count,
                    ProposalRun.customer_count,
                ).order_by(ProposalRun.id)
            ).all()
            history = connection.execute(
                select(
                    SegmentChange.customer_no,
                    SegmentChange.from_condition,
                    SegmentChange.to_condition,
                    SegmentChange.run_id,
                ).order_by(SegmentChange.id)
            ).all()
    finally:
        engine.dispose()
    state["customers"] = _digest(customers)
    state["proposal_ids"] = _digest([(p.id, p.run_id) for p in proposals])
    state["proposals"] = _digest([tuple(p)[2:] for p in sorted(proposals, key=_by_no)])
    state["runs"] = [tuple(r) for r in runs]
    state["history"] = _digest(history)
    return state


def _by_no(row: Any) -> str:
    return str(row.customer_no)


# --- Copies of a prepared store ----------------------------------------------------


@contextmanager
def copy_store(url: str) -> Iterator[str]:
    """A copy of the store at `url` (no one may be using it), removed afterwards."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database or "")
        target = source.with_name(f"copy-{uuid.uuid4().hex[:8]}.db")
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        try:
            yield f"sqlite:///{target}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        return

    import psycopg
    from psycopg import sql

    name = f"segcopy_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(parsed.database or "")
            )
        )
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def _pg_admin(url: str) -> str:
    """A libpq connection string to the server's maintenance database."""
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    return make_conninfo(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
    )


# --- Running the command line in a process of its own --------------------------------

_LAUNCHER = """
import os, runpy, sys, time
import segment_tui.cli  # the imports are done before the start signal
start = sys.argv.pop(1)
while not os.path.exists(start):
    time.sleep(0.001)
sys.argv[0] = "segment-tui"
runpy.run_module("segment_tui", run_name="__main__", alter_sys=True)
"""


def cli_env(log_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SEGMENT_TUI_LOG_DIR"] = str(log_dir)
    env.pop("SEGMENT_TUI_DB", None)
    env.update(extra)
    return env


def start_cli(
    args: Sequence[str],
    env: dict[str, str],
    start_file: Path | None = None,
) -> subprocess.Popen[str]:
    """`python -m segment_tui ARGS` in a new process; with `start_file`, it waits
    (imports done) until that file exists, so that several start at the same moment.
    """
    if start_file is None:
        command = [sys.executable, "-m", "segment_tui", *args]
    else:
        command = [sys.executable, "-c", _LAUNCHER, str(start_file), *args]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- Holding the write lock, as another operator's command would ---------------------


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """Hold the store's write lock, as a writer in another process would."""
    engine = make_engine(url)
    try:
        with write_transaction(engine):
            yield
    finally:
        engine.dispose()


def wait_for_writers(url: str, count: int, timeout: float = 60.0) -> None:
    """Return once `count` writers wait for the write lock.

    PostgreSQL shows who waits for the advisory lock. SQLite does not show who waits
    for BEGIN IMMEDIATE, so there the processes are given time to get there: on a
    busy machine, starting four interpreters at once takes seconds, and a writer
    that only starts after the first one has finished would not contend at all.
    """
    if not url.startswith("postgresql"):
        time.sleep(6.0)
        return
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                waiting = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())"
                    )
                ).scalar_one()
                connection.rollback()
                if waiting >= count:
                    return
                time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"fewer than {count} writers waited for the lock")
