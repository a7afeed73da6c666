"""JSON text with exact decimals: a `Decimal` is written as a JSON number, as stored.

The standard encoder turns decimals into floats or refuses them; money must come out
exactly as stored. Used for the command line's JSON output and for JSON columns.
"""

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _encode(value: Any, out: list[str], indent: int | None, level: int) -> None:
    if value is None or isinstance(value, bool):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, int | float | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        items: list[tuple[str | None, Any]] = [
            (json.dumps(str(k), ensure_ascii=False), v) for k, v in value.items()
        ]
        _container("{", "}", items, out, indent, level)
    elif isinstance(value, list | tuple):
        _container("[", "]", [(None, v) for v in value], out, indent, level)
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _container(
    open_: str,
    close: str,
    items: list[tuple[str | None, Any]],
    out: list[str],
    indent: int | None,
    level: int,
) -> None:
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    inner = "\n" + " " * (indent * (level + 1)) if indent is not None else ""
    for position, (key, item) in enumerate(items):
        if position:
            out.append(",")
        out.append(inner)
        if key is not None:
            out.append(key + (": " if indent is not None else ":"))
        _encode(item, out, indent, level + 1)
    if indent is not None:
        out.append("\n" + " " * (indent * level))
    out.append(close)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as JSON")
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def dumps(value: Any, indent: int | None = None) -> str:
    """JSON text of `value`; decimals stay exact, dates become ISO strings."""
    out: list[str] = []
    _encode(value, out, indent, 0)
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSON, reading numbers with a fraction as `Decimal`."""
    return json.loads(text, parse_float=Decimal)
