"""Fixtures for the store tests: an engine with the schema, on SQLite and PostgreSQL.

`store` is a fresh database per test (from the suite's `db_url`) with every table
created; `clear_data` empties the customer data again, so that a property test can
reuse one database for all of its examples instead of creating one per example.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, delete

from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Customer, LedgerEntry, Reminder


@pytest.fixture
def store(any_store: Engine) -> Engine:
    """An engine on a fresh database with the schema created, disposed afterwards
    (`any_store` of tests/conftest.py)."""
    return any_store


@pytest.fixture
def clear_data(store: Engine) -> Callable[[], None]:
    """A function that deletes every customer with its ledger entries and reminders."""

    def clear() -> None:
        with write_transaction(store) as connection:
            connection.execute(delete(Reminder))
            connection.execute(delete(LedgerEntry))
            connection.execute(delete(Customer))

    return clear
