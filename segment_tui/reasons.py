"""The reason of a proposal, written as JSON from templates made once per setup.

A reason is data: each condition that held, with the customer's value and the
threshold (`Condition.explain`). A proposal run writes up to a million of them, so the
JSON text of each segment's conditions is prepared once and only the customer's values
are filled in. Tests hold the result equal to `jsonout.dumps` of the explained
conditions.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from segment_tui import jsonout
from segment_tui.rules.chooser import VALUE_NAMES
from segment_tui.rules.conditions import shown_value
from segment_tui.rules.setup import Setup

_POSITION = {name: index for index, name in enumerate(VALUE_NAMES)}


def _value_text(value: Any) -> str:
    kind = type(value)
    if kind is int:  # most metrics: counts and days
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    shown = shown_value(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(shown, Decimal):
        return jsonout.decimal_text(shown)
    return str(int(shown))


class ReasonWriter:
    """JSON text of the conditions that held, for each segment of a setup."""

    def __init__(self, setup: Setup) -> None:
        self._parts: list[list[tuple[str, int]]] = []
        for segment in setup.segment:
            parts = []
            for condition in segment.parsed:
                text = jsonout.dumps(condition.explain({condition.subject: 0}))
                prefix = text[: text.rindex('"value": ') + len('"value": ')]
                parts.append((prefix, _POSITION[condition.subject]))
            self._parts.append(parts)

    def json(self, segment: int, held: Sequence[int], values: Sequence[Any]) -> str:
        if not held:  # a segment without conditions: everyone else
            return "[]"
        parts = self._parts[segment]
        items = [
            parts[number][0] + _value_text(values[parts[number][1]]) + "}"
            for number in held
        ]
        return "[" + ", ".join(items) + "]"
