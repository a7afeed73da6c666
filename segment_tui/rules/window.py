"""The behaviour window: the months before a reference date that the metrics look at."""

import calendar
from dataclasses import dataclass
from datetime import date

# The reference dates the metrics are computed for. The window reaches back up to
# years and the queries a day beyond the reference, which the ends of Python's
# date range (year 1 and 9999) cannot take; no ledger lies near them anyway.
EARLIEST_REFERENCE = date(1900, 1, 1)
LATEST_REFERENCE = date(2999, 12, 31)


def is_reference_date(day: date) -> bool:
    """Whether `day` can be a reference date (see EARLIEST_REFERENCE)."""
    return EARLIEST_REFERENCE <= day <= LATEST_REFERENCE


def months_before(reference: date, months: int) -> date:
    """The date `months` calendar months before `reference`.

    A day that does not exist in the target month is clamped to that month's last day,
    so 29 February minus 12 months is 28 February and 31 May minus 3 months is
    28 or 29 February.
    """
    total = reference.year * 12 + (reference.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(reference.day, last_day))


@dataclass(frozen=True)
class Window:
    """The half-open window (start, end]: the start day is out, the end day in."""

    start: date
    end: date

    @classmethod
    def before(cls, reference: date, months: int) -> "Window":
        return cls(start=months_before(reference, months), end=reference)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start < day <= self.end
