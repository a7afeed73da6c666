"""The SQL aggregate of the store against the plain-Python metrics reference.

`iter_customer_totals` must give, for every customer, exactly what `compute_totals`
gives on the same entries: a property test on random customers, table-driven cases
on the boundaries of contract section 4, and IBM's accounts-receivable sample. Each
runs on SQLite (money as whole cents) and on PostgreSQL (NUMERIC).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from segment_tui.rules.metrics import Invoice, Reminder, Totals, compute_totals
from segment_tui.rules.window import months_before
from segment_tui.store.engine import write_transaction
from segment_tui.store.metrics_sql import iter_customer_totals
from segment_tui.store.models import Customer, LedgerEntry
from segment_tui.store.models import Reminder as ReminderRow

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
IBM_CSV = REAL_DATA / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"


@dataclass(frozen=True)
class CustomerData:
    """A customer's ledger entries and reminders, as the Python reference sees them."""

    invoices: Sequence[Invoice] = ()
    reminders: Sequence[Reminder] = ()


def insert_customers(engine: Engine, customers: Mapping[str, CustomerData]) -> None:
    """Write the customers with their entries and reminders with SQLAlchemy Core."""
    ledger: list[dict[str, Any]] = []
    reminders: list[dict[str, Any]] = []
    for no, data in customers.items():
        for position, invoice in enumerate(data.invoices):
            ledger.append(
                {
                    "customer_no": no,
                    "entry_key": f"E{position}",
                    "document_no": f"D{position}",
                    "posting_date": invoice.posting_date,
                    "due_date": invoice.due_date,
                    "amount": invoice.amount,
                    "remaining_amount": invoice.remaining_amount,
                    "closed_at": invoice.closed_at,
                    "disputed": invoice.disputed,
                }
            )
        reminders += [
            {"customer_no": no, "issued_on": r.issued_on, "level": r.level}
            for r in data.reminders
        ]
    with write_transaction(engine) as connection:
        if customers:
            connection.execute(
                insert(Customer),
                [{"customer_no": no, "name": f"Customer {no}"} for no in customers],
            )
        if ledger:
            connection.execute(insert(LedgerEntry), ledger)
        if reminders:
            connection.execute(insert(ReminderRow), reminders)


def sql_totals(
    engine: Engine, reference: date, lookback: int, tolerance: int
) -> dict[str, Totals]:
    with engine.connect() as connection:
        return {
            row.customer_no: row.totals
            for row in iter_customer_totals(connection, reference, lookback, tolerance)
        }


def python_totals(
    customers: Mapping[str, CustomerData],
    reference: date,
    lookback: int,
    tolerance: int,
) -> dict[str, Totals]:
    return {
        no: compute_totals(
            data.invoices, data.reminders, reference, lookback, tolerance
        )
        for no, data in customers.items()
    }


# ---------------------------------------------------------------------------
# Property: SQL equals Python on random customers


REFERENCES = st.one_of(
    st.dates(date(2001, 1, 1), date(2035, 12, 31)),
    # Leap days and month ends, where the window start is clamped.
    st.sampled_from(
        [
            date(2024, 2, 29),
            date(2000, 2, 29),
            date(2023, 3, 31),
            date(2024, 3, 31),
            date(2024, 5, 31),
            date(2023, 12, 31),
        ]
    ),
)

