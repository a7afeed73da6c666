"""The metrics of every customer in one SQL aggregate over `ledger_entry`.

The expressions (`ledger_totals`) compute what `segment_tui.rules.metrics.
compute_totals` computes, in a form that is cheap for the database; tests hold the
two against each other. Only whole-number and money totals are computed here; ratios
and averages follow in Python from `Metrics.derive`.

Two queries use them: `customer_totals_query` joins every customer to the ledger
and reminder aggregates (the metrics command, the customer page, a proposal run on
PostgreSQL), and `customer_ledger_query` aggregates each customer's entries and
reminders in one streamed pass, which a proposal run on SQLite reads
(`iter_customer_values`).
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    String,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import Totals, derive_values
from segment_tui.rules.window import Window
from segment_tui.store.models import Customer, Day, LedgerEntry, Money, Reminder
from segment_tui.store.sqlite_values import (
    REMINDER_COUNT_UNIT,
    REMINDER_LEVEL_OFFSET,
    CustomerValues,
    ValueStream,
    sqlite_value_stream,
)


class days_between(FunctionElement[int]):
    """Whole days from the first date to the second (later minus earlier).

    Plain subtraction on both databases: PostgreSQL subtracts DATEs to days, and
    SQLite stores days as Julian day numbers.
    """

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: Any, compiler: Any, **kw: Any) -> str:
    earlier, later = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


FLAG_COLUMNS = FLAG_NAMES
"""The customer's flag columns, in the order of the flags among the rules' values."""


_TOTALS_OF = {
    "late_ratio": ("late_count", "paid_count"),
    "avg_days_late": ("days_late_sum", "paid_count"),
    "reminder_count": (),
    "max_reminder_level": (),
}
"""The totals a metric follows from, where they are not the metric's own name."""


def totals_for(metrics: Collection[str]) -> frozenset[str]:
    """The ledger totals (`Totals` field names) that the given metrics need."""
    needed: set[str] = set()
    for metric in metrics:
        needed.update(_TOTALS_OF.get(metric, (metric,)))
    return frozenset(needed)


@dataclass(frozen=True)
class CustomerRow:
    """A customer with its flags, current condition and segment, and its totals."""

    customer_no: str
    name: str
    dunning_condition: str | None
    segment: str | None
    flags: dict[str, bool]
    totals: Totals


def ledger_totals(
    le: Any, reference: date, lookback_months: int, tolerance: int
) -> list[Any]:
    """The ledger totals of one customer as aggregates over the entries `le`.

    In `Totals` order, for the invoices up to the reference date (the query must
    keep only those: amount > 0 and posting date <= R, see `invoice_filter`; it
    may also leave out what `counted_filter` leaves out).

    Every total is an aggregate with a FILTER: the database skips an aggregate's step
    for the rows its filter leaves out, which measured a third cheaper than a CASE
    per aggregate. The conditions are rewritten so that each reads few columns: an
    invoice is open when it is not closed by R and something is still owed, overdue
    when it is open and due before R - T; the largest days overdue is R minus the
    earliest such due date. Over no rows (a customer without invoices) every total
    is 0.
    """
    window = Window.before(reference, lookback_months)
    ref = literal(reference, Day())
    start = literal(window.start, Day())
    day_after = literal(reference + timedelta(days=1), Day())
    overdue_before = literal(reference - timedelta(days=tolerance), Day())
    zero: ColumnElement[int] = literal_column("0", Integer())

    posted_in_window = le.posting_date > start
    paid_in_window = and_(le.closed_at > start, le.closed_at <= ref)
    past_due = days_between(le.due_date, le.closed_at)
    unpaid = func.coalesce(le.remaining_amount, le.amount)
    # Not closed by the end of R: no closing date, or a later one.
    not_closed = func.coalesce(le.closed_at, day_after) > ref
    is_open = and_(not_closed, or_(le.closed_at.is_not(None), unpaid > 0))
    open_amount = case((le.closed_at.is_(None), unpaid), else_=le.amount)
    is_overdue = and_(is_open, le.due_date < overdue_before)
    paid_late = and_(paid_in_window, le.closed_at > le.due_date)

    def total(aggregate: Any, type_: Any = None) -> Any:
        return func.coalesce(aggregate, zero, type_=type_ or Integer())

    # Every count has a filter, which is NULL (so false) on the one empty row that
    # a LEFT JOIN gives a customer without invoices: that customer counts 0.
    count = func.count().filter
    return [
        count(posted_in_window).label("invoice_count"),
        count(paid_in_window).label("paid_count"),
        count(and_(paid_in_window, past_due > tolerance)).label("late_count"),
        total(func.sum(past_due).filter(paid_late)).label("days_late_sum"),
        total(func.max(past_due).filter(paid_late)).label("max_days_late"),
        count(is_open).label("open_count"),
        total(func.sum(open_amount).filter(is_open), Money()).label("open_amount"),
        count(is_overdue).label("overdue_count"),
        total(func.sum(open_amount).filter(is_overdue), Money()).label(
            "overdue_amount"
        ),
        total(days_between(func.min(le.due_date).filter(is_overdue), ref)).label(
            "max_days_overdue"
        ),
        count(and_(posted_in_window, le.disputed)).label("disputed_count"),
    ]


