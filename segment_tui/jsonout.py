"""JSON text with exact decimals: a `Decimal` is written as a JSON number, as stored.

The standard encoder turns decimals into floats or refuses them; money must come out
exactly as stored. Used for the command line's JSON output and for JSON columns.
Decimals travel through the standard (C) encoder as marked strings and are unquoted
afterwards, which keeps writing fast enough for a million proposals.
"""

import json
import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# A control character (always escaped by json.dumps) and a nonce drawn per process, so
# that no text in the data can pass for a marked decimal.
_NONCE = secrets.token_hex(8)
_MARK = "\x1f" + _NONCE
_MARKED = re.compile(r'"\\u001f' + _NONCE + r'([^"]*)"')


class RawJSON(str):
    """JSON text made elsewhere (e.g. from a template); written as it is."""


def decimal_text(value: Decimal) -> str:
    """A decimal as JSON number text, digit for digit."""
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as JSON")
    text = format(value, "f")
    return "0" if text == "-0" else text


def _prepare(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + decimal_text(value)
    if isinstance(value, Mapping):
        return {str(k): _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, RawJSON):
        raise TypeError("raw JSON can only be written on its own")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any, indent: int | None = None) -> str:
    """JSON text of `value`; decimals stay exact, dates become ISO strings."""
    if isinstance(value, RawJSON):
        return str(value)
    text = json.dumps(_prepare(value), indent=indent, ensure_ascii=False)
    return _MARKED.sub(r"\1", text)


def loads(text: str) -> Any:
    """Parse JSON, reading numbers with a fraction as `Decimal`."""
    return json.loads(text, parse_float=Decimal)
