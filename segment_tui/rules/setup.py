"""The setup file (contract section 3): settings, dunning conditions and segments.

The setup is read from TOML into strict pydantic models (unknown keys refused) and
written back with tomli-w. Every refusal names the file, the segment or key and the
valid choices, so that an operator can fix the file without reading code.
"""

import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from segment_tui.errors import InputError
from segment_tui.rules.conditions import FLAG_NAMES, Condition, parse_condition

DEFAULT_EXCLUDE: tuple[str, ...] = FLAG_NAMES


class SetupError(InputError):
    """A setup that cannot be used; the message says where and how to fix it."""


class Settings(BaseModel):
    """How the metrics are computed and who is left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_months: int = Field(12, ge=1, le=120)
    """The behaviour window: this many calendar months up to the reference date."""

    late_tolerance_days: int = Field(0, ge=0, le=365)
    """Paid or open up to this many days past the due date still counts as on time."""

    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    """Customers with any of these flags get no proposal."""

    @field_validator("lookback_months", "late_tolerance_days", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # pydantic would read true as 1 and "12" as 12: TOML has whole numbers.
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError("int_type", "is not a whole number")
        return value

    @field_validator("exclude")
    @classmethod
    def _known_flags(cls, exclude: tuple[str, ...]) -> tuple[str, ...]:
        for flag in exclude:
            if flag not in FLAG_NAMES:
                raise ValueError(
                    f"unknown flag {flag!r}; valid flags: " + ", ".join(FLAG_NAMES)
                )
        return exclude


class DunningConditionDef(BaseModel):
    """A dunning condition (Reminder Terms in Business Central) a segment can carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=20)
    """The code as the ERP knows it, e.g. STANDARD."""

    description: str = ""
    """What the condition means for the customer, for the operator's eyes."""


class SegmentDef(BaseModel):
    """A segment: who belongs to it, and which dunning condition they get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=20)
    """The segment's code, e.g. POOR."""

    description: str = ""
    """A line that says who this segment is for."""

    dunning_condition: str
    """The code of a declared dunning condition that customers of this segment get."""

    match: Literal["all", "any"] = "all"
    """"all": every condition must hold; "any": one is enough."""

    conditions: tuple[str, ...] = ()
    """Conditions such as "late_ratio >= 0.5"; no conditions matches everyone."""

    @cached_property
    def parsed(self) -> tuple[Condition, ...]:
        return tuple(parse_condition(text) for text in self.conditions)


class Setup(BaseModel):
    """A whole setup: settings, dunning conditions, segments in the order tried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: Settings = Settings()
    """How the metrics are computed and who is left out."""

    dunning_condition: tuple[DunningConditionDef, ...] = Field(min_length=1)
    """The dunning conditions that segments may carry."""

    segment: tuple[SegmentDef, ...] = Field(min_length=1)
    """The segments, tried in this order; the first that matches wins."""

    @model_validator(mode="after")
    def _consistent(self) -> "Setup":
        codes = [c.code for c in self.dunning_condition]
        for code in codes:
            if codes.count(code) > 1:
                raise ValueError(
                    f"dunning condition {code!r} is declared twice; give each "
                    "[[dunning_condition]] its own code"
                )
        seen: set[str] = set()
        for segment in self.segment:
            if segment.code in seen:
                raise ValueError(
                    f"segment {segment.code!r} is declared twice; give each "
                    "[[segment]] its own code"
                )
            seen.add(segment.code)
            if segment.dunning_condition not in codes:
                raise ValueError(
                    f"segment {segment.code!r}: dunning condition "
                    f"{segment.dunning_condition!r} is not declared; use one of "
                    + ", ".join(codes)
                    + " or declare it in a [[dunning_condition]] table"
                )
            for text in segment.conditions:
                try:
                    parse_condition(text)
                except ValueError as exc:
                    # Name the condition, unless the refusal already quotes it.
                    where = f"segment {segment.code!r}"
                    if repr(text) not in str(exc):
                        where += f", condition {text!r}"
                    raise ValueError(f"{where}: {exc}") from None
        return self

    def segment_by_code(self, code: str) -> SegmentDef | None:
        return next((s for s in self.segment if s.code == code), None)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json"))


def _location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """Turn a pydantic error location into words: segment 'POOR', key 'match'."""
    parts: list[str] = []
    node: Any = data
    index = 0
    while index < len(loc):
        key = loc[index]
        if key in ("segment", "dunning_condition") and index + 1 < len(loc):
            position = loc[index + 1]
            entry: Any = None
            if isinstance(node, Mapping) and isinstance(position, int):
                items = node.get(key)
                if isinstance(items, list) and position < len(items):
                    entry = items[position]
            code = entry.get("code") if isinstance(entry, Mapping) else None
            name = "segment" if key == "segment" else "dunning condition"
            # A code that is no text (code = true) is what is wrong: the position
            # names the table instead of Python's spelling of the value.
            label = (
                f"{name} {code!r}"
                if isinstance(code, str) and code
                else f"{name} #{int(position) + 1}"
            )
            parts.append(label)
            node = entry
            index += 2
            continue
        if index == 0 and key == "settings":
            parts.append("[settings]")
        elif isinstance(key, str):
            parts.append(f"key {key!r}")
        else:
            parts.append(f"item #{key + 1}")
        node = node.get(key) if isinstance(node, Mapping) else None
        index += 1
    return ", ".join(parts)


def _model_at(parent_loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model whose fields live at this location of the setup."""
    if parent_loc[:1] == ("settings",):
        return Settings
    if parent_loc[:1] == ("segment",):
        return SegmentDef
    if parent_loc[:1] == ("dunning_condition",):
        return DunningConditionDef
    return Setup


