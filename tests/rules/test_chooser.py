"""The compiled chooser and the reason templates decide and write exactly what the
readable reference (`choose_segment`, `Condition.explain`, `jsonout.dumps`) does."""

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from segment_tui import jsonout
from segment_tui.reasons import ReasonWriter
from segment_tui.rules.chooser import EXCLUDED, UNMATCHED, VALUE_NAMES, SegmentChooser
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import METRIC_NAMES
from segment_tui.rules.segments import choose_segment
from segment_tui.rules.setup import Setup, load_setup, parse_setup

DEFAULT = load_setup(Path(__file__).parents[2] / "data" / "segments.toml")

DECIMAL_METRICS = {"late_ratio", "avg_days_late", "open_amount", "overdue_amount"}

OPS = ["<", "<=", ">", ">=", "==", "!="]


def metric_value(name: str) -> st.SearchStrategy[object]:
    if name in DECIMAL_METRICS:
        return st.decimals(
            min_value=0, max_value=2000, places=4, allow_nan=False, allow_infinity=False
        )
    return st.integers(min_value=0, max_value=400)


values_strategy = st.fixed_dictionaries(
    {name: metric_value(name) for name in METRIC_NAMES}
    | {flag: st.booleans() for flag in FLAG_NAMES}
)


@st.composite
def conditions(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        flag = draw(st.sampled_from(FLAG_NAMES))
        return flag if draw(st.booleans()) else f"not {flag}"
    metric = draw(st.sampled_from(METRIC_NAMES))
    number = draw(st.sampled_from(["0", "1", "2", "0.5", "0.25", "60", "250", "3.5"]))
    return f"{metric} {draw(st.sampled_from(OPS))} {number}"


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    count = draw(st.integers(min_value=1, max_value=4))
    lines = ['[[dunning_condition]]\ncode = "A"\n']
    for index in range(count):
        conds = draw(st.lists(conditions(), max_size=3))
        match = draw(st.sampled_from(["all", "any"]))
        listed = ", ".join(f'"{c}"' for c in conds)
        lines.append(
            f'[[segment]]\ncode = "S{index}"\ndunning_condition = "A"\n'
            f'match = "{match}"\nconditions = [{listed}]\n'
        )
    exclude = draw(st.lists(st.sampled_from(FLAG_NAMES), unique=True, max_size=2))
    head = "[settings]\nexclude = [" + ", ".join(f'"{f}"' for f in exclude) + "]\n"
    return parse_setup(head + "\n".join(lines), "generated.toml")


def as_tuple(values: dict[str, object]) -> tuple[object, ...]:
    return tuple(values[name] for name in VALUE_NAMES)


@settings(max_examples=300, deadline=None)
@given(setup=setups(), values=values_strategy)
def test_chooser_decides_like_choose_segment(
    setup: Setup, values: dict[str, object]
) -> None:
    reference = choose_segment(values, setup)  # type: ignore[arg-type]
    index, held = SegmentChooser(setup).choose(as_tuple(values))

    if reference.segment is None:
        assert index == (EXCLUDED if reference.excluded else UNMATCHED)
        assert held == ()
        return
    assert setup.segment[index] is reference.segment
    written = ReasonWriter(setup).json(index, held, as_tuple(values))
    assert written == jsonout.dumps(list(reference.reason))


def test_default_setup_example() -> None:
    values = dict.fromkeys(METRIC_NAMES, 0) | dict.fromkeys(FLAG_NAMES, False)
    values |= {"late_ratio": Decimal(2) / 3, "max_days_overdue": 61}
    chooser = SegmentChooser(DEFAULT)

    index, held = chooser.choose(as_tuple(values))

    assert DEFAULT.segment[index].code == "POOR"
    assert held == (0, 1)
    reason = jsonout.loads(ReasonWriter(DEFAULT).json(index, held, as_tuple(values)))
    assert reason[0]["value"] == Decimal("0.6667")
    assert reason[1] == {
        "condition": "max_days_overdue > 60",
        "metric": "max_days_overdue",
        "op": ">",
        "threshold": 60,
        "value": 61,
    }


def test_excluded_customer_gets_no_segment() -> None:
    values = dict.fromkeys(METRIC_NAMES, 0) | dict.fromkeys(FLAG_NAMES, False)
    values["handed_over"] = True
    chooser = SegmentChooser(DEFAULT)

    assert chooser.choose(as_tuple(values)) == (EXCLUDED, ())
    assert chooser.excluded_by(as_tuple(values)) == ("handed_over",)
