"""Fixtures for the command-line tests: a SQLite store in tmp_path and a runner.

Every test gets its own log folder and no `SEGMENT_TUI_DB`, so nothing outside
tmp_path is read or written. `cli` runs `segment_tui.cli.main` in-process with
`--db` and `--operator` given, and returns the exit status with standard output;
`seeded` is a store made by `init` with five customers as of `REFERENCE`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from segment_tui.cli import main
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import Customer, LedgerEntry

REFERENCE = date(2024, 6, 30)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str


Runner = Callable[..., Outcome]
MainRunner = Callable[[list[str]], Outcome]


def run_main(argv: list[str]) -> Outcome:
    """`main` with its output captured; argparse's own exits count as the status."""
    out = io.StringIO()
    try:
        code = main(argv, out=out)
    except SystemExit as exc:  # --version and refused arguments end in argparse
        code = int(exc.code or 0)
    return Outcome(code, out.getvalue())


@pytest.fixture(name="run_main")
def run_main_fixture() -> MainRunner:
    """`run_main` itself, for tests that give every argument (no `--db`)."""
    return run_main


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.delenv("SEGMENT_TUI_DB", raising=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """The `--db` argument: a SQLite file path in tmp_path."""
    return str(tmp_path / "store.db")


@pytest.fixture
def cli(db: str) -> Runner:
    def run(*args: str) -> Outcome:
        return run_main(["--db", db, "--operator", "tester", *args])

    return run


def _invoice(
    no: str, key: str, due_offset: int, amount: str, paid_offset: int | None
) -> dict[str, Any]:
    due = REFERENCE + timedelta(days=due_offset)
    return {
        "customer_no": no,
        "entry_key": key,
        "document_no": key,
        "posting_date": due - timedelta(days=30),
        "due_date": due,
        "amount": Decimal(amount),
        "remaining_amount": None,
        "closed_at": None
        if paid_offset is None
        else REFERENCE + timedelta(days=paid_offset),
        "disputed": False,
    }


CUSTOMERS = [
    ("C001", "Ångström & Zonen", "STANDARD", False),  # ARREARS: 1234.80 long overdue
    ("C002", "Late Payer", "SOFT", False),  # POOR: paid 45 days late
    ("C003", "Prompt New", None, False),  # PROMPT, has no condition yet
    ("C004", "Prompt Known", "SOFT", False),  # PROMPT and SOFT: no proposal
    ("C005", "Handed Over", None, True),  # excluded
]
LEDGER = [
    # 0.10 + 0.20 is where floats go wrong; the sum must be exactly 1234.80.
    _invoice("C001", "A1", -120, "1234.50", None),
    _invoice("C001", "A2", -120, "0.10", None),
    _invoice("C001", "A3", -120, "0.20", None),
    _invoice("C002", "B1", -100, "80.50", -55),
    _invoice("C003", "P1", -20, "25.00", -21),
    _invoice("C004", "P1", -20, "25.00", -20),
    _invoice("C005", "H1", -300, "999.99", None),
]


@pytest.fixture
def seeded(cli: Runner, db: str) -> str:
    """A store made by `init` with the five customers; the `--db` argument."""
    assert cli("init").code == 0
    engine = make_engine(db)
    try:
        with write_transaction(engine) as connection:
            connection.execute(
                insert(Customer),
                [
                    {
                        "customer_no": no,
                        "name": name,
                        "dunning_condition": condition,
                        "handed_over": handed_over,
                    }
                    for no, name, condition, handed_over in CUSTOMERS
                ],
            )
            connection.execute(insert(LedgerEntry), LEDGER)
    finally:
        engine.dispose()
    return db
