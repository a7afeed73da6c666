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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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

    @model_validator(mode="after")
    def _known_flags(self) -> "Settings":
        for flag in self.exclude:
            if flag not in FLAG_NAMES:
                raise ValueError(
                    f"exclude: unknown flag {flag!r}; valid flags: "
                    + ", ".join(FLAG_NAMES)
                )
        return self


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
                raise ValueError(f"dunning condition {code!r} is declared twice")
        seen: set[str] = set()
        for segment in self.segment:
            if segment.code in seen:
                raise ValueError(f"segment {segment.code!r} is declared twice")
            seen.add(segment.code)
            if segment.dunning_condition not in codes:
                raise ValueError(
                    f"segment {segment.code!r}: dunning condition "
                    f"{segment.dunning_condition!r} is not declared; declared: "
                    + ", ".join(codes)
                )
            for text in segment.conditions:
                try:
                    parse_condition(text)
                except ValueError as exc:
                    raise ValueError(f"segment {segment.code!r}: {exc}") from None
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
            label = f"{name} {code!r}" if code else f"{name} #{int(position) + 1}"
            parts.append(label)
            node = entry
            index += 2
            continue
        parts.append(f"key {key!r}" if isinstance(key, str) else f"item #{key + 1}")
        node = node.get(key) if isinstance(node, Mapping) else None
        index += 1
    return ", ".join(parts)


def _explain(error: ValidationError, data: Mapping[str, Any]) -> str:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    where = _location(loc, data)
    if kind == "extra_forbidden":
        parent_loc = loc[:-1]
        valid = _valid_keys(parent_loc)
        where = _location(parent_loc, data)
        prefix = f"{where}: " if where else ""
        return f"{prefix}unknown key {loc[-1]!r}; valid keys: {', '.join(valid)}"
    if kind == "missing":
        return f"{where}: is required"
    return f"{where}: {message}" if where else message


def _valid_keys(parent_loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = Setup
    if parent_loc[:1] == ("settings",):
        model = Settings
    elif parent_loc[:1] == ("segment",):
        model = SegmentDef
    elif parent_loc[:1] == ("dunning_condition",):
        model = DunningConditionDef
    return list(model.model_fields)


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
    """Read and validate a setup file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SetupError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"{path}: cannot be read: {exc}") from None
    return parse_setup(text, str(path))
