"""Fixtures for the cycle tests: an initialised store with customers of every segment.

`cycle` is a fresh database (SQLite and PostgreSQL, from the suite's `db_url`) with the
default setup and seven customers, one for each outcome of "create proposals" as of
`REFERENCE`. The helper it returns reads and changes rows directly, so that tests can
set up what an operator or an import would have changed meanwhile, and compare the
whole store before and after an operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from segment_tui import services
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import (
    ApplyBatch,
    Customer,
    LedgerEntry,
    Proposal,
    ProposalRun,
    SegmentChange,
    SetupVersion,
)

REFERENCE = date(2024, 6, 30)
OPERATOR = "alice"


@dataclass(frozen=True)
class Expected:
    """The proposal the default setup makes for a customer as of REFERENCE."""

    current: str | None
    segment: str
    proposed: str


# With the default setup (12 months, 3 days of tolerance), as of REFERENCE:
EXPECTED = {
    "C001": Expected("STANDARD", "ARREARS", "INTENSIVE"),  # 151 days overdue on 300
    "C002": Expected("SOFT", "POOR", "STRICT"),  # its one payment 45 days late
    "C003": Expected(None, "IRREGULAR", "STANDARD"),  # one of five payments late
    "C004": Expected(None, "PROMPT", "SOFT"),  # pays on time
    "C007": Expected(None, "PROMPT", "SOFT"),  # no entries: "everyone else"
}
NO_PROPOSAL = ("C005", "C006")  # already SOFT and prompt; handed over


def _day(offset: int) -> date:
    return REFERENCE + timedelta(days=offset)


def _entry(no: str, key: str, due: date, amount: str, closed: date | None) -> dict:
    return {
        "customer_no": no,
        "entry_key": key,
        "document_no": key,
        "posting_date": due - timedelta(days=30),
        "due_date": due,
        "amount": Decimal(amount),
        "remaining_amount": None,
        "closed_at": closed,
        "disputed": False,
    }


CUSTOMERS: list[dict[str, Any]] = [
    {"customer_no": "C001", "name": "Arrears Ltd", "dunning_condition": "STANDARD"},
    {"customer_no": "C002", "name": "Late Payer", "dunning_condition": "SOFT"},
    {"customer_no": "C003", "name": "Sometimes Late", "dunning_condition": None},
    {"customer_no": "C004", "name": "Prompt New", "dunning_condition": None},
    {"customer_no": "C005", "name": "Prompt Known", "dunning_condition": "SOFT"},
    {
        "customer_no": "C006",
        "name": "Handed Over",
        "dunning_condition": None,
        "handed_over": True,
    },
    {"customer_no": "C007", "name": "No Entries", "dunning_condition": None},
]

LEDGER = [
    _entry("C001", "A1", _day(-151), "300.00", None),
    _entry("C002", "B1", _day(-121), "80.50", _day(-76)),
    *(
        _entry("C003", f"S{i}", _day(-200 + 30 * i), "10.00", _day(-200 + 30 * i))
        for i in range(4)
    ),
    _entry("C003", "S4", _day(-50), "10.00", _day(-40)),
    _entry("C004", "P1", _day(-20), "25.00", _day(-21)),
    _entry("C005", "P1", _day(-20), "25.00", _day(-20)),
    _entry("C006", "H1", _day(-300), "999.99", None),
]

SNAPSHOT_TABLES = (
    Customer,
    Proposal,
    ProposalRun,
    SegmentChange,
    ApplyBatch,
    SetupVersion,
)


@dataclass
class CycleStore:
    """The engine of a seeded store, with direct reads and writes for the tests."""

    engine: Engine
    reference: date = REFERENCE
    operator: str = OPERATOR
    expected: dict[str, Expected] = field(default_factory=lambda: dict(EXPECTED))
    no_proposal: tuple[str, ...] = NO_PROPOSAL

    def customer(self, no: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(Customer.__table__).where(Customer.customer_no == no)
            ).one()

    def set_customer(self, no: str, **values: Any) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(Customer).where(Customer.customer_no == no).values(**values)
            )

    def rows(self, model: Any) -> list[Any]:
        table = model.__table__
        order = list(table.primary_key.columns)
        with self.engine.connect() as connection:
            return list(connection.execute(select(table).order_by(*order)))

    def count(self, model: Any) -> int:
        return len(self.rows(model))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the tables an operation of the cycle writes to."""
        return {
            model.__tablename__: [tuple(row) for row in self.rows(model)]
            for model in SNAPSHOT_TABLES
        }

    def open_customers(self) -> list[str]:
        return [p.customer_no for p in services.list_proposals(self.engine)]

    def propose(self, **kwargs: Any) -> services.RunSummary:
        return services.create_proposals(
            self.engine, self.reference, self.operator, **kwargs
        )


@pytest.fixture
def cycle(db_url: str) -> Iterator[CycleStore]:
    """An initialised store with the seven customers, on each database."""
    engine = make_engine(db_url)
    try:
        services.initialise(engine, "setup-admin")
        with write_transaction(engine) as connection:
            connection.execute(
                insert(Customer), [{"handed_over": False} | c for c in CUSTOMERS]
            )
            connection.execute(insert(LedgerEntry), LEDGER)
        yield CycleStore(engine)
    finally:
        engine.dispose()
