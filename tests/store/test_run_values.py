"""The values a proposal run reads (`iter_customer_values`) against the reference.

A proposal run does not read `iter_customer_totals`: on SQLite it streams its own
query from the driver, optionally read by a second process, and builds the values
tuple itself. For every customer it must give exactly the reference's metrics
(`compute_totals` and `Metrics.derive`) followed by the customer's flags, with
booleans as booleans and amounts as exact decimals, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import astuple
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, update
from test_metrics_sql import (
    CustomerData,
    Scenario,
    inv,
    python_totals,
    rem,
    scenarios,
)

from segment_tui.rules.chooser import VALUE_NAMES
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import derive_values
from segment_tui.store import sqlite_values
from segment_tui.store.engine import write_transaction
from segment_tui.store.metrics_sql import iter_customer_values, totals_for
from segment_tui.store.models import Customer, LedgerEntry
from segment_tui.store.models import Reminder as ReminderRow


def insert_with_flags(
    engine: Engine, customers: Mapping[str, CustomerData], flags: Mapping[str, int]
) -> None:
    """The customers with their entries and reminders; flag i set when bit i is."""
    ledger: list[dict[str, Any]] = []
    reminders: list[dict[str, Any]] = []
    for no, data in customers.items():
        ledger += [
            {
                "customer_no": no,
                "entry_key": f"E{position}",
                "posting_date": invoice.posting_date,
                "due_date": invoice.due_date,
                "amount": invoice.amount,
                "remaining_amount": invoice.remaining_amount,
                "closed_at": invoice.closed_at,
                "disputed": invoice.disputed,
            }
            for position, invoice in enumerate(data.invoices)
        ]
        reminders += [
            {"customer_no": no, "issued_on": r.issued_on, "level": r.level}
            for r in data.reminders
        ]
    with write_transaction(engine) as connection:
        if customers:
            connection.execute(
                insert(Customer),
                [
                    {"customer_no": no, "name": no, "dunning_condition": None}
                    | {
                        flag: bool(flags.get(no, 0) >> bit & 1)
                        for bit, flag in enumerate(FLAG_NAMES)
                    }
                    for no in customers
                ],
            )
        if ledger:
            connection.execute(insert(LedgerEntry), ledger)
        if reminders:
            connection.execute(insert(ReminderRow), reminders)


def expected_values(
    scenario: Scenario, flags: Mapping[str, int]
) -> dict[str, tuple[Any, ...]]:
    args = (scenario.reference, scenario.lookback, scenario.tolerance)
    return {
        no: derive_values(astuple(totals))
        + tuple(bool(flags.get(no, 0) >> bit & 1) for bit in range(len(FLAG_NAMES)))
        for no, totals in python_totals(scenario.customers, *args).items()
    }


def run_values(
    engine: Engine, scenario: Scenario, *, read_ahead: bool = False
) -> list[tuple[str, str | None, tuple[Any, ...]]]:
    # The way a proposal run reads them: inside its write transaction.
    with write_transaction(engine) as connection:
        return list(
            iter_customer_values(
                connection,
                scenario.reference,
                scenario.lookback,
                scenario.tolerance,
                read_ahead=read_ahead,
            )
        )


def assert_same(
    got: list[tuple[str, str | None, tuple[Any, ...]]],
    expected: dict[str, tuple[Any, ...]],
    sqlite: bool,
) -> None:
    assert {no: values for no, _, values in got} == expected
    for _, _, values in got:
        # Equal is not enough: a flag of 1 would be written as 1 in a reason.
        assert [type(v) for v in values[-len(FLAG_NAMES) :]] == [bool] * 5
        assert all(isinstance(v, Decimal) for v in (values[7], values[9]))
    if sqlite:
        # The rows come in customer number order, which the run relies on nowhere
        # but which the merge of the streams needs.
        assert [no for no, _, _ in got] == sorted(expected)


AGAINST_THE_REFERENCE = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Hypothesis settings of the tests that hold generated stores to the reference."""


@AGAINST_THE_REFERENCE
@given(
    scenario=scenarios(),
    flag_bits=st.lists(st.integers(0, 31), min_size=5, max_size=5),
)
def test_run_values_equal_the_python_reference(
    store: Engine,
    clear_data: Callable[[], None],
    scenario: Scenario,
    flag_bits: list[int],
) -> None:
    clear_data()
    flags = {no: flag_bits[i % 5] for i, no in enumerate(sorted(scenario.customers))}
    insert_with_flags(store, scenario.customers, flags)

    got = run_values(store, scenario)

    assert_same(got, expected_values(scenario, flags), store.dialect.name == "sqlite")


R = date(2024, 3, 15)

MIXED = {
    # Customer numbers whose order differs as text and as numbers.
    "C10": CustomerData(
        [inv("2024-01-02", "2024-02-01", "80.25"), inv("2023-10-01", "2023-11-01")],
        [rem("2024-02-10", 1), rem("2024-03-01", 2)],
    ),
    "C2": CustomerData([], [rem("2024-03-14", 3)]),  # reminders, no entries
    "C3": CustomerData(
        [
            inv("2023-12-01", "2024-01-01", closed="2024-02-20"),
            inv(R.isoformat(), R.isoformat()),
        ]
    ),
    "C4": CustomerData(),  # nothing at all
    "C\u00e9": CustomerData([inv("2024-02-01", "2024-03-01", "12.34")]),
}


