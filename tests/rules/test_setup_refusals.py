"""The setup file: every refusal of contract section 3, the shipped default, and
segment choice.

A refusal is one sentence that names the file, where in it (the segment, the
condition, the key) and the valid choices, so the operator can fix the file alone.
"""

from decimal import Decimal
from pathlib import Path

import pytest

import segment_tui
from segment_tui.errors import InputError
from segment_tui.rules.conditions import FLAG_NAMES, Value
from segment_tui.rules.metrics import METRIC_NAMES, Metrics
from segment_tui.rules.segments import choose_segment
from segment_tui.rules.setup import SetupError, load_setup, parse_setup

DUNNING = '[[dunning_condition]]\ncode = "STRICT"\n'
SEGMENT = '[[segment]]\ncode = "POOR"\ndunning_condition = "STRICT"\n'
VALID = DUNNING + SEGMENT
FLAGS = ", ".join(FLAG_NAMES)
METRICS = ", ".join(METRIC_NAMES)


def refusal(text: str) -> str:
    with pytest.raises(SetupError) as refused:
        parse_setup(text, "f.toml")
    return str(refused.value)


def test_a_minimal_setup_is_accepted() -> None:
    setup = parse_setup(VALID, "f.toml")

    assert [s.code for s in setup.segment] == ["POOR"]
    assert setup.settings.lookback_months == 12
    assert setup.settings.exclude == FLAG_NAMES


def test_a_refusal_is_input_the_operator_can_fix() -> None:
    assert issubclass(SetupError, InputError)


def test_unknown_top_level_key() -> None:
    assert refusal("colour = 1\n" + VALID) == (
        "f.toml: unknown key 'colour'; valid keys: settings, dunning_condition, segment"
    )


def test_unknown_key_in_settings() -> None:
    assert refusal("[settings]\nlookback = 3\n" + VALID) == (
        "f.toml: [settings]: unknown key 'lookback'; valid keys: lookback_months, "
        "late_tolerance_days, exclude"
    )


def test_unknown_key_in_a_segment() -> None:
    assert refusal(VALID + 'colour = "red"\n') == (
        "f.toml: segment 'POOR': unknown key 'colour'; valid keys: code, "
        "description, dunning_condition, match, conditions"
    )


def test_a_segment_without_code_is_named_by_its_position() -> None:
    text = DUNNING + SEGMENT + '[[segment]]\ndunning_condition = "STRICT"\n'

    assert refusal(text) == "f.toml: segment #2: key 'code' is missing; add it"


def test_unknown_key_in_a_dunning_condition() -> None:
    assert refusal(DUNNING + 'colour = "red"\n' + SEGMENT) == (
        "f.toml: dunning condition 'STRICT': unknown key 'colour'; valid keys: "
        "code, description"
    )


def test_unknown_metric_in_a_condition() -> None:
    assert refusal(VALID + 'conditions = ["late_ratio > 0", "late_rate > 0.5"]\n') == (
        "f.toml: segment 'POOR', condition 'late_rate > 0.5': unknown metric "
        f"'late_rate'; valid metrics: {METRICS}"
    )


def test_unknown_flag_in_a_condition() -> None:
    assert refusal(VALID + 'conditions = ["not vip"]\n') == (
        f"f.toml: segment 'POOR', condition 'not vip': unknown flag 'vip'; "
        f"valid flags: {FLAGS}"
    )


def test_unknown_flag_in_exclude() -> None:
    assert refusal('[settings]\nexclude = ["blocked", "vip"]\n' + VALID) == (
        f"f.toml: [settings], key 'exclude': unknown flag 'vip'; valid flags: {FLAGS}"
    )


def test_malformed_condition() -> None:
    assert refusal(VALID + 'conditions = ["late_ratio >"]\n') == (
        "f.toml: segment 'POOR': cannot read condition 'late_ratio >'; write "
        "'METRIC OP NUMBER' with OP one of < <= > >= == !=, a flag alone, or "
        "'not FLAG'"
    )


def test_flag_with_a_comparison() -> None:
    assert refusal(VALID + 'conditions = ["blocked == 1"]\n') == (
        "f.toml: segment 'POOR', condition 'blocked == 1': flag 'blocked' takes no "
        "comparison; write 'blocked' or 'not blocked'"
    )


