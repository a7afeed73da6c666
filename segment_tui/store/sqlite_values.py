"""Every customer's values for a proposal run on SQLite, straight from the driver.

A proposal run reads two streams in customer number order: every customer with its
dunning condition, flags and ledger totals (`metrics_sql.customer_ledger_query`),
and the reminder totals of the customers that have reminders, which are merged in.
The rows come from the driver without SQLAlchemy's per-value processing, and become
the values the rules read (`rules.chooser.VALUE_NAMES`) in one loop written for a
million customers; amounts arrive as whole cents and become decimals through
`models.money_from_cents`, the one place that knows the storage form. Tests hold
the values equal to the reference's (`iter_customer_totals` with `Metrics.derive`).

The ledger query is by far the most work of a run, so for a large store a second
process reads it (`read_ahead`) while this one chooses segments and writes
proposals: on two cores the two halves of the work overlap.
"""

import logging
import sys
from collections.abc import Generator, Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection

from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import ratio
from segment_tui.store.engine import busy_timeout
from segment_tui.store.models import money_from_cents
from segment_tui.store.read_ahead import SecondProcessReader

log = logging.getLogger(__name__)

CustomerValues = tuple[str, str | None, tuple[Any, ...]]
"""Customer number, current dunning condition, and the values in VALUE_NAMES order."""

_FLAG_VALUES = tuple(
    tuple(bool(bits & (1 << position)) for position in range(len(FLAG_NAMES)))
    for bits in range(1 << len(FLAG_NAMES))
)
"""The flags as booleans in `FLAG_NAMES` order, by the number whose bit i is flag i."""


def driver_sql(connection: Connection, query: Any) -> str:
    """A query as SQL text for the driver, with its (date and number) values inline.

    The values are the reference date, the window's start and the tolerance,
    rendered by the columns' own types, so the text matches what SQLAlchemy would
    bind.
    """
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def iter_sqlite_values(
    connection: Connection,
    ledger_query: Any,
    reminder_query: Any,
    batch_size: int,
    ahead: bool,
) -> Iterator[CustomerValues]:
    """The values of every customer, in customer number order.

    `ledger_query` is `customer_ledger_query`, `reminder_query` the reminder totals
    in customer number order. With `ahead`, a second process reads the first where
    the store allows it; the caller holds the write lock.
    """
    ledger_sql = driver_sql(connection, ledger_query)
    reader = _second_process(connection, ledger_sql, batch_size) if ahead else None
    batches = (
        reader.batches() if reader else _batches(connection, ledger_sql, batch_size)
    )
    reminder_sql = driver_sql(connection, reminder_query)
    return _values(batches, _batches(connection, reminder_sql, batch_size))


def _values(
    batches: Generator[list[Any], None, None],
    reminder_batches: Generator[list[Any], None, None],
) -> Iterator[CustomerValues]:
    """Each customer as (customer number, condition, values), with the values that
    `derive_values` and the flags give; written out because it runs a million times.
    """
    money = money_from_cents
    zero_money = money(0)
    flag_values = _FLAG_VALUES
    end: Sequence[Any] = (None, 0, 0)
    reminders = chain.from_iterable(reminder_batches)
    reminder = next(reminders, end)
    try:
        for batch in batches:
            for row in batch:
                (no, condition, flags, invoices, paid, late, days_late) = row[:7]
                (max_late, opened, open_cents, overdue, overdue_cents) = row[7:12]
                (max_overdue, disputed) = row[12:]
                # Both streams are in customer number order; a reminder of a customer
                # number that the customer table lacks (the foreign key forbids it)
                # is passed over, as the join would.
                while reminder is not end and reminder[0] < no:
                    reminder = next(reminders, end)
                if reminder[0] == no:
                    (_, reminder_count, max_level) = reminder
                    reminder = next(reminders, end)
                else:
                    reminder_count = max_level = 0
                values = (
                    invoices,
                    paid,
                    late,
                    ratio(late, paid),
                    ratio(days_late, paid),
                    max_late,
                    opened,
                    money(open_cents) if open_cents else zero_money,
                    overdue,
                    money(overdue_cents) if overdue_cents else zero_money,
                    max_overdue,
                    disputed,
                    reminder_count,
                    max_level,
                    *flag_values[flags],
                )
                yield no, condition, values
    finally:
        batches.close()
        reminder_batches.close()


def _batches(
    connection: Connection, sql: str, batch_size: int
) -> Generator[list[Any], None, None]:
    """The rows of `sql` on this connection in batches, through a cursor of its own."""
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_size):
            yield rows
    finally:
        cursor.close()


def _second_process(
    connection: Connection, sql: str, batch_size: int
) -> SecondProcessReader | None:
    """A reader of `sql` in a second process, or None when this store has none.

    Another connection sees this transaction's state of the tables it has not
    written only in write-ahead-log mode (then it reads the last committed state,
    and this transaction holds the write lock). An in-memory store, a URI file
    name, or a file system that refused the log are read in this process.
    """
    database = connection.engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    driver = connection.connection.driver_connection
    assert driver is not None
    (mode,) = driver.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal" or not sys.executable:
        return None
    try:
        return SecondProcessReader(database, sql, batch_size, busy_timeout())
    except OSError:
        log.info("proposal run: no second process, reading the ledger in this one")
        return None
