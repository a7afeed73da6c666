"""The metrics reference against IBM's accounts-receivable sample, worked out by hand.

The sample (2,466 invoices of 100 customers, every one settled) lives beside the
checkout in `shared/data/real`; the test is skipped where it is absent. For a dozen
customers the expected metrics are computed here from the raw CSV with the standard
library only, following the wording of contract section 4 rather than the product's
code, and compared with `compute_metrics` on Invoice objects built from the same rows.
"""

import csv
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from segment_tui.rules.metrics import Invoice, compute_metrics

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
CSV_PATH = REAL_DATA / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"

if not CSV_PATH.is_file():
    pytest.skip(f"real data not found: {CSV_PATH.name}", allow_module_level=True)


def _day(text: str) -> date:
    """A date as the file writes it: M/D/YYYY without leading zeros."""
    return datetime.strptime(text, "%m/%d/%Y").date()


def _read_rows(path: Path) -> list[dict[str, str]]:
    # newline="" lets the csv module handle the file's CRLF line endings.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _invoice(row: dict[str, str]) -> Invoice:
    """One CSV row as the metrics see it."""
    return Invoice(
        posting_date=_day(row["InvoiceDate"]),
        due_date=_day(row["DueDate"]),
        amount=Decimal(row["InvoiceAmount"]),
        closed_at=_day(row["SettledDate"]),
        disputed=row["Disputed"] == "Yes",
    )


def _invoices_by_customer(rows: list[dict[str, str]]) -> dict[str, list[Invoice]]:
    by_customer: dict[str, list[Invoice]] = {}
    for row in rows:
        by_customer.setdefault(row["customerID"], []).append(_invoice(row))
    return by_customer


ROWS = _read_rows(CSV_PATH)
INVOICES = _invoices_by_customer(ROWS)


@dataclass(frozen=True)
class Scenario:
    reference: date
    lookback_months: int
    tolerance: int
    # Written out by hand from the contract: R minus the lookback in calendar months.
    window_start: date


SCENARIOS = [
    pytest.param(Scenario(date(2013, 12, 31), 12, 0, date(2012, 12, 31)), id="2013-12"),
    pytest.param(Scenario(date(2013, 6, 30), 6, 0, date(2012, 12, 30)), id="2013-06"),
    pytest.param(
        Scenario(date(2013, 12, 31), 12, 5, date(2012, 12, 31)), id="2013-12-T5"
    ),
]


def _expected(customer: str, s: Scenario) -> dict[str, object]:
    """The contract's metrics of one customer, straight from the raw rows."""
    reference, start, tolerance = s.reference, s.window_start, s.tolerance
    invoice_count = paid_count = late_count = days_late_sum = max_days_late = 0
    open_count = overdue_count = max_days_overdue = disputed_count = 0
    open_amount = overdue_amount = Decimal(0)

    for row in ROWS:
        if row["customerID"] != customer:
            continue
        posted = _day(row["InvoiceDate"])
        due = _day(row["DueDate"])
        settled = _day(row["SettledDate"])
        amount = Decimal(row["InvoiceAmount"])
        if amount <= 0 or posted > reference:
            continue

        if start < posted <= reference:
            invoice_count += 1
            disputed_count += row["Disputed"] == "Yes"

        if start < settled <= reference:
            paid_count += 1
            days_late = max(0, (settled - due).days)
            assert days_late == int(row["DaysLate"]), row["invoiceNumber"]
            days_late_sum += days_late
            max_days_late = max(max_days_late, days_late)
            late_count += (settled - due).days > tolerance

        # Every IBM invoice is settled: open at R exactly when settled after R.
        if settled > reference:
            open_count += 1
            open_amount += amount
            if (reference - due).days > tolerance:
                overdue_count += 1
                overdue_amount += amount
                max_days_overdue = max(max_days_overdue, (reference - due).days)

    return {
        "invoice_count": invoice_count,
        "paid_count": paid_count,
        "late_count": late_count,
        "late_ratio": Decimal(late_count) / Decimal(paid_count)
        if paid_count
        else Decimal(0),
        "avg_days_late": Decimal(days_late_sum) / Decimal(paid_count)
        if paid_count
        else Decimal(0),
        "max_days_late": max_days_late,
        "open_count": open_count,
        "open_amount": open_amount,
        "overdue_count": overdue_count,
        "overdue_amount": overdue_amount,
        "max_days_overdue": max_days_overdue,
        "disputed_count": disputed_count,
        "reminder_count": 0,
        "max_reminder_level": 0,
    }


def _most(predicate_rows: list[dict[str, str]]) -> str:
    """The customer with the most of these rows; ties go to the lowest customerID."""
    counts: dict[str, int] = {}
    for row in predicate_rows:
        counts[row["customerID"]] = counts.get(row["customerID"], 0) + 1
    return min(counts, key=lambda customer: (-counts[customer], customer))


def _pick_customers() -> list[str]:
    """Every 8th customer by ID, plus those with the most disputes, late payments
    and items still open at the end of 2013."""
    everyone = sorted({row["customerID"] for row in ROWS})
    picked = set(everyone[::8])
    picked.add(_most([r for r in ROWS if r["Disputed"] == "Yes"]))
    picked.add(_most([r for r in ROWS if int(r["DaysLate"]) > 0]))
    picked.add(_most([r for r in ROWS if _day(r["SettledDate"]) > date(2013, 12, 31)]))
    return sorted(picked)


CUSTOMERS = _pick_customers()


def test_the_sample_is_what_the_test_expects() -> None:
    assert len(ROWS) == 2466
    assert len(INVOICES) == 100
    assert all(len(row["invoiceNumber"]) == 10 for row in ROWS)
    assert any(row["invoiceNumber"].startswith("0") for row in ROWS)
    assert len(CUSTOMERS) >= 10


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("customer", CUSTOMERS)
def test_metrics_match_the_contract_by_hand(customer: str, scenario: Scenario) -> None:
    metrics = compute_metrics(
        INVOICES[customer],
        [],
        scenario.reference,
        scenario.lookback_months,
        scenario.tolerance,
    )

    assert metrics.as_dict() == _expected(customer, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_picked_customers_reach_every_kind_of_case(scenario: Scenario) -> None:
    """A comparison of zeros proves little: the picks must include late payers,
    disputes, open and overdue items."""
    expected = [_expected(customer, scenario) for customer in CUSTOMERS]

    for name in ("invoice_count", "late_count", "disputed_count", "open_count"):
        assert any(values[name] for values in expected), name
    if scenario.reference == date(2013, 6, 30):
        assert any(values["overdue_count"] for values in expected)


def test_days_late_equal_the_files_days_late_column() -> None:
    """Measured on the day it was settled, each invoice is paid in the window and its
    days late are the file's DaysLate."""
    mismatches = []
    for row in ROWS:
        settled = _day(row["SettledDate"])
        metrics = compute_metrics([_invoice(row)], [], settled, 120, 0)
        if (metrics.paid_count, metrics.max_days_late) != (1, int(row["DaysLate"])):
            mismatches.append(row["invoiceNumber"])

    assert mismatches == []


def test_the_tolerance_run_differs_from_the_strict_run() -> None:
    strict = SCENARIOS[0].values[0]
    tolerant = SCENARIOS[2].values[0]

    changed = [
        customer
        for customer in CUSTOMERS
        if _expected(customer, strict)["late_count"]
        != _expected(customer, tolerant)["late_count"]
    ]

    assert changed
