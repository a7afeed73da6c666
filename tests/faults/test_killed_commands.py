"""A command killed outright (SIGKILL) leaves the store exactly as before or as after.

For an import, a propose and an apply, a complete run on a copy of the store gives
the state "after". Then the command is started again on fresh copies and killed at
several moments: while Python is still starting, and at points spread over the time
it holds the write lock. Every killed attempt must leave the store equal to the
state before or after, never in between, and the killed writer's lock must be gone.
The moment the write lock is taken is watched from outside (a probe of the lock), so
no product code knows about the test.
"""

from __future__ import annotations

import csv
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from store_data import (
    REFERENCE,
    _ledger,
    cli_env,
    copy_store,
    prepared_store,
    snapshot,
    start_cli,
)

from segment_tui import services
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import Customer

CUSTOMERS = 6_000
FRACTIONS = (0.15, 0.5, 0.9)
"""When to kill, as parts of the time a complete run holds the write lock."""

MAPPING = """\
[source]
date_format = "%Y-%m-%d"

[columns]
customer_no = "customer"
customer_name = "name"
document_no = "document"
posting_date = "posted"
due_date = "due"
amount = "amount"
closed_at = "closed"
"""


@pytest.fixture(scope="module")
def ledger_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ledger CSV of CUSTOMERS new customers, and its mapping."""
    folder = tmp_path_factory.mktemp("ledger")
    mapping = folder / "ledger.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    ledger = folder / "ledger.csv"
    with ledger.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["customer", "name", "document", "posted", "due", "amount"]
                        + ["closed"])  # fmt: skip
        for number in range(1, CUSTOMERS + 1):
            for entry in _ledger(number):
                writer.writerow(
                    [
                        entry["customer_no"],
                        f"Customer {number}",
                        entry["document_no"],
                        entry["posting_date"],
                        entry["due_date"],
                        entry["amount"],
                        entry["closed_at"] or "",
                    ]
                )
    return ledger, mapping


def prepare(url: str, command: str) -> list[str]:
    """Bring the store to the state before `command`; the command's arguments."""
    if command == "import":
        engine = make_engine(url)
        services.initialise(engine, "tester")
        engine.dispose()
        return ["import", "ledger", "{ledger}", "--mapping", "{mapping}"]
    prepared_store(url, CUSTOMERS, propose=command == "apply")
    if command == "propose":
        return ["propose", "--date", REFERENCE.isoformat()]
    return ["apply", "--all"]


def writing(url: str) -> bool:
    """Whether some process holds the store's write lock now."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        probe = sqlite3.connect(parsed.database or "", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()  # rolls back the probe's own transaction at once
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            held = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND granted AND pid <> pg_backend_pid() AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return bool(held)


def wait_until_writing(url: str, process: object) -> None:
    deadline = time.monotonic() + 60
    while not writing(url):
        assert process.poll() is None, "the command ended before it wrote"  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the command never took the write lock"
        time.sleep(0.005)


def wait_until_done_writing(url: str, process: object) -> None:
    """Until the write lock is free again, or the command has ended."""
    while process.poll() is None and writing(url):  # type: ignore[attr-defined]
        time.sleep(0.002)


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        "import",
        "propose",
        "apply",
    ],
)
def test_a_killed_command_leaves_the_store_as_before_or_after(
    db_url: str,
    command: str,
    tmp_path: Path,
    ledger_files: tuple[Path, Path],
) -> None:
    ledger, mapping = ledger_files
    template = prepare(db_url, command)
    env = cli_env(tmp_path / "log", SEGMENT_TUI_BUSY_TIMEOUT="60")

    def args(url: str) -> list[str]:
        filled = [a.format(ledger=ledger, mapping=mapping) for a in template]
        return ["--db", url, *filled]

    before = snapshot(db_url)
    with copy_store(db_url) as url:
        process = start_cli(args(url), env)
        wait_until_writing(url, process)
        started = time.monotonic()
        # The window is the time the command holds the write lock, not the time
        # until it has ended: a fast transaction can be shorter than the exit.
        wait_until_done_writing(url, process)
        window = time.monotonic() - started
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        after = snapshot(url)
    assert after != before

    outcomes = []
    for fraction in (None, *FRACTIONS):
        with copy_store(db_url) as url:
            process = start_cli(args(url), env)
            if fraction is None:
                time.sleep(0.2)  # still starting up
            else:
                wait_until_writing(url, process)
                time.sleep(fraction * window)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            state = snapshot(url)
            assert state in (before, after), f"killed at {fraction} of the writing"
            outcomes.append((fraction, "before" if state == before else "after"))

            # The store works on: the killed writer's lock is gone.
            engine = make_engine(url)
            with write_transaction(engine) as connection:
                connection.execute(select(func.count()).select_from(Customer))
            engine.dispose()

    # At least one kill landed inside the transaction and was rolled back.
    assert (FRACTIONS[0], "before") in outcomes, outcomes
