"""The behaviour window: calendar-month arithmetic and which days are in it.

The window is (R - lookback_months, R]: a month-end that does not exist in the target
month clamps to that month's last day, the start day is out and the end day is in.
"""

from datetime import date

import pytest

from segment_tui.rules.window import Window, months_before


@pytest.mark.parametrize(
    ("reference", "months", "expected"),
    [
        pytest.param(date(2024, 2, 29), 12, date(2023, 2, 28), id="29feb-12m-clamps"),
        pytest.param(date(2024, 2, 29), 48, date(2020, 2, 29), id="29feb-48m-leap"),
        pytest.param(date(2024, 5, 31), 3, date(2024, 2, 29), id="31may-3m-leap"),
        pytest.param(date(2023, 5, 31), 3, date(2023, 2, 28), id="31may-3m-common"),
        pytest.param(date(2024, 3, 31), 1, date(2024, 2, 29), id="31mar-1m-leap"),
        pytest.param(date(2023, 3, 31), 1, date(2023, 2, 28), id="31mar-1m-common"),
        pytest.param(date(2024, 7, 31), 1, date(2024, 6, 30), id="31jul-1m-30day"),
        pytest.param(date(2024, 1, 15), 1, date(2023, 12, 15), id="jan-1m-year"),
        pytest.param(date(2024, 1, 31), 1, date(2023, 12, 31), id="31jan-1m-year"),
        pytest.param(date(2024, 1, 31), 2, date(2023, 11, 30), id="31jan-2m-clamps"),
        pytest.param(date(2024, 12, 31), 12, date(2023, 12, 31), id="31dec-12m"),
        pytest.param(date(2024, 6, 15), 0, date(2024, 6, 15), id="zero-months"),
        pytest.param(date(2024, 6, 15), 120, date(2014, 6, 15), id="120m"),
        pytest.param(date(2024, 2, 29), 120, date(2014, 2, 28), id="29feb-120m"),
    ],
)
def test_months_before(reference: date, months: int, expected: date) -> None:
    assert months_before(reference, months) == expected


def test_window_before_spans_the_lookback_months() -> None:
    window = Window.before(date(2024, 2, 29), 12)

    assert window == Window(start=date(2023, 2, 28), end=date(2024, 2, 29))


WINDOW = Window(start=date(2023, 12, 31), end=date(2024, 12, 31))


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        pytest.param(date(2023, 12, 30), False, id="before-start"),
        pytest.param(date(2023, 12, 31), False, id="start-excluded"),
        pytest.param(date(2024, 1, 1), True, id="day-after-start"),
        pytest.param(date(2024, 6, 30), True, id="middle"),
        pytest.param(date(2024, 12, 31), True, id="end-included"),
        pytest.param(date(2025, 1, 1), False, id="after-end"),
    ],
)
def test_window_contains(day: date, inside: bool) -> None:
    assert (day in WINDOW) is inside


@pytest.mark.parametrize(
    "thing",
    [
        pytest.param(None, id="none"),
        pytest.param("2024-06-30", id="iso-string"),
        pytest.param(20240630, id="number"),
    ],
)
def test_window_contains_only_dates(thing: object) -> None:
    assert thing not in WINDOW
