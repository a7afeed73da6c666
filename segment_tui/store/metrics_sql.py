"""The metrics of every customer in one SQL aggregate over `ledger_entry`.

The expressions mirror `segment_tui.rules.metrics.compute_totals` clause by clause;
tests hold the two against each other. Only whole-number and money totals are computed
here; ratios and averages follow in Python from `Metrics.derive`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from segment_tui.rules.metrics import Totals, derive_values
from segment_tui.rules.window import Window
from segment_tui.store.models import Customer, Day, LedgerEntry, Money, Reminder


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


def _greatest(a: ColumnElement[int], b: ColumnElement[int]) -> ColumnElement[int]:
    return case((a > b, a), else_=b)


@dataclass(frozen=True)
class CustomerRow:
    """A customer with its flags, current condition and segment, and its totals."""

    customer_no: str
    name: str
    dunning_condition: str | None
    segment: str | None
    flags: dict[str, bool]
    totals: Totals


FLAG_COLUMNS = (
    "blocked",
    "segmentation_blocked",
    "payment_arrangement",
    "debt_restructuring",
    "handed_over",
)


def ledger_totals_query(reference: date, lookback_months: int, tolerance: int) -> Any:
    """One GROUP BY customer over the invoices up to the reference date."""
    window = Window.before(reference, lookback_months)
    le = LedgerEntry.__table__.c
    ref = literal(reference, Day())
    start = literal(window.start, Day())
    posted_in_window = le.posting_date > start
    paid_in_window = and_(le.closed_at.is_not(None), le.closed_at > start)
    paid_in_window = and_(paid_in_window, le.closed_at <= ref)
    past_due = days_between(le.due_date, le.closed_at)
    one: ColumnElement[int] = literal_column("1", Integer())
    zero: ColumnElement[int] = literal_column("0", Integer())
    days_late = _greatest(past_due, zero)
    open_amount = case(
        (le.closed_at.is_(None), func.coalesce(le.remaining_amount, le.amount)),
        (le.closed_at > ref, le.amount),
        else_=zero,
    )
    days_overdue = days_between(le.due_date, ref)
    is_open = open_amount > 0
    is_overdue = and_(is_open, days_overdue > tolerance)

    return (
        select(
            le.customer_no.label("customer_no"),
            func.sum(case((posted_in_window, one), else_=zero)).label("invoice_count"),
            func.sum(case((paid_in_window, one), else_=zero)).label("paid_count"),
            func.sum(
                case((and_(paid_in_window, past_due > tolerance), one), else_=zero)
            ).label("late_count"),
            func.sum(case((paid_in_window, days_late), else_=zero)).label(
                "days_late_sum"
            ),
            func.max(case((paid_in_window, days_late), else_=zero)).label(
                "max_days_late"
            ),
            func.sum(case((is_open, one), else_=zero)).label("open_count"),
            func.sum(case((is_open, open_amount), else_=zero), type_=Money()).label(
                "open_amount"
            ),
            func.sum(case((is_overdue, one), else_=zero)).label("overdue_count"),
            func.sum(case((is_overdue, open_amount), else_=zero), type_=Money()).label(
                "overdue_amount"
            ),
            func.max(case((is_overdue, days_overdue), else_=zero)).label(
                "max_days_overdue"
            ),
            func.sum(
                case((and_(posted_in_window, le.disputed), one), else_=zero)
            ).label("disputed_count"),
        )
        .where(le.amount > 0, le.posting_date <= ref)
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


def iter_customer_values(
    connection: Connection,
    reference: date,
    lookback_months: int,
    tolerance: int,
    batch_size: int = 10_000,
) -> Iterator[tuple[str, str | None, tuple[Any, ...]]]:
    """Stream (customer number, dunning condition, values) for every customer.

    The values are the metrics and the flags in `rules.chooser.VALUE_NAMES` order:
    what a proposal run needs, without an object per customer.
    """
    query = customer_totals_query(reference, lookback_months, tolerance)
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
