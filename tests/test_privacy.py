"""The store and the log are private: owner-only files, no personal data in the log.

A new SQLite store, its -wal and -shm files and the log file are readable by their
owner only (0600), whatever the umask. The log records runs, counts and durations,
never a customer's name or an amount.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from store_data import REFERENCE, customer_row, fill

from segment_tui.cli import main
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import Customer, LedgerEntry

NAME = "Zyxwerth Qorplund-Vanderbeek"
AMOUNT = Decimal("98765.43")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, as on a careless system."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_and_its_wal_and_shm_files_are_owner_only(
    tmp_path: Path, open_umask: None
) -> None:
    store = tmp_path / "data" / "segment.db"
    engine = make_engine(str(store))
    try:
        # While a writer is connected, SQLite keeps the -wal and -shm files.
        with write_transaction(engine) as connection:
            connection.execute(text("CREATE TABLE probe (id INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
            files = {p.name: mode(p) for p in store.parent.iterdir()}
    finally:
        engine.dispose()

    assert files == {
        "segment.db": 0o600,
        "segment.db-wal": 0o600,
        "segment.db-shm": 0o600,
    }
    assert mode(store.parent) == 0o700


def test_the_log_file_is_owner_only(tmp_path: Path, open_umask: None) -> None:
    log_dir = tmp_path / "log"
    os.environ["SEGMENT_TUI_LOG_DIR"] = str(log_dir)
    try:
        main(["--db", str(tmp_path / "s.db"), "init"], out=io.StringIO())
    finally:
        del os.environ["SEGMENT_TUI_LOG_DIR"]

    assert mode(log_dir / "segment-tui.log") == 0o600


def test_the_log_holds_no_names_and_no_amounts(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_dir = tmp_path / "log"
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(log_dir))
    assert main(["--db", db_url, "init"], out=io.StringIO()) == 0
    engine = make_engine(db_url)
    fill(engine, 10)
    with write_transaction(engine) as connection:
        connection.execute(insert(Customer), [customer_row(98, NAME)])
        connection.execute(
            insert(LedgerEntry),
            {
                "customer_no": "C000098",
                "entry_key": "BIG-1",
                "document_no": "BIG-1",
                "posting_date": date(2024, 1, 15),
                "due_date": date(2024, 2, 15),
                "amount": AMOUNT,
                "remaining_amount": None,
                "closed_at": None,
                "disputed": False,
                "on_hold": False,
            },
        )
    engine.dispose()
    on = ["--date", REFERENCE.isoformat()]

    for command in (
        ["propose", *on],
        ["proposals", "--format", "json"],
        ["metrics", *on, "--format", "json"],
        ["apply", "C000098"],
        ["apply", "--all"],
        ["delete", "--all"],
        ["history"],
    ):
        out = io.StringIO()
        assert main(["--db", db_url, "--operator", "anna", *command], out=out) == 0
        if command[0] == "proposals":
            assert NAME in out.getvalue() and str(AMOUNT) in out.getvalue()

    log = (log_dir / "segment-tui.log").read_text("utf-8")
    assert "proposal run 1" in log
    assert "apply batch 1: 1 applied" in log
    for secret in (NAME, "Zyxwerth", "98765", "9876543"):
        assert secret not in log
