"""Every customer's values for a proposal run on SQLite, straight from the driver.

A proposal run reads one stream in customer number order: every customer with its
dunning condition, flags, ledger and reminder totals
(`metrics_sql.customer_ledger_query`). The rows come from the driver without
SQLAlchemy's per-value processing, and become the values the rules read
(`rules.chooser.VALUE_NAMES`) in one loop written for a million customers;
amounts arrive as whole cents and become decimals through `models.money_from_cents`,
the one place that knows the storage form. Tests hold the values equal to the
reference's (`iter_customer_totals` with `Metrics.derive`).

The ledger query is by far the most work of a run, so for a large store a second
process reads it (`read_ahead`) while this one chooses segments and writes
proposals: on two cores the two halves of the work overlap.
"""

import logging
import sys
from collections.abc import Generator, Iterator
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


class ValueStream(Iterator[CustomerValues]):
    """The values of every customer, and where they are read.

    `elsewhere` is true when another process reads them: then this connection runs
    no statement while the stream is read, and may change the schema (a proposal
    run drops the list's indexes for a large rewrite).
    """

    def __init__(self, values: Iterator[CustomerValues], *, elsewhere: bool) -> None:
        self._values = values
        self.elsewhere = elsewhere

    def __next__(self) -> CustomerValues:
        return next(self._values)

    def close(self) -> None:
        close = getattr(self._values, "close", None)
        if close is not None:
            close()


def sqlite_value_stream(
    connection: Connection, query: Any, batch_size: int, ahead: bool
) -> ValueStream:
    """The values of every customer, in customer number order.

    `query` is `customer_ledger_query`. With `ahead`, a second process reads it
    where the store allows it; the caller holds the write lock.
    """
    sql = driver_sql(connection, query)
    reader = _second_process(connection, sql, batch_size) if ahead else None
    if reader is None:
        return ValueStream(
            _values(_batches(connection, sql, batch_size)), elsewhere=False
        )
    return ValueStream(_values(reader.batches()), elsewhere=True)


def _values(batches: Generator[list[Any], None, None]) -> Iterator[CustomerValues]:
    """Each customer as (customer number, condition, values), with the values that
    `derive_values` and the flags give; written out because it runs a million times.
    """
    money = money_from_cents
    zero_money = money(0)
    flag_values = _FLAG_VALUES
    try:
        for batch in batches:
            for row in batch:
                (no, condition, flags, invoices, paid, late, days_late) = row[:7]
                (max_late, opened, open_cents, overdue, overdue_cents) = row[7:12]
                (max_overdue, disputed, reminder_count, max_level) = row[12:]
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


def snapshot_database(connection: Connection) -> str | None:
    """The store's file, when another connection can read it beside this transaction.

    Another connection sees this transaction's state of the tables it has not
    written only in write-ahead-log mode (then it reads the last committed state,
    and this transaction holds the write lock). An in-memory store, a URI file
    name, or a file system that refused the log have no such file: None.
    """
    database = connection.engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    driver = connection.connection.driver_connection
    assert driver is not None
    (mode,) = driver.execute("PRAGMA journal_mode").fetchone()
    return database if str(mode).lower() == "wal" else None


def _second_process(
    connection: Connection, sql: str, batch_size: int
) -> SecondProcessReader | None:
    """A reader of `sql` in a second process, or None when this store has none."""
    database = snapshot_database(connection)
    if database is None or not sys.executable:
        return None
    try:
        return SecondProcessReader(database, sql, batch_size, busy_timeout())
    except OSError:
        log.info("proposal run: no second process, reading the ledger in this one")
        return None
