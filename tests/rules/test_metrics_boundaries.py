"""The metric definitions at their edges (contract section 4), one tiny ledger a case.

Each case is a handful of invoices and reminders of one customer and the metrics they
must give. Unless a case says otherwise the reference date R is 30 June 2024 and the
window is the 12 months before it, (30 June 2023, 30 June 2024], with no tolerance.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest

from segment_tui.rules.metrics import Invoice, Metrics, Reminder, compute_metrics

R = date(2024, 6, 30)
START = date(2023, 6, 30)
DAY = timedelta(days=1)


def inv(
    posting: date,
    due: date,
    amount: str = "100",
    *,
    closed: date | None = None,
    remaining: str | None = None,
    disputed: bool = False,
) -> Invoice:
    return Invoice(
        posting_date=posting,
        due_date=due,
        amount=Decimal(amount),
        remaining_amount=None if remaining is None else Decimal(remaining),
        closed_at=closed,
        disputed=disputed,
    )


def case(
    case_id: str,
    invoices: Sequence[Invoice],
    expected: dict[str, object] | Metrics,
    *,
    reminders: Sequence[Reminder] = (),
    reference: date = R,
    months: int = 12,
    tolerance: int = 0,
) -> object:
    return pytest.param(
        invoices, reminders, reference, months, tolerance, expected, id=case_id
    )


# An invoice posted and due well inside the window, for cases about its closing date.
P = date(2024, 3, 1)
D = date(2024, 3, 31)

CASES = [
    # --- open and overdue at R ----------------------------------------------------
    case(
        "due-on-R-is-open-not-overdue",
        [inv(date(2024, 5, 31), R)],
        {"open_count": 1, "open_amount": Decimal(100), "overdue_count": 0},
    ),
    case(
        "due-day-before-R-is-overdue-1-day",
        [inv(date(2024, 5, 30), R - DAY)],
        {
            "overdue_count": 1,
            "overdue_amount": Decimal(100),
            "max_days_overdue": 1,
        },
    ),
    case(
        "overdue-within-tolerance-is-not-overdue",
        [inv(date(2024, 5, 26), R - 5 * DAY)],
        {"open_count": 1, "overdue_count": 0, "max_days_overdue": 0},
        tolerance=5,
    ),
    case(
        "overdue-one-past-tolerance",
        [inv(date(2024, 5, 25), R - 6 * DAY)],
        {"overdue_count": 1, "overdue_amount": Decimal(100), "max_days_overdue": 6},
        tolerance=5,
    ),
    case(
        "closed-on-R-is-not-open",
        [inv(P, D, closed=R)],
        {"open_count": 0, "open_amount": Decimal(0), "paid_count": 1},
    ),
    case(
        "closed-day-after-R-is-open-full-amount",
        [inv(P, D, "80.25", closed=R + DAY)],
        {
            "open_count": 1,
            "open_amount": Decimal("80.25"),
            "overdue_count": 1,
            "overdue_amount": Decimal("80.25"),
            "max_days_overdue": 91,
            "paid_count": 0,
        },
    ),
    case(
        "closed-after-R-ignores-remaining-amount",
        [inv(P, D, "80.25", closed=R + DAY, remaining="0")],
        {"open_count": 1, "open_amount": Decimal("80.25")},
    ),
    case(
        "no-closing-date-uses-remaining-amount",
        [inv(P, D, "100", remaining="40.10")],
        {
            "open_count": 1,
            "open_amount": Decimal("40.10"),
            "overdue_amount": Decimal("40.10"),
        },
    ),
    case(
        "no-closing-date-no-remaining-is-full-amount",
        [inv(P, D, "100")],
        {"open_count": 1, "open_amount": Decimal(100)},
    ),
    case(
        "remaining-zero-is-not-open",
        [inv(P, D, "100", remaining="0")],
        {
            "open_count": 0,
            "open_amount": Decimal(0),
            "overdue_count": 0,
            "max_days_overdue": 0,
            "invoice_count": 1,
        },
    ),
    case(
        "open-and-overdue-amounts-sum",
        [
            inv(P, D, "10.10"),
            inv(P, date(2024, 6, 1), "20.20", remaining="5.05"),
            inv(date(2024, 6, 15), date(2024, 7, 15), "30.30"),
            inv(P, D, "99", closed=date(2024, 4, 1)),
        ],
        {
            "open_count": 3,
            "open_amount": Decimal("45.45"),
            "overdue_count": 2,
            "overdue_amount": Decimal("15.15"),
            "max_days_overdue": 91,
        },
    ),
    case(
        "closed-invoice-long-past-due-is-not-overdue",
        [inv(date(2020, 1, 1), date(2020, 1, 31), closed=date(2020, 3, 1))],
        Metrics(),
    ),
    # --- days late and the tolerance ------------------------------------------------
    case(
        "paid-on-due-date-is-on-time",
        [inv(P, D, closed=D)],
        {"paid_count": 1, "late_count": 0, "max_days_late": 0},
    ),
    case(
        "paid-one-day-late-no-tolerance-is-late",
        [inv(P, D, closed=D + DAY)],
        {"paid_count": 1, "late_count": 1, "max_days_late": 1},
    ),
    case(
        "exactly-T-days-late-is-on-time",
        [inv(P, D, closed=D + 5 * DAY)],
        {
            "paid_count": 1,
            "late_count": 0,
            "late_ratio": Decimal(0),
            "max_days_late": 5,
            "avg_days_late": Decimal(5),
        },
        tolerance=5,
    ),
    case(
        "T-plus-one-days-late-is-late",
        [inv(P, D, closed=D + 6 * DAY)],
        {"late_count": 1, "late_ratio": Decimal(1), "max_days_late": 6},
        tolerance=5,
    ),
    case(
        "paid-early-has-zero-days-late",
        [inv(P, D, closed=P + DAY)],
        {
            "paid_count": 1,
            "late_count": 0,
            "max_days_late": 0,
            "avg_days_late": Decimal(0),
        },
    ),
    case(
        "late-ratio-one-of-three-is-exact",
        [
            inv(P, D, closed=D),
            inv(P, D, closed=D - DAY),
            inv(P, D, closed=D + 2 * DAY),
        ],
        {
            "paid_count": 3,
            "late_count": 1,
            "late_ratio": Decimal(1) / Decimal(3),
        },
    ),
    case(
        "avg-days-late-counts-early-as-zero",
        [
            inv(P, D, closed=D - 10 * DAY),
            inv(P, D, closed=D + 3 * DAY),
            inv(P, D, closed=D + 10 * DAY),
        ],
        {
            "avg_days_late": Decimal(13) / Decimal(3),
            "max_days_late": 10,
            "late_count": 2,
        },
    ),
    # --- the window: start day out, end day in -------------------------------------
    case(
        "posted-on-window-start-not-counted",
        [inv(START, START + 30 * DAY, closed=START + 10 * DAY)],
        {"invoice_count": 0, "paid_count": 1},
    ),
    case(
        "posted-day-after-window-start-counted",
        [inv(START + DAY, START + 31 * DAY, closed=START + 10 * DAY)],
        {"invoice_count": 1, "paid_count": 1},
    ),
    case(
        "posted-on-R-counted",
        [inv(R, R + 30 * DAY)],
        {"invoice_count": 1, "open_count": 1, "overdue_count": 0},
    ),
    case(
        "closed-on-window-start-not-paid-in-window",
        [inv(START - 40 * DAY, START - 10 * DAY, closed=START)],
        Metrics(),
    ),
    case(
        "closed-day-after-window-start-paid-in-window",
        [inv(START - 40 * DAY, START - 10 * DAY, closed=START + DAY)],
        {
            "invoice_count": 0,
            "paid_count": 1,
            "late_count": 1,
            "max_days_late": 11,
            "open_count": 0,
        },
    ),
    case(
        "posting-after-R-ignored-entirely",
        [
            inv(R + DAY, R - 10 * DAY, disputed=True),
            inv(R + DAY, R - 10 * DAY, closed=R - DAY),
        ],
        Metrics(),
    ),
    case(
        "29-feb-minus-12-months-start-excluded",
        [inv(date(2023, 2, 28), date(2023, 3, 30), closed=date(2023, 2, 28))],
        Metrics(),
        reference=date(2024, 2, 29),
    ),
    case(
        "29-feb-minus-12-months-day-after-start-counted",
        [inv(date(2023, 3, 1), date(2023, 3, 31), closed=date(2023, 3, 1))],
        {"invoice_count": 1, "paid_count": 1},
        reference=date(2024, 2, 29),
    ),
    case(
        "one-month-window-from-31-march",
        [
            inv(date(2024, 2, 29), date(2024, 3, 30), closed=date(2024, 3, 1)),
            inv(date(2024, 3, 1), date(2024, 3, 31), closed=date(2024, 2, 29)),
        ],
        {"invoice_count": 1, "paid_count": 1},
        reference=date(2024, 3, 31),
        months=1,
    ),
    # --- entries that are no invoice ------------------------------------------------
    case(
        "credit-memo-ignored-everywhere",
        [
            inv(P, D, "-50", disputed=True),
            inv(P, D, "-50", closed=D + 9 * DAY, disputed=True),
            inv(P, D, "-50", remaining="-50"),
        ],
        Metrics(),
    ),
    case(
        "zero-amount-ignored-everywhere",
        [
            inv(P, D, "0", disputed=True),
            inv(P, D, "0", closed=D + 9 * DAY),
            inv(P, D, "0.00", remaining="10"),
        ],
        Metrics(),
    ),
    case(
        "credit-memo-does-not-offset-invoices",
        [inv(P, D, "100"), inv(P, D, "-100")],
        {"invoice_count": 1, "open_count": 1, "open_amount": Decimal(100)},
    ),
    case("no-invoices-all-zero", [], Metrics()),
    # --- disputes -------------------------------------------------------------------
    case(
        "disputed-counted-when-posted-in-window",
        [inv(P, D, disputed=True, closed=D), inv(P, D, closed=D)],
        {"disputed_count": 1, "invoice_count": 2},
    ),
    case(
        "disputed-posted-on-window-start-not-counted",
        [inv(START, START + 30 * DAY, disputed=True, closed=START + 40 * DAY)],
        {"disputed_count": 0, "invoice_count": 0, "paid_count": 1},
    ),
    case(
        "disputed-posted-before-window-not-counted",
        [inv(date(2022, 1, 1), date(2022, 1, 31), disputed=True)],
        {"disputed_count": 0, "open_count": 1, "overdue_count": 1},
    ),
    # --- reminders ------------------------------------------------------------------
    case(
        "reminders-in-window-counted-with-max-level",
        [],
        {"reminder_count": 2, "max_reminder_level": 3},
        reminders=[Reminder(date(2024, 1, 10), 3), Reminder(R, 1)],
    ),
    case(
        "reminder-on-window-start-not-counted",
        [],
        {"reminder_count": 1, "max_reminder_level": 1},
        reminders=[Reminder(START, 4), Reminder(START + DAY, 1)],
    ),
    case(
        "reminder-after-R-not-counted",
        [],
        Metrics(),
        reminders=[Reminder(R + DAY, 2)],
    ),
]


@pytest.mark.parametrize(
    ("invoices", "reminders", "reference", "months", "tolerance", "expected"), CASES
)
def test_metric_boundaries(
    invoices: Sequence[Invoice],
    reminders: Sequence[Reminder],
    reference: date,
    months: int,
    tolerance: int,
    expected: dict[str, object] | Metrics,
) -> None:
    metrics = compute_metrics(invoices, reminders, reference, months, tolerance)

    if isinstance(expected, Metrics):
        assert metrics == expected
    else:
        actual = {name: metrics.as_dict()[name] for name in expected}
        assert actual == expected


def test_ratios_and_amounts_are_decimals_never_floats() -> None:
    invoices = [
        inv(P, D, "0.10", closed=D + DAY),
        inv(P, D, "0.20", closed=D),
        inv(P, D, "0.30", closed=D),
        inv(P, D, "0.10"),
        inv(P, D, "0.20"),
    ]

    metrics = compute_metrics(invoices, [], R, 12, 0)

    assert metrics.late_ratio == Decimal(1) / Decimal(3)
    assert metrics.avg_days_late == Decimal(1) / Decimal(3)
    assert metrics.open_amount == Decimal("0.30")
    for name, value in metrics.as_dict().items():
        assert not isinstance(value, float), name
        if name.endswith(("_ratio", "_amount")) or name.startswith("avg_"):
            assert isinstance(value, Decimal), name


def test_order_of_entries_does_not_matter() -> None:
    invoices = [
        inv(P, D, "12.5", closed=D + 4 * DAY, disputed=True),
        inv(P, D, "7", remaining="3"),
        inv(date(2024, 6, 20), date(2024, 7, 20), "1"),
        inv(START, START + 30 * DAY, closed=START + 40 * DAY),
    ]
    reminders = [Reminder(date(2024, 4, 10), 1), Reminder(date(2024, 5, 10), 2)]

    forward = compute_metrics(invoices, reminders, R, 12, 2)
    backward = compute_metrics(invoices[::-1], reminders[::-1], R, 12, 2)

    assert forward == backward