CENTS = st.one_of(
    st.just(0),
    st.integers(-50_000, -1),  # credit memos and payments
    st.integers(1, 5_000_000),
)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass(frozen=True)
class Scenario:
    reference: date
    lookback: int
    tolerance: int
    customers: dict[str, CustomerData]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    reference = draw(REFERENCES)
    lookback = draw(st.integers(1, 24))
    tolerance = draw(st.integers(0, 10))
    start = months_before(reference, lookback)
    one = timedelta(days=1)
    t = timedelta(days=tolerance)
    # Dates on which a clause of the definitions flips.
    special = [
        reference,
        reference - one,
        reference + one,
        start,
        start - one,
        start + one,
        reference - t,
        reference - t - one,
    ]
    span = (reference - start).days + 60

    def day() -> st.SearchStrategy[date]:
        return st.one_of(
            st.sampled_from(special),
            st.integers(-span, 40).map(lambda d: reference + timedelta(days=d)),
        )

    @st.composite
    def invoices(draw_invoice: st.DrawFn) -> Invoice:
        posting = draw_invoice(day())
        due = draw_invoice(
            st.one_of(
                st.integers(-5, 90).map(lambda d: posting + timedelta(days=d)), day()
            )
        )
        closed = draw_invoice(
            st.one_of(
                st.none(),
                day(),
                st.sampled_from([0, -1, tolerance, tolerance + 1]).map(
                    lambda d: due + timedelta(days=d)
                ),
                st.integers(-10, 120).map(lambda d: due + timedelta(days=d)),
            )
        )
        cents = draw_invoice(CENTS)
        low, high = min(0, cents), max(0, cents)
        remaining = draw_invoice(
            st.one_of(
                st.none(),
                st.just(0),
                st.just(cents),
                st.integers(low, high),
            )
        )
        return Invoice(
            posting_date=posting,
            due_date=due,
            amount=_money(cents),
            remaining_amount=None if remaining is None else _money(remaining),
            closed_at=closed,
            disputed=draw_invoice(st.booleans()),
        )

    reminder = st.builds(Reminder, issued_on=day(), level=st.integers(1, 5))
    customer = st.builds(
        CustomerData,
        invoices=st.lists(invoices(), max_size=8),
        # The store keeps one reminder per customer, day and level.
        reminders=st.lists(
            reminder, max_size=4, unique_by=lambda r: (r.issued_on, r.level)
        ),
    )
    customers = draw(
        st.dictionaries(
            st.from_regex(r"C[0-9]{1,3}", fullmatch=True), customer, max_size=5
        )
    )
    return Scenario(reference, lookback, tolerance, customers)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_sql_totals_equal_the_python_reference(
    store: Engine, clear_data: Callable[[], None], scenario: Scenario
) -> None:
    clear_data()
    insert_customers(store, scenario.customers)
    args = (scenario.reference, scenario.lookback, scenario.tolerance)

    assert sql_totals(store, *args) == python_totals(scenario.customers, *args)


def test_the_customer_filter_keeps_only_the_named_customers(store: Engine) -> None:
    invoice = Invoice(date(2024, 1, 10), date(2024, 2, 9), Decimal("10.00"))
    insert_customers(store, {no: CustomerData([invoice]) for no in ("A", "B", "C")})

    with store.connect() as connection:
        rows = list(
            iter_customer_totals(connection, date(2024, 3, 1), 12, 0, ["C", "A"])
        )

    assert [row.customer_no for row in rows] == ["A", "C"]
    assert all(row.totals.open_amount == Decimal("10.00") for row in rows)


# ---------------------------------------------------------------------------
# Boundaries, table-driven: each case with the totals written out by hand


def _d(text: str) -> date:
    return date.fromisoformat(text)


def inv(
    posting: str,
    due: str,
    amount: str = "100.00",
    *,
    remaining: str | None = None,
    closed: str | None = None,
    disputed: bool = False,
) -> Invoice:
    return Invoice(
        posting_date=_d(posting),
        due_date=_d(due),
        amount=Decimal(amount),
        remaining_amount=None if remaining is None else Decimal(remaining),
        closed_at=None if closed is None else _d(closed),
        disputed=disputed,
    )


def rem(issued: str, level: int) -> Reminder:
    return Reminder(_d(issued), level)


@dataclass(frozen=True)
class Case:
    reference: str
    invoices: Sequence[Invoice] = ()
    reminders: Sequence[Reminder] = ()
    expected: Mapping[str, int | str] | None = None
    lookback: int = 12
    tolerance: int = 0

    def totals(self) -> Totals:
        """The expected totals: the fields named, every other field zero."""
        values: dict[str, Any] = {}
        for f in fields(Totals):
            value = (self.expected or {}).get(f.name, 0)
            values[f.name] = Decimal(value) if "amount" in f.name else value
        return Totals(**values)


R = "2024-03-15"  # window (2023-03-15, 2024-03-15] with 12 months
OPEN_100 = {"open_count": 1, "open_amount": "100.00"}

