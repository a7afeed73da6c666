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
from collections.abc import Generator, Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, func, select, text

from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import ratio
from segment_tui.store.engine import busy_timeout
from segment_tui.store.models import Customer, money_from_cents
from segment_tui.store.read_ahead import SecondProcessReader

log = logging.getLogger(__name__)

CustomerValues = tuple[str, str | None, tuple[Any, ...]]
"""Customer number, current dunning condition, and the values in VALUE_NAMES order."""

_COUNT_SHIFT = 32
REMINDER_COUNT_UNIT = 1 << _COUNT_SHIFT
REMINDER_LEVEL_OFFSET = 1 << 31
"""A customer's reminder totals come as one number: the count times
`REMINDER_COUNT_UNIT`, plus the highest level plus `REMINDER_LEVEL_OFFSET`. Any
32-bit level (the store's INTEGER on PostgreSQL; an import takes 0 to 2**31 - 1)
then fills the low 32 bits alone, and a count below 2**31 keeps the number within
SQLite's 64-bit integers. Reading both totals in one subquery looks the customer
up in the reminders' index once instead of twice. A level beyond 32 bits, which an
import refuses but a store written by an earlier version may hold, comes as the
text "count level" instead."""
_LOW_BITS = REMINDER_COUNT_UNIT - 1

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

    `elsewhere` is true when other processes read them: then this connection runs
    no statement while the stream is read, and may change the schema (a proposal
    run drops the list's indexes for a large rewrite).
    """

    def __init__(
        self,
        values: Iterator[CustomerValues],
        *,
        elsewhere: bool,
        readers: Sequence[SecondProcessReader] = (),
    ) -> None:
        self._values = values
        self.elsewhere = elsewhere
        self._readers = readers

    def __iter__(self) -> Iterator[CustomerValues]:
        # The values themselves: a loop over the stream then makes no call here
        # for each of a million customers.
        return self._values

    def __next__(self) -> CustomerValues:
        return next(self._values)

    def close(self) -> None:
        close = getattr(self._values, "close", None)
        if close is not None:
            close()
        for reader in self._readers:
            reader.stop()


def sqlite_value_stream(
    connection: Connection, query: Any, batch_size: int, ahead: bool
) -> ValueStream:
    """The values of every customer, in customer number order.

    `query` is `customer_ledger_query`. With `ahead`, second processes read it
    where the store allows it; the caller holds the write lock.
    """
    readers = _second_processes(connection, query, batch_size) if ahead else []
    if not readers:
        sql = driver_sql(connection, query)
        batches = _batches(connection, sql, batch_size)
        return ValueStream(_values(batches), elsewhere=False)
    parts = chain.from_iterable(reader.batches() for reader in readers)
    return ValueStream(_values(parts), elsewhere=True, readers=readers)


def _values(batches: Iterator[list[Any]]) -> Iterator[CustomerValues]:
    """Each customer as (customer number, condition, values), with the values that
    `derive_values` and the flags give; written out because it runs a million times.
    """
    money = money_from_cents
    zero_money = money(0)
    flag_values = _FLAG_VALUES
    shift, low_bits, level_offset = _COUNT_SHIFT, _LOW_BITS, REMINDER_LEVEL_OFFSET
    try:
        for batch in batches:
            for row in batch:
                (no, condition, flags, invoices, paid, late, days_late) = row[:7]
                (max_late, opened, open_cents, overdue, overdue_cents) = row[7:12]
                (max_overdue, disputed, reminders) = row[12:]
                if reminders.__class__ is int:  # see REMINDER_COUNT_UNIT
                    reminder_count = reminders >> shift
                    max_level = (reminders & low_bits) - level_offset
                else:
                    reminder_count, max_level = map(int, reminders.split())
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
        close = getattr(batches, "close", None)
        if close is not None:
            close()


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


READERS = 2
"""How many processes read a large store's values, each a part of the customers."""

FIRST_SHARE = 0.25
"""The first reader's share of the customers; the others share the rest evenly.

The run takes the first part's rows as they are read, while the later parts are
read at once beside it and wait in memory. Reading a customer's values costs about
twice what the run does with them, so with equal halves the run would wait for
the first half and then work through the second alone, a core standing idle.
With a quarter first, the second reader is done about when the run is: at a
million customers on two cores a run took 9.3 s, against 10.9 s with halves."""


def _second_processes(
    connection: Connection, query: Any, batch_size: int
) -> list[SecondProcessReader]:
    """Readers of `query` in other processes, each for a range of customer numbers
    in order; none when this store cannot be read beside the run.

    The later parts are read at once and wait in memory until the run gets to
    them: on two cores the parts are read side by side while this process chooses
    segments and writes proposals.
    """
    database = snapshot_database(connection)
    if database is None or not sys.executable:
        return []
    bounds = _part_bounds(connection, _shares(READERS))
    readers: list[SecondProcessReader] = []
    try:
        for number, (low, high) in enumerate(zip(bounds, bounds[1:], strict=False)):
            # The bounds are customer numbers, bound as parameters ("?" passes
            # through the compiler as it is), never written into the text.
            part = query
            parameters: list[str] = []
            if low is not None:
                part = part.where(text("customer.customer_no >= ?"))
                parameters.append(low)
            if high is not None:
                part = part.where(text("customer.customer_no < ?"))
                parameters.append(high)
            readers.append(
                SecondProcessReader(
                    database,
                    driver_sql(connection, part),
                    batch_size,
                    busy_timeout(),
                    tuple(parameters),
                    buffered=number > 0,
                )
            )
    except OSError:
        for reader in readers:
            reader.stop()
        log.info("proposal run: no second process, reading the ledger in this one")
        return []
    return readers


def _shares(readers: int) -> list[float]:
    """Each reader's share of the customers: see `FIRST_SHARE`."""
    if readers == 1:
        return [1.0]
    rest = (1.0 - FIRST_SHARE) / (readers - 1)
    return [FIRST_SHARE] + [rest] * (readers - 1)


def _part_bounds(connection: Connection, shares: Sequence[float]) -> list[str | None]:
    """Customer numbers that cut the customers into ranges of about these shares:
    None, the first number of each later range, None."""
    customer_no = Customer.__table__.c.customer_no
    total = connection.execute(select(func.count()).select_from(Customer)).scalar_one()
    bounds: list[str | None] = [None]
    before = 0.0
    for share in shares[:-1]:
        before += share
        first = connection.execute(
            select(customer_no)
            .order_by(customer_no)
            .offset(int(total * before))
            .limit(1)
        ).scalar()
        if first is not None and first != bounds[-1]:
            bounds.append(first)
    bounds.append(None)
    return bounds
