"""The condition grammar: what parses to what, how it evaluates, and what is refused.

A condition is `METRIC OP NUMBER`, a flag alone or `not FLAG` (contract section 3).
Refusals must name the valid choices, so that an operator can fix the setup file.
"""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segment_tui.rules.conditions import (
    FLAG_NAMES,
    OPERATORS,
    Condition,
    ConditionError,
    Value,
    parse_condition,
)
from segment_tui.rules.metrics import METRIC_NAMES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "late_ratio < 0.5",
            Condition("late_ratio < 0.5", "late_ratio", "<", Decimal("0.5")),
            id="lt",
        ),
        pytest.param(
            "late_ratio <= 0.5",
            Condition("late_ratio <= 0.5", "late_ratio", "<=", Decimal("0.5")),
            id="le",
        ),
        pytest.param(
            "max_days_overdue > 60",
            Condition("max_days_overdue > 60", "max_days_overdue", ">", Decimal(60)),
            id="gt",
        ),
        pytest.param(
            "max_days_overdue >= 60",
            Condition("max_days_overdue >= 60", "max_days_overdue", ">=", Decimal(60)),
            id="ge",
        ),
        pytest.param(
            "open_count == 0",
            Condition("open_count == 0", "open_count", "==", Decimal(0)),
            id="eq",
        ),
        pytest.param(
            "open_count != 0",
            Condition("open_count != 0", "open_count", "!=", Decimal(0)),
            id="ne",
        ),
        pytest.param(
            "late_ratio>=0.5",
            Condition("late_ratio >= 0.5", "late_ratio", ">=", Decimal("0.5")),
            id="no-spaces",
        ),
        pytest.param(
            "  late_ratio \t>=   0.5  ",
            Condition("late_ratio >= 0.5", "late_ratio", ">=", Decimal("0.5")),
            id="extra-spaces-and-tab",
        ),
        pytest.param(
            "avg_days_late > -1",
            Condition("avg_days_late > -1", "avg_days_late", ">", Decimal(-1)),
            id="negative",
        ),
        pytest.param(
            "avg_days_late > -2.75",
            Condition("avg_days_late > -2.75", "avg_days_late", ">", Decimal("-2.75")),
            id="negative-decimal",
        ),
        pytest.param(
            "avg_days_late > +3",
            Condition("avg_days_late > +3", "avg_days_late", ">", Decimal(3)),
            id="explicit-plus",
        ),
        pytest.param(
            "late_ratio >= .25",
            Condition("late_ratio >= .25", "late_ratio", ">=", Decimal("0.25")),
            id="leading-dot",
        ),
        pytest.param(
            "open_amount >= 250.00",
            Condition("open_amount >= 250.00", "open_amount", ">=", Decimal("250.00")),
            id="money",
        ),
        pytest.param(
            "handed_over",
            Condition("handed_over", "handed_over", "is"),
            id="flag",
        ),
        pytest.param(
            "  blocked ",
            Condition("blocked", "blocked", "is"),
            id="flag-spaces",
        ),
        pytest.param(
            "not handed_over",
            Condition("not handed_over", "handed_over", "not"),
            id="not-flag",
        ),
        pytest.param(
            "not    payment_arrangement",
            Condition("not payment_arrangement", "payment_arrangement", "not"),
            id="not-flag-spaces",
        ),
    ],
)
def test_parse(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_every_metric_parses(metric: str) -> None:
    condition = parse_condition(f"{metric} >= 1")

    assert (condition.subject, condition.is_flag) == (metric, False)


@pytest.mark.parametrize("flag", FLAG_NAMES)
def test_every_flag_parses_alone_and_negated(flag: str) -> None:
    assert parse_condition(flag) == Condition(flag, flag, "is")
    assert parse_condition(f"not {flag}") == Condition(f"not {flag}", flag, "not")
    assert parse_condition(flag).is_flag


@pytest.mark.parametrize(
    ("text", "values", "holds"),
    [
        pytest.param(
            "late_ratio >= 0.5", {"late_ratio": Decimal("0.5")}, True, id="ge-equal"
        ),
        pytest.param(
            "late_ratio > 0.5", {"late_ratio": Decimal("0.5")}, False, id="gt-equal"
        ),
        pytest.param(
            "late_ratio < 0.3334",
            {"late_ratio": Decimal(1) / Decimal(3)},
            True,
            id="third-below",
        ),
        pytest.param(
            "late_ratio > 0.3333",
            {"late_ratio": Decimal(1) / Decimal(3)},
            True,
            id="third-above",
        ),
        pytest.param(
            "late_ratio == 0.3333",
            {"late_ratio": Decimal(1) / Decimal(3)},
            False,
            id="third-not-rounded",
        ),
        pytest.param(
            "open_amount == 10",
            {"open_amount": Decimal("10.00")},
            True,
            id="eq-decimal-scale",
        ),
        pytest.param(
            "open_amount != 10",
            {"open_amount": Decimal("10.00")},
            False,
            id="ne-decimal-scale",
        ),
        pytest.param(
            "open_amount <= 249.99",
            {"open_amount": Decimal("250.00")},
            False,
            id="le-money",
        ),
        pytest.param("overdue_count >= 2", {"overdue_count": 2}, True, id="int-ge"),
        pytest.param("overdue_count < 2", {"overdue_count": 2}, False, id="int-lt"),
        pytest.param(
            "max_days_late > 2.5", {"max_days_late": 3}, True, id="int-vs-dec"
        ),
        pytest.param(
            "avg_days_late > -1", {"avg_days_late": Decimal(0)}, True, id="neg"
        ),
        pytest.param("blocked", {"blocked": True}, True, id="flag-true"),
        pytest.param("blocked", {"blocked": False}, False, id="flag-false"),
        pytest.param("not blocked", {"blocked": True}, False, id="not-flag-true"),
        pytest.param("not blocked", {"blocked": False}, True, id="not-flag-false"),
    ],
)
def test_holds(text: str, values: dict[str, Value], holds: bool) -> None:
    assert parse_condition(text).holds(values) is holds


def test_explain_names_the_condition_and_the_value() -> None:
    explained = parse_condition("overdue_count >= 2").explain({"overdue_count": 3})

    assert explained == {
        "condition": "overdue_count >= 2",
        "metric": "overdue_count",
        "op": ">=",
        "threshold": Decimal(2),
        "value": 3,
    }


METRICS_LIST = ", ".join(METRIC_NAMES)
FLAGS_LIST = ", ".join(FLAG_NAMES)
OPERATORS_LIST = " ".join(OPERATORS)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            "late_rate >= 0.5",
            ["unknown metric 'late_rate'", f"valid metrics: {METRICS_LIST}"],
            id="unknown-metric",
        ),
        pytest.param(
            "vip",
            ["unknown flag 'vip'", f"valid flags: {FLAGS_LIST}"],
            id="unknown-flag",
        ),
        pytest.param(
            "not vip",
            ["unknown flag 'vip'", f"valid flags: {FLAGS_LIST}"],
            id="unknown-negated-flag",
        ),
        pytest.param(
            "late_ratio",
            ["metric 'late_ratio' needs a comparison", OPERATORS_LIST],
            id="metric-without-comparison",
        ),
        pytest.param(
            "not late_ratio",
            ["metric 'late_ratio' needs a comparison", OPERATORS_LIST],
            id="negated-metric",
        ),
        pytest.param(
            "blocked == 1",
            ["flag 'blocked' takes no comparison", "'blocked' or 'not blocked'"],
            id="flag-with-comparison",
        ),
        pytest.param(
            "late_ratio >",
            ["cannot read condition 'late_ratio >'", OPERATORS_LIST, "not FLAG"],
            id="missing-number",
        ),
        pytest.param(
            "> 3",
            ["cannot read condition '> 3'", OPERATORS_LIST],
            id="missing-metric",
        ),
        pytest.param(
            "late_ratio => 3",
            ["cannot read condition 'late_ratio => 3'", OPERATORS_LIST],
            id="reversed-operator",
        ),
        pytest.param(
            "late_ratio = 3",
            ["cannot read condition 'late_ratio = 3'", OPERATORS_LIST],
            id="single-equals",
        ),
        pytest.param(
            "late_ratio >= 50%",
            ["cannot read condition 'late_ratio >= 50%'", OPERATORS_LIST],
            id="percent",
        ),
        pytest.param(
            "late_ratio >= 1e3",
            ["cannot read condition 'late_ratio >= 1e3'", OPERATORS_LIST],
            id="exponent",
        ),
        pytest.param(
            "late_ratio >= 0.5 and blocked",
            ["cannot read condition", OPERATORS_LIST],
            id="two-conditions",
        ),
        pytest.param("", ["cannot read condition ''", OPERATORS_LIST], id="empty"),
        pytest.param("   ", ["cannot read condition", OPERATORS_LIST], id="blank"),
        pytest.param(
            "not not blocked", ["cannot read condition", "not FLAG"], id="double-not"
        ),
    ],
)
def test_refusals_name_the_valid_choices(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConditionError) as refused:
        parse_condition(text)

    for fragment in fragments:
        assert fragment in str(refused.value)