def invoice_filter(le: Any, reference: date) -> ColumnElement[bool]:
    """The ledger entries that the metrics count: invoices posted up to R."""
    return and_(le.amount > 0, le.posting_date <= literal(reference, Day()))


_POSTED_TOTALS = frozenset({"invoice_count", "disputed_count"})
"""The totals that count an invoice by its posting date; every other ledger total
counts it by when it was closed (paid in the window) or that it is still open."""

LEDGER_TOTALS = frozenset(field.name for field in fields(Totals)) - {
    "reminder_count",
    "max_reminder_level",
}
"""The totals that `ledger_totals` computes: all but the reminders'."""


def counted_filter(
    le: Any, reference: date, lookback_months: int, needed: Collection[str]
) -> ColumnElement[bool]:
    """Invoices that may count in one of the `needed` ledger totals; a cheap test.

    Within `invoice_filter`. A total that counts by posting date needs the invoice
    posted in the window; every other one needs it paid in the window or still
    open at R, so not closed by the window's start. An invoice settled before the
    window counts in none of them, and on a ledger of several years that is most
    of its entries: leaving them out of the aggregate spares each total's filter.
    This only leaves out what every total's own filter leaves out as well, so the
    totals are the same.
    """
    window = Window.before(reference, lookback_months)
    start = literal(window.start, Day())
    day_after = literal(reference + timedelta(days=1), Day())
    tests = []
    if _POSTED_TOTALS & set(needed):
        tests.append(le.posting_date > start)
    if set(needed) - _POSTED_TOTALS:
        tests.append(func.coalesce(le.closed_at, day_after) > start)
    if not tests:
        return false()
    return or_(*tests)


def ledger_totals_query(reference: date, lookback_months: int, tolerance: int) -> Any:
    """One GROUP BY customer over the invoices up to the reference date."""
    le = LedgerEntry.__table__.c
    return (
        select(
            le.customer_no.label("customer_no"),
            *ledger_totals(le, reference, lookback_months, tolerance),
        )
        .where(
            invoice_filter(le, reference),
            counted_filter(le, reference, lookback_months, LEDGER_TOTALS),
        )
        .group_by(le.customer_no)
    )


def reminder_totals_query(reference: date, lookback_months: int) -> Any:
    window = Window.before(reference, lookback_months)
    rc = Reminder.__table__.c
    return (
        select(
            rc.customer_no.label("customer_no"),
            func.count().label("reminder_count"),
            func.max(rc.level).label("max_reminder_level"),
        )
        .where(
            rc.issued_on > literal(window.start, Day()),
            rc.issued_on <= literal(reference, Day()),
        )
        .group_by(rc.customer_no)
    )


