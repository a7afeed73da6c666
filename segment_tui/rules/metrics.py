"""The metrics of one customer as of a reference date, written once as plain Python.

This is the reference definition of every metric of the contract (section 4). The
store computes the same totals in one SQL aggregate for speed; tests hold the two
against each other. Ratios and averages are derived from the totals by
`Metrics.derive`, which both paths share, so they are exact decimals, never floats.
"""

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from segment_tui.rules.window import Window

ZERO = Decimal("0")


@dataclass(frozen=True)
class Invoice:
    """A ledger entry as the metrics see it; one with amount <= 0 is no invoice."""

    posting_date: date
    due_date: date
    amount: Decimal
    remaining_amount: Decimal | None = None
    closed_at: date | None = None
    disputed: bool = False


@dataclass(frozen=True)
class Reminder:
    """A reminder issued to the customer at a level (1 is the first reminder)."""

    issued_on: date
    level: int


@dataclass(frozen=True)
class Totals:
    """Whole-number and money totals from which every metric follows.

    The SQL aggregate in the store returns exactly these fields.
    """

    invoice_count: int = 0
    paid_count: int = 0
    late_count: int = 0
    days_late_sum: int = 0
    max_days_late: int = 0
    open_count: int = 0
    open_amount: Decimal = ZERO
    overdue_count: int = 0
    overdue_amount: Decimal = ZERO
    max_days_overdue: int = 0
    disputed_count: int = 0
    reminder_count: int = 0
    max_reminder_level: int = 0


@dataclass(frozen=True)
class Metrics:
    """The metrics of the contract, by their contract names."""

    invoice_count: int = 0
    paid_count: int = 0
    late_count: int = 0
    late_ratio: Decimal = ZERO
    avg_days_late: Decimal = ZERO
    max_days_late: int = 0
    open_count: int = 0
    open_amount: Decimal = ZERO
    overdue_count: int = 0
    overdue_amount: Decimal = ZERO
    max_days_overdue: int = 0
    disputed_count: int = 0
    reminder_count: int = 0
    max_reminder_level: int = 0

    @classmethod
    def derive(cls, totals: Totals) -> "Metrics":
        return cls(*derive_values(astuple(totals)))

    def as_dict(self) -> dict[str, int | Decimal]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Metrics))


def derive_values(totals: Sequence[Any]) -> tuple[Any, ...]:
    """The metrics, in `METRIC_NAMES` order, from totals in `Totals` field order.

    The one place where ratios and averages are defined: exact decimals, 0 when
    nothing was paid in the window.
    """
    (invoices, paid, late, days_late_sum, *rest) = totals
    return (invoices, paid, late, ratio(late, paid), ratio(days_late_sum, paid), *rest)


# A proposal run divides twice per customer, a million times, while the pairs of
# small counts repeat: the cache saves most of the decimal divisions.
@lru_cache(maxsize=1 << 16)
def ratio(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator as an exact decimal; 0 when the denominator is 0."""
    return Decimal(numerator) / denominator if denominator else ZERO


def open_amount_at(invoice: Invoice, reference: date) -> Decimal:
    """What is still owed on the invoice at the end of the reference date."""
    if invoice.closed_at is None:
        if invoice.remaining_amount is None:
            return invoice.amount
        return invoice.remaining_amount
    if invoice.closed_at > reference:
        return invoice.amount
    return ZERO


def compute_totals(
    invoices: Iterable[Invoice],
    reminders: Iterable[Reminder],
    reference: date,
    lookback_months: int,
    late_tolerance_days: int,
) -> Totals:
    """The totals of one customer's entries as of `reference`."""
    window = Window.before(reference, lookback_months)
    tolerance = late_tolerance_days
    invoice_count = paid_count = late_count = days_late_sum = max_days_late = 0
    open_count = overdue_count = max_days_overdue = disputed_count = 0
    open_amount = overdue_amount = ZERO

    for invoice in invoices:
        if invoice.amount <= 0 or invoice.posting_date > reference:
            continue

        if invoice.posting_date in window:
            invoice_count += 1
            if invoice.disputed:
                disputed_count += 1

        closed = invoice.closed_at
        if closed is not None and closed in window:
            paid_count += 1
            past_due = (closed - invoice.due_date).days
            days_late = max(0, past_due)
            days_late_sum += days_late
            max_days_late = max(max_days_late, days_late)
            if past_due > tolerance:
                late_count += 1

        still_open = open_amount_at(invoice, reference)
        if still_open > 0:
            open_count += 1
            open_amount += still_open
            days_overdue = (reference - invoice.due_date).days
            if days_overdue > tolerance:
                overdue_count += 1
                overdue_amount += still_open
                max_days_overdue = max(max_days_overdue, days_overdue)

    reminder_count = max_reminder_level = 0
    for reminder in reminders:
        if reminder.issued_on in window:
            reminder_count += 1
            max_reminder_level = max(max_reminder_level, reminder.level)

    return Totals(
        invoice_count=invoice_count,
        paid_count=paid_count,
        late_count=late_count,
        days_late_sum=days_late_sum,
        max_days_late=max_days_late,
        open_count=open_count,
        open_amount=open_amount,
        overdue_count=overdue_count,
        overdue_amount=overdue_amount,
        max_days_overdue=max_days_overdue,
        disputed_count=disputed_count,
        reminder_count=reminder_count,
        max_reminder_level=max_reminder_level,
    )


def compute_metrics(
    invoices: Iterable[Invoice],
    reminders: Iterable[Reminder],
    reference: date,
    lookback_months: int,
    late_tolerance_days: int,
) -> Metrics:
    """The metrics of one customer as of `reference` (contract section 4)."""
    totals = compute_totals(
        invoices, reminders, reference, lookback_months, late_tolerance_days
    )
    return Metrics.derive(totals)