def test_conditions_not_a_list() -> None:
    assert refusal(VALID + 'conditions = "late_ratio > 1"\n') == (
        "f.toml: segment 'POOR', key 'conditions': 'late_ratio > 1' is not a list; "
        "write the items in square brackets"
    )


def test_segment_written_as_a_single_table() -> None:
    assert refusal(DUNNING + '[segment]\ncode = "POOR"\n') == (
        "f.toml: key 'segment': write each one as a [[segment]] table, with double "
        "brackets"
    )


def test_duplicate_segment_code() -> None:
    assert refusal(VALID + SEGMENT) == (
        "f.toml: segment 'POOR' is declared twice; give each [[segment]] its own code"
    )


def test_duplicate_dunning_condition_code() -> None:
    assert refusal(DUNNING + DUNNING + SEGMENT) == (
        "f.toml: dunning condition 'STRICT' is declared twice; give each "
        "[[dunning_condition]] its own code"
    )


def test_segment_with_undeclared_dunning_condition() -> None:
    text = DUNNING + '[[segment]]\ncode = "POOR"\ndunning_condition = "SOFT"\n'

    assert refusal(text) == (
        "f.toml: segment 'POOR': dunning condition 'SOFT' is not declared; use one "
        "of STRICT or declare it in a [[dunning_condition]] table"
    )


def test_segment_without_dunning_condition() -> None:
    assert refusal(DUNNING + '[[segment]]\ncode = "POOR"\n') == (
        "f.toml: segment 'POOR': key 'dunning_condition' is missing; add it"
    )


@pytest.mark.parametrize(
    ("table", "name"),
    [
        pytest.param("segment", "segment", id="no-segment"),
        pytest.param("dunning_condition", "dunning condition", id="no-dunning"),
    ],
)
def test_nothing_declared(table: str, name: str) -> None:
    text = SEGMENT if table == "dunning_condition" else DUNNING

    assert refusal(text) == (
        f"f.toml: no {name} is declared; add at least one [[{table}]] table"
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        pytest.param(
            "lookback_months",
            "0",
            "0 is out of range; use a whole number from 1 to 120",
            id="lookback-0",
        ),
        pytest.param(
            "lookback_months",
            "121",
            "121 is out of range; use a whole number from 1 to 120",
            id="lookback-121",
        ),
        pytest.param(
            "lookback_months",
            "1.5",
            "1.5 is not a whole number; use one from 1 to 120",
            id="lookback-fraction",
        ),
        pytest.param(
            "lookback_months",
            '"12"',
            "'12' is not a whole number; use one from 1 to 120",
            id="lookback-text",
        ),
        pytest.param(
            "lookback_months",
            "true",
            "true is not a whole number; use one from 1 to 120",
            id="lookback-boolean",
        ),
        pytest.param(
            "late_tolerance_days",
            "-1",
            "-1 is out of range; use a whole number from 0 to 365",
            id="tolerance-negative",
        ),
    ],
)
def test_out_of_range_settings(setting: str, value: str, message: str) -> None:
    text = f"[settings]\n{setting} = {value}\n" + VALID

    assert refusal(text) == f"f.toml: [settings], key '{setting}': {message}"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("lookback_months", 1, id="lookback-1"),
        pytest.param("lookback_months", 120, id="lookback-120"),
        pytest.param("late_tolerance_days", 0, id="tolerance-0"),
    ],
)
def test_settings_at_the_edges_of_their_range_are_accepted(
    setting: str, value: int
) -> None:
    setup = parse_setup(f"[settings]\n{setting} = {value}\n" + VALID, "f.toml")

    assert getattr(setup.settings, setting) == value


def test_match_other_than_all_or_any() -> None:
    assert refusal(VALID + 'match = "some"\n') == (
        "f.toml: segment 'POOR', key 'match': 'some' is not a valid choice; "
        "use 'all' or 'any'"
    )


def test_not_toml_at_all() -> None:
    message = refusal("this is not toml")

    assert message.startswith("f.toml: not valid TOML: ")
    assert "line 1" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"

    with pytest.raises(SetupError) as refused:
        load_setup(path)

    assert str(refused.value) == f"{path}: no such file"