def customer_totals_query(
    reference: date,
    lookback_months: int,
    tolerance: int,
    customer_nos: list[str] | None = None,
) -> Any:
    """Every customer (or the given ones) with its totals, in customer number order."""
    ledger_query = ledger_totals_query(reference, lookback_months, tolerance)
    reminder_query = reminder_totals_query(reference, lookback_months)
    if customer_nos is not None:
        # Filter inside the aggregates too: for one customer's page the database
        # then reads that customer's entries only, not the whole ledger.
        ledger_query = ledger_query.where(
            LedgerEntry.__table__.c.customer_no.in_(customer_nos)
        )
        reminder_query = reminder_query.where(
            Reminder.__table__.c.customer_no.in_(customer_nos)
        )
    ledger = ledger_query.subquery("lt")
    reminders = reminder_query.subquery("rt")
    customer = Customer.__table__
    cu = customer.c
    zero: ColumnElement[int] = literal_column("0", Integer())

    def total(column: Any, type_: Any = None) -> Any:
        return func.coalesce(column, zero, type_=type_ or Integer())

    query = (
        select(
            cu.customer_no,
            cu.name,
            cu.dunning_condition,
            cu.segment,
            *(cu[flag].cast(Boolean) for flag in FLAG_COLUMNS),
            total(ledger.c.invoice_count),
            total(ledger.c.paid_count),
            total(ledger.c.late_count),
            total(ledger.c.days_late_sum),
            total(ledger.c.max_days_late),
            total(ledger.c.open_count),
            total(ledger.c.open_amount, Money()),
            total(ledger.c.overdue_count),
            total(ledger.c.overdue_amount, Money()),
            total(ledger.c.max_days_overdue),
            total(ledger.c.disputed_count),
            total(reminders.c.reminder_count),
            total(reminders.c.max_reminder_level),
        )
        .select_from(customer)
        .outerjoin(ledger, ledger.c.customer_no == cu.customer_no)
        .outerjoin(reminders, reminders.c.customer_no == cu.customer_no)
        .order_by(cu.customer_no)
    )
    if customer_nos is not None:
        query = query.where(cu.customer_no.in_(customer_nos))
    return query


def customer_ledger_query(
    reference: date,
    lookback_months: int,
    tolerance: int,
    metrics: Collection[str] | None = None,
) -> Any:
    """Every customer with its flags, ledger and reminder totals, in customer order.

    What a proposal run reads on SQLite: the customer number, the dunning condition,
    the flags as one number (flag i in bit i, in `FLAG_COLUMNS` order), the ledger
    totals and the reminder totals. The same totals as `customer_totals_query`, but
    SQLite joins an aggregate by writing it all to a temporary table and indexing it
    first; here it walks the customers in key order, aggregates each one's entries
    through the ledger's unique index (which starts with the customer) and reads
    its reminders through the reminders' unique index, so the rows stream out as
    they are made. The two reminder totals come as one number (see
    `sqlite_values.REMINDER_COUNT_UNIT`): one look-up in that index per customer
    instead of two, a tenth of the query's time.

    With `metrics` given, only the totals those metrics need are computed; every
    other total is 0. A proposal run reads only the metrics of its setup's
    conditions and the two a proposal keeps, and each total it leaves out saves
    an aggregate step for each of the ledger's entries.
    """
    customer = Customer.__table__
    cu = customer.c
    le = LedgerEntry.__table__
    flag_bits = [
        type_coerce(cu[flag], Integer) * (1 << bit)
        for bit, flag in enumerate(FLAG_COLUMNS)
    ]
    window = Window.before(reference, lookback_months)
    rc = Reminder.__table__.c
    issued_in_window = and_(
        rc.customer_no == cu.customer_no,
        rc.issued_on > literal(window.start, Day()),
        rc.issued_on <= literal(reference, Day()),
    )
    zero: ColumnElement[int] = literal_column("0", Integer())
    totals = ledger_totals(le.c, reference, lookback_months, tolerance)
    count_wanted = metrics is None or "reminder_count" in metrics
    level_wanted = metrics is None or "max_reminder_level" in metrics
    offset = literal(REMINDER_LEVEL_OFFSET, Integer())
    reminders: Any = offset
    if count_wanted or level_wanted:
        count = func.count() if count_wanted else zero
        level = func.coalesce(func.max(rc.level), zero) if level_wanted else zero
        packed = count * literal(REMINDER_COUNT_UNIT, Integer()) + level + offset
        if level_wanted:
            # A level beyond 32 bits (which a store written before imports
            # checked levels may hold) does not fit: as text instead.
            fits = level.between(-REMINDER_LEVEL_OFFSET, REMINDER_LEVEL_OFFSET - 1)
            as_text = (
                type_coerce(count, String())
                + literal(" ")
                + type_coerce(level, String())
            )
            packed = case((fits, packed), else_=as_text)
        reminders = select(packed).where(issued_in_window).scalar_subquery()
    needed = LEDGER_TOTALS if metrics is None else totals_for(metrics)
    totals = [
        total if total.name in needed else zero.label(total.name) for total in totals
    ]
    entries = and_(
        le.c.customer_no == cu.customer_no,
        invoice_filter(le.c, reference),
        counted_filter(le.c, reference, lookback_months, needed & LEDGER_TOTALS),
    )
    return (
        select(
            cu.customer_no,
            cu.dunning_condition,
            sum(flag_bits[1:], flag_bits[0]).label("flags"),
            *totals,
            reminders.label("reminders"),
        )
        .select_from(customer.outerjoin(le, entries))
        .group_by(cu.customer_no)
        .order_by(cu.customer_no)
    )


