"""The condition grammar of the setup file: `METRIC OP NUMBER`, a flag, or `not FLAG`.

A condition is parsed once into a `Condition`, which evaluates against a customer's
values and says, as data, what it compared: the reason a proposal carries.
"""

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from segment_tui.rules.metrics import METRIC_NAMES

FLAG_NAMES: tuple[str, ...] = (
    "blocked",
    "segmentation_blocked",
    "payment_arrangement",
    "debt_restructuring",
    "handed_over",
)

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

_COMPARISON = re.compile(
    r"^\s*(?P<subject>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*$"
)
_FLAG = re.compile(r"^\s*(?P<negated>not\s+)?(?P<flag>[A-Za-z_][A-Za-z0-9_]*)\s*$")

Value = int | Decimal | bool


class ConditionError(ValueError):
    """A condition that cannot be read; the message names the valid choices."""


@dataclass(frozen=True)
class Condition:
    """One parsed condition. `op` is a comparison operator, "is" or "not" for flags."""

    text: str
    subject: str
    op: str
    threshold: Decimal | None = None

    @property
    def is_flag(self) -> bool:
        return self.threshold is None

    def holds(self, values: Mapping[str, Value]) -> bool:
        value = values[self.subject]
        if self.threshold is None:
            return bool(value) is (self.op == "is")
        return OPERATORS[self.op](value, self.threshold)

    def explain(self, values: Mapping[str, Value]) -> dict[str, object]:
        """The condition with the customer's value and the threshold, as data."""
        return {
            "condition": self.text,
            "metric": self.subject,
            "op": self.op,
            "threshold": self.threshold,
            "value": shown_value(values[self.subject]),
        }


_SHOWN_PLACES = Decimal("0.0001")


def shown_value(value: Value) -> Value:
    """A ratio such as 1/3 is kept to four decimals in a reason; other values as is."""
    if isinstance(value, Decimal) and value.as_tuple().exponent < -4:  # type: ignore[operator]
        return value.quantize(_SHOWN_PLACES)
    return value


def parse_condition(text: str) -> Condition:
    """Read one condition, or raise `ConditionError` naming what is wrong."""
    match = _COMPARISON.match(text)
    if match:
        subject = match["subject"]
        if subject in FLAG_NAMES:
            raise ConditionError(
                f"flag {subject!r} takes no comparison; write {subject!r} or "
                f"'not {subject}'"
            )
        if subject not in METRIC_NAMES:
            raise ConditionError(
                f"unknown metric {subject!r}; valid metrics: " + ", ".join(METRIC_NAMES)
            )
        try:
            threshold = Decimal(match["number"])
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits digits
            raise ConditionError(f"{match['number']!r} is not a number") from exc
        canonical = f"{subject} {match['op']} {match['number']}"
        return Condition(canonical, subject, match["op"], threshold)

    match = _FLAG.match(text)
    if match:
        flag = match["flag"]
        if flag not in FLAG_NAMES:
            if flag in METRIC_NAMES:
                raise ConditionError(
                    f"metric {flag!r} needs a comparison: write '{flag} OP NUMBER' "
                    "with OP one of " + " ".join(OPERATORS)
                )
            raise ConditionError(
                f"unknown flag {flag!r}; valid flags: " + ", ".join(FLAG_NAMES)
            )
        negated = bool(match["negated"])
        canonical = f"not {flag}" if negated else flag
        return Condition(canonical, flag, "not" if negated else "is")

    raise ConditionError(
        f"cannot read condition {text!r}; write 'METRIC OP NUMBER' with OP one of "
        + " ".join(OPERATORS)
        + ", a flag alone, or 'not FLAG'"
    )