def test_load_setup_names_the_file_in_a_refusal(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(VALID + 'match = "some"\n', encoding="utf-8")

    with pytest.raises(SetupError) as refused:
        load_setup(path)

    assert str(refused.value).startswith(f"{path}: segment 'POOR', key 'match'")


def test_load_setup_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(VALID.encode() + b'description = "\xe9t\xe9"\n')

    with pytest.raises(SetupError) as refused:
        load_setup(path)

    assert str(refused.value).startswith(f"{path}: cannot be read")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("colour = 1\n" + VALID, id="unknown-key"),
        pytest.param("[settings]\nlookback_months = 0\n" + VALID, id="range"),
        pytest.param(VALID + 'match = "some"\n', id="literal"),
        pytest.param(
            DUNNING + '[[segment]]\ncode = ""\ndunning_condition = "STRICT"\n',
            id="code-empty",
        ),
        pytest.param(DUNNING + "[[segment]]\ncode = 5\n", id="code-not-text"),
        pytest.param(DUNNING + "segment = 3\n", id="segment-inside-dunning"),
        pytest.param("settings = 3\n" + VALID, id="settings-not-a-table"),
        pytest.param(DUNNING + "[segment]\ncode = 'POOR'\n", id="segment-one-table"),
        pytest.param(VALID + "conditions = [1]\n", id="condition-not-text"),
        pytest.param("", id="empty-file"),
    ],
)
def test_no_refusal_speaks_pydantic(text: str) -> None:
    message = refusal(text)

    for pydantic_words in ("Input should", "String should", "Value error", "[type="):
        assert pydantic_words not in message
    assert message.startswith("f.toml: ")


# --- the shipped default setup -----------------------------------------------------

DEFAULT_SETUP = Path(segment_tui.__file__).parent / "data" / "segments.toml"


def test_the_shipped_setup_loads() -> None:
    setup = load_setup(DEFAULT_SETUP)

    assert [s.code for s in setup.segment] == ["ARREARS", "POOR", "IRREGULAR", "PROMPT"]
    assert setup.segment[-1].conditions == ()


def test_the_shipped_setup_round_trips_through_toml() -> None:
    setup = load_setup(DEFAULT_SETUP)
    # Reading the parsed conditions caches them on the model: equality must not care.
    assert all(len(s.parsed) == len(s.conditions) for s in setup.segment)

    again = parse_setup(setup.to_toml(), "round-trip.toml")

    assert again == setup
    assert again.to_toml() == setup.to_toml()


# --- segment choice ----------------------------------------------------------------

CHOICE_SETUP = """
[settings]
exclude = ["blocked", "handed_over"]

[[dunning_condition]]
code = "INTENSIVE"
[[dunning_condition]]
code = "STRICT"
[[dunning_condition]]
code = "AGREED"
[[dunning_condition]]
code = "SOFT"

[[segment]]
code = "ARREARS"
dunning_condition = "INTENSIVE"
conditions = ["max_days_overdue > 90", "overdue_amount >= 250"]

[[segment]]
code = "POOR"
dunning_condition = "STRICT"
match = "any"
conditions = ["late_ratio >= 0.5", "max_days_overdue > 60", "reminder_count >= 3"]

[[segment]]
code = "ARRANGED"
dunning_condition = "AGREED"
conditions = ["payment_arrangement", "not debt_restructuring"]
"""
CATCH_ALL = '\n[[segment]]\ncode = "PROMPT"\ndunning_condition = "SOFT"\n'


def customer(**values: Value) -> dict[str, Value]:
    """A customer's metrics and flags: all zero and false unless given."""
    everything: dict[str, Value] = dict(Metrics().as_dict())
    everything.update(dict.fromkeys(FLAG_NAMES, False))
    everything.update(values)
    return everything