def iter_customer_values(
    connection: Connection,
    reference: date,
    lookback_months: int,
    tolerance: int,
    batch_size: int = 10_000,
    *,
    read_ahead: bool = False,
    metrics: Collection[str] | None = None,
) -> ValueStream:
    """Stream (customer number, dunning condition, values) for every customer.

    The values are the metrics and the flags in `rules.chooser.VALUE_NAMES` order:
    what a proposal run needs, without an object per customer. On SQLite they come
    from `customer_ledger_query` (see `sqlite_values`), with `read_ahead` read by a
    second process where the store allows it (the caller must hold the write lock);
    PostgreSQL runs the join of `customer_totals_query`, with parallel workers
    where it sees fit. With `metrics` given, SQLite computes only those metrics;
    the others are 0 (see `customer_ledger_query`).
    """
    if connection.dialect.name == "sqlite":
        return sqlite_value_stream(
            connection,
            customer_ledger_query(reference, lookback_months, tolerance, metrics),
            batch_size,
            read_ahead,
        )
    query = customer_totals_query(reference, lookback_months, tolerance)
    return ValueStream(_joined_values(connection, query, batch_size), elsewhere=False)


def _joined_values(
    connection: Connection, query: Any, batch_size: int
) -> Iterator[CustomerValues]:
    # Per statement: Connection.execution_options would change the connection itself,
    # and its later statements would then use a server-side cursor too, which cannot
    # run the executemany inserts of a proposal run on PostgreSQL.
    result = connection.execute(query, execution_options={"yield_per": batch_size})
    for row in result:
        yield row[0], row[2], derive_values(row[9:]) + tuple(row[4:9])


def iter_customer_totals(
    connection: Connection,
    reference: date,
    lookback_months: int,
    tolerance: int,
    customer_nos: list[str] | None = None,
    batch_size: int = 10_000,
) -> Iterator[CustomerRow]:
    """Stream every customer with its totals, without holding them all in memory."""
    query = customer_totals_query(reference, lookback_months, tolerance, customer_nos)
    # Per statement: Connection.execution_options would change the connection itself,
    # and its later statements would then use a server-side cursor too, which cannot
    # run the executemany inserts of a proposal run on PostgreSQL.
    result = connection.execute(query, execution_options={"yield_per": batch_size})
    for row in result:
        (no, name, condition, segment, *rest) = row
        flags = dict(zip(FLAG_COLUMNS, (bool(v) for v in rest[:5]), strict=True))
        totals = Totals(*rest[5:])
        yield CustomerRow(no, name, condition, segment, flags, totals)
