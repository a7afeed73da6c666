"""How values read on screen: amounts, ratios, dates, conditions and reasons.

Every page shows the same things the same way: an amount with two decimals and
thousands separators, a missing dunning condition as "none", a reason as the
metrics that decided it ("late_ratio 0.62 ≥ 0.5"). User data goes into a
`rich.text.Text`, never through the markup parser, so that a name such as
"[Test] Ltd" shows as typed.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.text import Text

from segment_tui.i18n import _

SYMBOLS = {">=": "≥", "<=": "≤", "!=": "≠", "==": "=", "<": "<", ">": ">"}
"""The comparison operators of the setup file as the operator reads them."""

CENT = Decimal("0.01")

AMOUNT_METRICS = frozenset({"open_amount", "overdue_amount"})
"""Metrics in money, shown as amounts."""

FRACTION_METRICS = frozenset({"late_ratio", "avg_days_late"})
"""Metrics that are quotients, always shown with two decimals."""


def amount(value: Decimal | int | None) -> str:
    """An amount of money: two decimals and thousands separators."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(CENT):,.2f}"


def ratio(value: Decimal | float | None) -> str:
    """A ratio between 0 and 1 with two decimals."""
    if value is None:
        return ""
    return f"{Decimal(str(value)).quantize(CENT)}"


def number(value: object) -> str:
    """A metric's value: whole numbers as they are, others with two decimals."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        exact = Decimal(str(value))
        if exact == exact.to_integral_value():
            return str(int(exact))
        return str(exact.quantize(CENT))
    return str(value)


def metric_value(name: str, value: object) -> str:
    """A metric's or a flag's value as every page shows it, by the metric's kind."""
    if isinstance(value, bool):
        return number(value)
    if name in AMOUNT_METRICS and isinstance(value, Decimal | int):
        return amount(value)
    if name in FRACTION_METRICS and isinstance(value, Decimal | int | float):
        return str(Decimal(str(value)).quantize(CENT))
    return number(value)


def threshold(value: object) -> str:
    """A threshold of the setup, with exactly the digits the setup gave."""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        exact = Decimal(str(value))
        if exact == exact.to_integral_value():
            return str(int(exact))
        return str(exact.normalize())
    return str(value)


def day(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def moment(value: datetime) -> str:
    """A stored (UTC) time in the local time zone, to the minute."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def condition_cell(code: str | None) -> Text:
    """A dunning condition code, or a dimmed "none" for a customer without one."""
    if code is None:
        return Text(_("none"), style="dim italic")
    return Text(code)


def comparison(
    subject: str, op: str, limit: object, value: object | None = None
) -> str:
    """One condition in words: "late_ratio 0.62 ≥ 0.5", or "handed_over".

    With `value` given, the customer's value follows the metric's name. A flag
    condition reads as the flag's name, or "not NAME".
    """
    if op == "is":
        return subject
    if op == "not":
        return f"not {subject}"
    shown = "" if value is None else f" {metric_value(subject, value)}"
    return f"{subject}{shown} {SYMBOLS.get(op, op)} {threshold(limit)}"


def reason_parts(reason: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each condition that matched, with the customer's value."""
    return [
        comparison(
            str(item.get("metric", "")),
            str(item.get("op", "")),
            item.get("threshold"),
            item.get("value"),
        )
        for item in reason
    ]


def reason_text(reason: Iterable[Mapping[str, Any]]) -> str:
    """The conditions that matched, with the customer's values, in one line."""
    parts = reason_parts(reason)
    return "; ".join(parts) if parts else _("catch-all segment")


def reason_summary(reason: Iterable[Mapping[str, Any]]) -> str:
    """The first condition that matched and how many more: "late_ratio 0.62 ≥ 0.5 +1".

    For a narrow column: the first condition is whole, the rest is on the
    customer's page.
    """
    parts = reason_parts(reason)
    if not parts:
        return _("catch-all segment")
    more = f" +{len(parts) - 1}" if len(parts) > 1 else ""
    return parts[0] + more


def transition(current: str | None, proposed: str) -> str:
    """A change of dunning condition: "STANDARD → STRICT"."""
    return f"{current or _('none')} → {proposed}"