_NAMES = st.sampled_from([*METRIC_NAMES, *FLAG_NAMES, "not", "x", "Late_Ratio", ""])
_OPERATORS = st.sampled_from([*OPERATORS, "=", "=>", "=<", "<>", "", "!"])
_NUMBERS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers().map(str),
    st.from_regex(r"[+-]?\d*\.?\d*", fullmatch=True),
)
_SPACE = st.text(alphabet=" \t\n\r\u00a0\u2003", max_size=3)


@st.composite
def _condition_like(draw: st.DrawFn) -> str:
    """Text close to the grammar, so that the property test reaches real conditions."""
    if draw(st.booleans()):
        return (
            draw(_SPACE)
            + draw(_NAMES)
            + draw(_SPACE)
            + draw(_OPERATORS)
            + draw(_SPACE)
            + draw(_NUMBERS)
            + draw(_SPACE)
        )
    negation = draw(st.sampled_from(["", "not ", "not\t", "not", "NOT "]))
    return draw(_SPACE) + negation + draw(_NAMES) + draw(_SPACE)


@given(st.one_of(st.text(), _condition_like()))
def test_parse_either_returns_a_condition_or_refuses(text: str) -> None:
    try:
        condition = parse_condition(text)
    except ConditionError as refused:
        assert str(refused)
        return

    assert isinstance(condition, Condition)
    assert parse_condition(condition.text) == condition