@pytest.mark.parametrize(
    ("values", "segment", "reason"),
    [
        pytest.param(customer(), "PROMPT", [], id="nothing-special-falls-through"),
        pytest.param(
            customer(max_days_overdue=91, overdue_amount=Decimal("250.00")),
            "ARREARS",
            [("max_days_overdue > 90", 91), ("overdue_amount >= 250", Decimal(250))],
            id="all-hold",
        ),
        pytest.param(
            customer(max_days_overdue=91, overdue_amount=Decimal("249.99")),
            "POOR",
            [("max_days_overdue > 60", 91)],
            id="all-needs-every-condition",
        ),
        pytest.param(
            customer(
                max_days_overdue=200,
                overdue_amount=Decimal(900),
                late_ratio=Decimal(1),
                payment_arrangement=True,
            ),
            "ARREARS",
            [("max_days_overdue > 90", 200), ("overdue_amount >= 250", Decimal(900))],
            id="first-match-wins",
        ),
        pytest.param(
            customer(late_ratio=Decimal("0.75"), reminder_count=3),
            "POOR",
            [("late_ratio >= 0.5", Decimal("0.75")), ("reminder_count >= 3", 3)],
            id="any-reason-holds-only-what-held",
        ),
        pytest.param(
            customer(late_ratio=Decimal("0.4999"), reminder_count=2),
            "PROMPT",
            [],
            id="any-with-none-holding",
        ),
        pytest.param(
            customer(payment_arrangement=True),
            "ARRANGED",
            [("payment_arrangement", True), ("not debt_restructuring", False)],
            id="flags-as-conditions",
        ),
        pytest.param(
            customer(payment_arrangement=True, debt_restructuring=True),
            "PROMPT",
            [],
            id="negated-flag-fails",
        ),
        pytest.param(
            customer(segmentation_blocked=True, reminder_count=5),
            "POOR",
            [("reminder_count >= 3", 5)],
            id="flag-not-in-exclude-does-not-exclude",
        ),
    ],
)
def test_choose_segment(
    values: dict[str, Value], segment: str, reason: list[tuple[str, Value]]
) -> None:
    setup = parse_setup(CHOICE_SETUP + CATCH_ALL, "f.toml")

    choice = choose_segment(values, setup)

    assert choice.segment is not None
    assert choice.segment.code == segment
    assert [(r["condition"], r["value"]) for r in choice.reason] == reason
    assert not choice.excluded


def test_reason_carries_the_condition_as_data() -> None:
    setup = parse_setup(CHOICE_SETUP + CATCH_ALL, "f.toml")

    choice = choose_segment(customer(reminder_count=4), setup)

    assert choice.reason == (
        {
            "condition": "reminder_count >= 3",
            "metric": "reminder_count",
            "op": ">=",
            "threshold": Decimal(3),
            "value": 4,
        },
    )


@pytest.mark.parametrize(
    ("flags", "excluded_by"),
    [
        pytest.param({"blocked": True}, ("blocked",), id="blocked"),
        pytest.param({"handed_over": True}, ("handed_over",), id="handed-over"),
        pytest.param(
            {"handed_over": True, "blocked": True},
            ("blocked", "handed_over"),
            id="both-in-setup-order",
        ),
    ],
)
def test_excluded_flags_give_no_segment(
    flags: dict[str, bool], excluded_by: tuple[str, ...]
) -> None:
    setup = parse_setup(CHOICE_SETUP + CATCH_ALL, "f.toml")

    choice = choose_segment(customer(max_days_overdue=500, **flags), setup)

    assert choice.segment is None
    assert choice.excluded_by == excluded_by
    assert choice.excluded
    assert choice.reason == ()


def test_nobody_matched_gives_no_segment_and_no_exclusion() -> None:
    setup = parse_setup(CHOICE_SETUP, "f.toml")

    choice = choose_segment(customer(), setup)

    assert choice.segment is None
    assert choice.excluded_by == ()
    assert not choice.excluded
    assert choice.reason == ()


@pytest.mark.parametrize("match", ["all", "any"])
def test_a_segment_without_conditions_matches_everyone(match: str) -> None:
    setup = parse_setup(
        DUNNING + SEGMENT + f'match = "{match}"\nconditions = []\n', "f.toml"
    )

    choice = choose_segment(customer(late_ratio=Decimal(1)), setup)

    assert choice.segment is not None
    assert choice.segment.code == "POOR"
    assert choice.reason == ()