CASES = {
    "due on R is open, not overdue": Case(
        R, [inv("2024-02-14", R)], expected={"invoice_count": 1, **OPEN_100}
    ),
    "due the day before R is overdue by one day": Case(
        R,
        [inv("2024-02-13", "2024-03-14")],
        expected={
            "invoice_count": 1,
            **OPEN_100,
            "overdue_count": 1,
            "overdue_amount": "100.00",
            "max_days_overdue": 1,
        },
    ),
    "T days past due is not overdue": Case(
        R,
        [inv("2024-02-09", "2024-03-10")],
        tolerance=5,
        expected={"invoice_count": 1, **OPEN_100},
    ),
    "T+1 days past due is overdue": Case(
        R,
        [inv("2024-02-08", "2024-03-09")],
        tolerance=5,
        expected={
            "invoice_count": 1,
            **OPEN_100,
            "overdue_count": 1,
            "overdue_amount": "100.00",
            "max_days_overdue": 6,
        },
    ),
    "closed on R is closed and paid in the window": Case(
        R,
        [inv("2024-02-09", "2024-03-10", closed=R)],
        expected={
            "invoice_count": 1,
            "paid_count": 1,
            "late_count": 1,
            "days_late_sum": 5,
            "max_days_late": 5,
        },
    ),
    "closed the day after R is open at R for the full amount": Case(
        R,
        [inv("2024-02-09", "2024-03-10", remaining="0", closed="2024-03-16")],
        expected={
            "invoice_count": 1,
            **OPEN_100,
            "overdue_count": 1,
            "overdue_amount": "100.00",
            "max_days_overdue": 5,
        },
    ),
    "exactly T days late is on time": Case(
        R,
        [inv("2024-01-31", "2024-03-01", closed="2024-03-04")],
        tolerance=3,
        expected={
            "invoice_count": 1,
            "paid_count": 1,
            "days_late_sum": 3,
            "max_days_late": 3,
        },
    ),
    "T+1 days late is late": Case(
        R,
        [inv("2024-01-31", "2024-03-01", closed="2024-03-05")],
        tolerance=3,
        expected={
            "invoice_count": 1,
            "paid_count": 1,
            "late_count": 1,
            "days_late_sum": 4,
            "max_days_late": 4,
        },
    ),
    "paid before the due date has no days late": Case(
        R,
        [inv("2024-01-31", "2024-03-01", closed="2024-02-20")],
        expected={"invoice_count": 1, "paid_count": 1},
    ),
    "the window start is excluded": Case(
        R,
        [inv("2023-03-15", "2023-03-15", closed="2023-03-15", disputed=True)],
        [rem("2023-03-15", 3)],
    ),
    "the day after the window start is included": Case(
        R,
        [inv("2023-03-16", "2023-03-16", closed="2023-03-16", disputed=True)],
        [rem("2023-03-16", 3)],
        expected={
            "invoice_count": 1,
            "paid_count": 1,
            "disputed_count": 1,
            "reminder_count": 1,
            "max_reminder_level": 3,
        },
    ),
    "the window end is included": Case(
        R,
        [inv(R, "2024-04-14", disputed=True)],
        [rem(R, 1)],
        expected={
            "invoice_count": 1,
            **OPEN_100,
            "disputed_count": 1,
            "reminder_count": 1,
            "max_reminder_level": 1,
        },
    ),
    "posted or reminded after R is not counted": Case(
        R, [inv("2024-03-16", "2024-03-01")], [rem("2024-03-16", 4)]
    ),
    "paid in the window, posted before it": Case(
        R,
        [inv("2023-02-01", "2023-03-03", closed="2023-03-20")],
        expected={
            "paid_count": 1,
            "late_count": 1,
            "days_late_sum": 17,
            "max_days_late": 17,
        },
    ),
    "closed before the window start: neither paid in W nor open": Case(
        R, [inv("2023-01-01", "2023-01-31", closed="2023-02-10")]
    ),
    "credit memos and zero amounts are ignored": Case(
        R,
        [
            inv("2024-02-01", "2024-02-01", "-100.00", disputed=True),
            inv("2024-02-01", "2024-02-01", "0.00", disputed=True),
            inv("2024-02-01", "2024-02-01", "-5.00", closed="2024-02-10"),
        ],
    ),
    "remaining amount: none means the full amount, 0 means not open": Case(
        R,
        [
            inv("2024-03-01", "2024-03-31", "80.10"),
            inv("2024-03-01", "2024-03-31", remaining="0"),
            inv("2024-03-01", "2024-03-31", remaining="40.25"),
        ],
        expected={"invoice_count": 3, "open_count": 2, "open_amount": "120.35"},
    ),
    "a dispute counts by posting date, open items at any age": Case(
        R,
        [
            inv("2024-03-01", "2024-03-31", disputed=True),
            inv("2022-01-01", "2022-01-31", "0.01", disputed=True),
        ],
        expected={
            "invoice_count": 1,
            "disputed_count": 1,
            "open_count": 2,
            "open_amount": "100.01",
            "overdue_count": 1,
            "overdue_amount": "0.01",
            "max_days_overdue": 774,
        },
    ),
    "reminders: count and highest level in the window": Case(
        R,
        reminders=[
            rem("2023-03-15", 5),
            rem("2023-06-01", 2),
            rem(R, 1),
            rem("2024-03-16", 5),
        ],
        expected={"reminder_count": 2, "max_reminder_level": 2},
    ),
    "29 February back 12 months starts after 28 February": Case(
        "2024-02-29",
        [
            inv("2023-02-28", "2023-02-28", closed="2023-02-28"),
            inv("2023-03-01", "2023-03-01", closed="2023-03-01"),
            inv("2023-02-27", "2023-02-27", closed="2023-03-01"),
        ],
        # Paid in W: the one posted on 1 March, and the one due 27 February that
        # was paid on 1 March, two days late.
        expected={
            "invoice_count": 1,
            "paid_count": 2,
            "late_count": 1,
            "days_late_sum": 2,
            "max_days_late": 2,
        },
    ),
    "31 May back 3 months clamps to 29 February": Case(
        "2024-05-31",
        [
            inv("2024-02-29", "2024-02-29", closed="2024-02-29"),
            inv("2024-03-01", "2024-03-01", closed="2024-03-01"),
        ],
        lookback=3,
        expected={"invoice_count": 1, "paid_count": 1},
    ),
    "a customer without entries has zeros": Case(R),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_boundaries_in_python(case: Case) -> None:
    customers = {"K1": CustomerData(case.invoices, case.reminders)}
    args = (_d(case.reference), case.lookback, case.tolerance)

    assert python_totals(customers, *args) == {"K1": case.totals()}


def test_boundaries_in_sql(store: Engine, clear_data: Callable[[], None]) -> None:
    """Every case on one database (one per case would be slow on PostgreSQL)."""
    wrong: dict[str, tuple[dict[str, Totals], Totals]] = {}
    for name, case in CASES.items():
        clear_data()
        insert_customers(store, {"K1": CustomerData(case.invoices, case.reminders)})
        got = sql_totals(store, _d(case.reference), case.lookback, case.tolerance)
        if got != {"K1": case.totals()}:
            wrong[name] = (got, case.totals())

    assert wrong == {}


# ---------------------------------------------------------------------------
# IBM's accounts-receivable sample, loaded into the store


def _ibm_day(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


def load_ibm(engine: Engine) -> dict[str, CustomerData]:
    """Load the sample into `customer` and `ledger_entry`; the same data as Python."""
    with IBM_CSV.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    customers: dict[str, list[Invoice]] = {}
    ledger = []
    for row in rows:
        invoice = Invoice(
            posting_date=_ibm_day(row["InvoiceDate"]),
            due_date=_ibm_day(row["DueDate"]),
            amount=Decimal(row["InvoiceAmount"]),
            closed_at=_ibm_day(row["SettledDate"]),
            disputed=row["Disputed"] == "Yes",
        )
        customers.setdefault(row["customerID"], []).append(invoice)
        ledger.append(
            {
                "customer_no": row["customerID"],
                "entry_key": row["invoiceNumber"],
                "document_no": row["invoiceNumber"],
                "posting_date": invoice.posting_date,
                "due_date": invoice.due_date,
                "amount": invoice.amount,
                "remaining_amount": None,
                "closed_at": invoice.closed_at,
                "disputed": invoice.disputed,
            }
        )
    with write_transaction(engine) as connection:
        connection.execute(
            insert(Customer), [{"customer_no": no, "name": no} for no in customers]
        )
        connection.execute(insert(LedgerEntry), ledger)
    return {no: CustomerData(invoices) for no, invoices in customers.items()}


@pytest.mark.skipif(not IBM_CSV.is_file(), reason="real data not found")
@pytest.mark.parametrize(
    ("reference", "lookback"),
    [(date(2013, 12, 31), 12), (date(2013, 6, 30), 6)],
    ids=["2013-12-31-12m", "2013-06-30-6m"],
)
def test_ibm_sample_sql_equals_python(
    store: Engine, reference: date, lookback: int
) -> None:
    customers = load_ibm(store)
    expected = python_totals(customers, reference, lookback, 0)
    got = sql_totals(store, reference, lookback, 0)

    assert len(got) == 100
    assert got == expected
    # A comparison of zeros proves little: the sample reaches every kind of total.
    for name in ("invoice_count", "late_count", "open_count", "disputed_count"):
        assert any(getattr(t, name) for t in got.values()), name
    if reference == date(2013, 6, 30):
        assert any(t.overdue_count for t in got.values())