def _valid_keys(parent_loc: tuple[int | str, ...]) -> list[str]:
    return list(_model_at(parent_loc).model_fields)


def _shown(value: object) -> str:
    """A value as it is written in TOML, for the operator to recognise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _range(loc: tuple[int | str, ...]) -> str:
    """The allowed range of a whole-number setting, e.g. 'from 1 to 120'."""
    field = _model_at(loc[:-1]).model_fields.get(str(loc[-1]))
    low = high = None
    for constraint in field.metadata if field else ():
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return ""


def _plain(error: Any, loc: tuple[int | str, ...]) -> str:
    """The refusal in the operator's words rather than pydantic's."""
    kind = error["type"]
    value = _shown(error.get("input"))
    context = error.get("ctx") or {}
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{value} is out of range; use a whole number{_range(loc)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{value} is not a whole number; use one{_range(loc)}"
    if kind == "literal_error":
        return f"{value} is not a valid choice; use {context.get('expected')}"
    if kind == "string_type":
        return f"{value} is not text; write it in double quotes"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return (
            f"{value} is too long; use at most {context.get('max_length')} characters"
        )
    if kind in ("tuple_type", "list_type") and loc in (
        ("segment",),
        ("dunning_condition",),
    ):
        return f"write each one as a [[{loc[0]}]] table, with double brackets"
    if kind in ("tuple_type", "list_type"):
        return f"{value} is not a list; write the items in square brackets"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{value} is not a table; write a table header and its keys below it"
    message = str(error["msg"])
    for pydantic_words in ("Input should", "String should"):
        if message.startswith(pydantic_words):
            message = "must" + message.removeprefix(pydantic_words)
    return message


def _explain(error: ValidationError, data: Mapping[str, Any]) -> str:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        where = _location(loc[:-1], data)
        prefix = f"{where}: " if where else ""
        valid = ", ".join(_valid_keys(loc[:-1]))
        return f"{prefix}unknown key {loc[-1]!r}; valid keys: {valid}"
    if loc in (("segment",), ("dunning_condition",)) and kind in (
        "missing",
        "too_short",
    ):
        table = loc[0]
        name = "segment" if table == "segment" else "dunning condition"
        return f"no {name} is declared; add at least one [[{table}]] table"
    if kind == "missing":
        where = _location(loc[:-1], data)
        prefix = f"{where}: " if where else ""
        return f"{prefix}key {loc[-1]!r} is missing; add it"
    where = _location(loc, data)
    message = _plain(first, loc)
    return f"{where}: {message}" if where else message


def parse_setup(text: str, source: str) -> Setup:
    """Read a setup from TOML text; `source` names the file in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Setup.model_validate(data)
    except ValidationError as exc:
        raise SetupError(f"{source}: {_explain(exc, data)}") from None


def load_setup(path: Path) -> Setup:
    """Read and validate a setup file (UTF-8, with or without a byte-order mark)."""
    try:
        # Notepad and other Windows editors may start the file with a byte-order
        # mark, which TOML does not allow; utf-8-sig reads the file without it.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SetupError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"{path}: cannot be read: {exc}") from None
    return parse_setup(text, str(path))