@pytest.mark.parametrize(
    ("read_ahead", "parts"),
    [(False, 2), (True, 1), (True, 2), (True, 3)],
    ids=["here", "ahead-1", "ahead-2", "ahead-3"],
)
def test_run_values_of_mixed_customers(
    store: Engine, read_ahead: bool, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process and, on SQLite, read by other processes, each a part of the
    customers."""
    flags = {"C2": 0b10000, "C4": 0b00101}
    insert_with_flags(store, MIXED, flags)
    scenario = Scenario(R, 12, 3, MIXED)
    readers: list[object] = []
    reader = sqlite_values.SecondProcessReader

    def counted(*args: Any, **kwargs: Any) -> object:
        readers.append(reader(*args, **kwargs))
        return readers[-1]

    monkeypatch.setattr(sqlite_values, "SecondProcessReader", counted)
    monkeypatch.setattr(sqlite_values, "READERS", parts)

    got = run_values(store, scenario, read_ahead=read_ahead)

    sqlite = store.dialect.name == "sqlite"
    assert_same(got, expected_values(scenario, flags), sqlite)
    assert len(readers) == (parts if read_ahead and sqlite else 0)


def test_entries_of_an_unknown_customer_are_passed_over(store: Engine) -> None:
    """As the join passes them over: entries and reminders a customer table lacks.

    Only a store written past its foreign keys holds them (an operator's SQL tool
    on SQLite, which checks foreign keys only when asked).
    """
    if store.dialect.name != "sqlite":
        pytest.skip("PostgreSQL always checks foreign keys")
    insert_with_flags(store, MIXED, {})
    with store.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys = OFF")
        for no in ("A0", "C1", "C35", "Z9"):
            driver.execute(
                "INSERT INTO ledger_entry (customer_no, entry_key, posting_date, "
                "due_date, amount, disputed, on_hold) VALUES (?, 'X', ?, ?, 500, 0, 0)",
                (no, 2460300, 2460330),
            )
            driver.execute(
                "INSERT INTO reminder (customer_no, issued_on, level) VALUES (?, ?, 9)",
                (no, 2460380),
            )
        driver.execute("PRAGMA foreign_keys = ON")
    scenario = Scenario(R, 12, 3, MIXED)

    for read_ahead in (False, True):
        got = run_values(store, scenario, read_ahead=read_ahead)

        assert_same(got, expected_values(scenario, {}), sqlite=True)


def test_reminder_totals_at_the_edges_of_a_level(store: Engine) -> None:
    # SQLite reads both reminder totals as one number (REMINDER_COUNT_UNIT):
    # every level an import takes (0 to 2**31 - 1), and forty reminders, come
    # back whole.
    levels = {
        "L0": [0],
        "L1": [2_147_483_647, 1],
        "L2": [2_147_483_647] * 3,
        "L3": list(range(40)),
    }
    customers = {
        no: CustomerData(
            [],
            [
                rem((date(2024, 1, 1) + timedelta(days=day)).isoformat(), level)
                for day, level in enumerate(ls)
            ],
        )
        for no, ls in levels.items()
    }
    customers["L4"] = CustomerData([], [rem("2022-01-01", 7)])  # before the window
    insert_with_flags(store, customers, {})
    scenario = Scenario(R, 12, 3, customers)

    got = {no: values for no, _, values in run_values(store, scenario)}

    assert got == expected_values(scenario, {})
    count = VALUE_NAMES.index("reminder_count")
    level = VALUE_NAMES.index("max_reminder_level")
    assert [(got[no][count], got[no][level]) for no in sorted(got)] == [
        (1, 0),
        (2, 2_147_483_647),
        (3, 2_147_483_647),
        (40, 39),
        (0, 0),
    ]


def test_reminder_levels_beyond_32_bits_come_whole(store: Engine) -> None:
    # An import refuses such a level, but a store written by an earlier version
    # may hold one; SQLite then sends that customer's totals as text.
    if store.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's reminder level is a 32-bit INTEGER")
    customers = {
        "B1": CustomerData(
            [], [rem("2024-01-02", 3_000_000_000), rem("2024-01-03", 2)]
        ),
        "B2": CustomerData([], [rem("2024-01-02", 9_000_000_000_000_000_000)]),
        "B3": CustomerData([], [rem("2024-01-02", -3_000_000_000)]),
        "B4": CustomerData([], [rem("2024-01-02", 5)]),
    }
    insert_with_flags(store, customers, {})
    scenario = Scenario(R, 12, 3, customers)

    got = {no: values for no, _, values in run_values(store, scenario)}

    count = VALUE_NAMES.index("reminder_count")
    level = VALUE_NAMES.index("max_reminder_level")
    assert [(got[no][count], got[no][level]) for no in sorted(got)] == [
        (2, 3_000_000_000),
        (1, 9_000_000_000_000_000_000),
        (1, -3_000_000_000),
        (1, 5),
    ]
    expected = expected_values(scenario, {})
    assert {no: got[no] for no in ("B1", "B2", "B4")} == {
        no: expected[no] for no in ("B1", "B2", "B4")
    }


def test_the_current_condition_comes_along(store: Engine) -> None:
    insert_with_flags(store, MIXED, {})
    with write_transaction(store) as connection:
        connection.execute(
            insert(Customer.__table__.metadata.tables["dunning_condition"]),
            [{"code": "SOFT", "description": ""}],
        )
        connection.execute(
            update(Customer)
            .where(Customer.customer_no == "C3")
            .values(dunning_condition="SOFT")
        )

    got = run_values(store, Scenario(R, 12, 3, MIXED))

    assert {no: condition for no, condition, _ in got} == {
        "C10": None,
        "C2": None,
        "C3": "SOFT",
        "C4": None,
        "C\u00e9": None,
    }


@pytest.mark.parametrize(
    "metrics",
    [
        {"late_ratio"},
        {"avg_days_late", "reminder_count"},
        {"overdue_amount", "max_reminder_level", "open_count"},
    ],
    ids=str,
)
def test_run_values_of_some_metrics(store: Engine, metrics: set[str]) -> None:
    """On SQLite only the metrics asked for are computed, the others are 0;
    PostgreSQL computes every one."""
    insert_with_flags(store, MIXED, {})
    scenario = Scenario(R, 12, 3, MIXED)
    with write_transaction(store) as connection:
        got = list(
            iter_customer_values(connection, R, 12, 3, metrics=frozenset(metrics))
        )
    expected = expected_values(scenario, {})
    assert_only_these(got, expected, metrics, store.dialect.name == "sqlite")
    # Some customer has each asked-for metric other than 0, or the test shows
    # nothing.
    for name in metrics:
        position = VALUE_NAMES.index(name)
        assert any(values[position] for _, _, values in got), name


def assert_only_these(
    got: list[Any],
    expected: dict[str, tuple[Any, ...]],
    metrics: set[str],
    sqlite: bool,
) -> None:
    """The asked-for metrics (and the flags) are the reference's; on SQLite every
    other metric is 0."""
    # A ratio brings the counts it divides along, and a metric whose totals all
    # come along is computed too.
    totals = totals_for(metrics)
    computed = {
        position
        for position, name in enumerate(VALUE_NAMES)
        if name in metrics or totals >= totals_for({name}) > set()
    }
    assert sorted(no for no, _, _ in got) == sorted(expected)
    for no, _, values in got:
        for position, value in enumerate(values):
            if (
                position in computed
                or not sqlite
                or VALUE_NAMES[position] in FLAG_NAMES
            ):
                assert value == expected[no][position], (no, VALUE_NAMES[position])
            else:
                assert value == 0, VALUE_NAMES[position]


METRIC_NAMES_READ = [name for name in VALUE_NAMES if name not in FLAG_NAMES]


@AGAINST_THE_REFERENCE
@given(
    scenario=scenarios(),
    metrics=st.sets(st.sampled_from(METRIC_NAMES_READ), min_size=1),
)
def test_any_metrics_asked_for_equal_the_python_reference(
    store: Engine, clear_data: Callable[[], None], scenario: Scenario, metrics: set[str]
) -> None:
    """Whatever metrics a setup reads, they are the reference's: the query leaves
    out only the entries that none of them counts."""
    clear_data()
    insert_with_flags(store, scenario.customers, {})
    with write_transaction(store) as connection:
        got = list(
            iter_customer_values(
                connection,
                scenario.reference,
                scenario.lookback,
                scenario.tolerance,
                metrics=frozenset(metrics),
            )
        )
    expected = expected_values(scenario, {})
    assert_only_these(got, expected, metrics, store.dialect.name == "sqlite")


def test_a_stream_closed_early_ends_its_readers(store: Engine) -> None:
    if store.dialect.name != "sqlite":
        pytest.skip("only SQLite's run is read by other processes")
    insert_with_flags(store, MIXED, {})
    with write_transaction(store) as connection:
        stream = iter_customer_values(connection, R, 12, 3, read_ahead=True)
        readers = list(stream._readers)
        next(stream)
        stream.close()
    assert len(readers) == sqlite_values.READERS
    assert all(reader.process.poll() is not None for reader in readers)


def test_the_first_reader_reads_a_quarter_of_the_customers(store: Engine) -> None:
    """The run takes the first part as it is read and the others from memory: the
    first part is the smaller, so that the run is not left alone at the end."""
    if store.dialect.name != "sqlite":
        pytest.skip("only SQLite's run is read by other processes")
    customers = {f"K{number:03d}": CustomerData([]) for number in range(200)}
    insert_with_flags(store, customers, {})
    with store.connect() as connection:
        bounds = sqlite_values._part_bounds(connection, sqlite_values._shares(3))

    assert sqlite_values._shares(1) == [1.0]
    assert bounds == [None, "K050", "K125", None]
