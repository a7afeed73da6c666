"""Importing customers, ledger entries and reminders from CSV files.

A mapping (TOML, contract section 5) says how to read a file: its `[source]` format
(delimiter, encoding, date format, number format, which texts mean yes) and its
`[columns]`, product field = column header. The importers stream the file with the csv
module, check every cell and write in batches inside one transaction: the first bad row
refuses the whole file with `InputError`, naming the file, the line, the column, the
value and what was expected, and nothing is stored.

Importing the same file again changes nothing. A ledger entry is found again by its
customer and `entry_key`: "doc:" and the document number where the file has one, else
"row:", a hash of the entry's identity (posting date, due date, amount) and "#" with
its occurrence among the customer's rows of that identity in the file; two identical
rows are two invoices and both are kept. The identity leaves out what changes while an
invoice lives (closing date, remaining amount, dispute, hold, customer name), so that an
updated export without document numbers updates its entries instead of adding them
again. A document number that a customer's rows repeat is kept as a further entry,
"dup:", the number, "#" and its occurrence ("dup:N#2"), with a warning: a prefix of
its own, so that no document number, "N#2" say, can be taken for a repeat.

Booleans: a cell in `true_values` is true, an empty cell is false. Without
`false_values` every other text is false; with it, a text in neither list is refused.
The value "*" in `true_values` stands for any other non-empty text, for systems that
hold a code where others say yes (Business Central's On Hold and Dispute Status).
The lists match whatever the case: "no" is the "No" of `false_values`, not any other
text that "*" makes true.

Speed: the ledger importer is written for files of millions of rows. Rows are
converted a chunk at a time, column by column, where every cell has a common form
(`_LedgerRows.by_columns`), so that per row only C code runs; other chunks go row by
row. Dates are parsed once per distinct text, amounts are read without `Decimal`, and
rows are written as tuples through the driver with a statement that SQLAlchemy compiles
once for the database at hand: its per-row parameter handling would cost more than the
insert itself. Rows are converted to the column types' stored form here, by the types'
own bind processors, so the stored values are the same as through the ORM. A large
file is parsed in a second process while this one writes (`_ParserProcess`).

Memory: an import holds a batch at a time and no key of every row: the writer finds
repeats in the store (`_LedgerWriter`), so memory stays the same however long the
file is.
"""

import codecs
import csv
import gc
import heapq
import logging
import marshal
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from hashlib import blake2b
from itertools import chain, islice
from operator import itemgetter, lt
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, TextIO, cast

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Table,
    and_,
    column,
    select,
    table,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import bindparam
from sqlalchemy.sql.expression import Insert, TableClause
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from segment_tui.errors import InputError
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.services import ensure_conditions
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Customer, LedgerEntry, Reminder
from segment_tui.store.read_ahead import widen_pipe

log = logging.getLogger(__name__)

_customer = cast(Table, Customer.__table__)
_reminder = cast(Table, Reminder.__table__)
_ledger_typed = cast(Table, LedgerEntry.__table__)

Kind = Literal["customers", "ledger", "reminders"]

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "ledger": ("customer_no", "posting_date", "due_date", "amount"),
    "customers": ("customer_no", "name"),
    "reminders": ("customer_no", "issued_on", "level"),
}
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "ledger": (
        "document_no",
        "customer_name",
        "remaining_amount",
        "closed_at",
        "disputed",
        "on_hold",
    ),
    "customers": ("dunning_condition", *FLAG_NAMES),
    "reminders": (),
}

DEFAULT_TRUE_VALUES: tuple[str, ...] = (
    "Yes",
    "Ja",
    "1",
    "true",
    "True",
    "TRUE",
    "J",
    "Y",
)
ANY_TEXT = "*"
"""In `true_values`: any non-empty text that is not in `false_values` is true."""

THOUSANDS_SEPARATORS = ("", ".", ",", " ", "'", "\u00a0", "\u202f")

BATCH_ROWS = 10_000
# Distinct texts remembered per column kind; past this the parse is simply redone.
CACHE_LIMIT = 100_000
# Customers whose stored name an import remembers (about 150 bytes each); past
# this it looks them up again.
CUSTOMER_CACHE = 250_000
# How many warnings are listed one by one before they are only counted.
WARNING_LIMIT = 50

# Column widths of the store, checked here so that SQLite, which does not enforce
# them, refuses the same files as PostgreSQL.
CUSTOMER_NO_WIDTH = 40
DOCUMENT_NO_WIDTH = 40
NAME_WIDTH = 200
CONDITION_WIDTH = 20
# Amounts are NUMERIC(18, 2) in PostgreSQL: 16 digits before the decimal point. The
# whole cents of SQLite's INTEGER would hold more; the bound is the same on both.
AMOUNT_WHOLE_DIGITS = 16
# Reminder levels are a 32-bit INTEGER.
LEVEL_MAX = 2_147_483_647
# PostgreSQL cannot store a NUL character in a text; SQLite refuses it too, here.
NUL = "\x00"
NUL_REFUSAL = (
    "holds a NUL character, which no text in the store may hold; is the file "
    "binary, or in another encoding than the mapping says?"
)


# ---------------------------------------------------------------------------
# The mapping file


class SourceFormat(BaseModel):
    """How the file is written: the `[source]` table of a mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = ","
    """The one character between fields, e.g. "," or ";" ("\\t" for tab)."""

    encoding: str = "utf-8-sig"
    """The text encoding; "utf-8-sig" also reads UTF-8 with a byte-order mark."""

    date_format: str = "%Y-%m-%d"
    """The strptime format of every date column, e.g. "%d-%m-%Y"."""

    decimal_separator: Literal[".", ","] = "."
    """The character before the cents."""

    thousands_separator: str = ""
    """The character between groups of thousands, or "" when amounts have none."""

    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    """Texts that mean yes in a boolean column; "*" means any non-empty text."""

    false_values: tuple[str, ...] | None = None
    """Texts that mean no; when given, a text in neither list is refused."""

    @model_validator(mode="after")
    def _consistent(self) -> "SourceFormat":
        if len(self.delimiter) != 1 or self.delimiter in '"\r\n':
            raise ValueError(
                f"delimiter: {self.delimiter!r} must be one character other than "
                'a quote or a line break, e.g. "," or ";"'
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(
                f"encoding: {self.encoding!r} is not a known encoding; "
                'e.g. "utf-8-sig", "cp1252", "latin-1"'
            ) from None
        sample = date(2013, 12, 31)
        try:
            read_back = datetime.strptime(
                sample.strftime(self.date_format), self.date_format
            )
        except ValueError:
            read_back = None
        if read_back is None or read_back.date() != sample:
            raise ValueError(
                f"date_format: {self.date_format!r} does not read a whole date; "
                'e.g. "%m/%d/%Y", "%d-%m-%Y", "%Y-%m-%d"'
            )
        if self.thousands_separator not in THOUSANDS_SEPARATORS:
            raise ValueError(
                f"thousands_separator: {self.thousands_separator!r} is not one of "
                + ", ".join(repr(s) for s in THOUSANDS_SEPARATORS)
            )
        if self.thousands_separator == self.decimal_separator:
            raise ValueError(
                "thousands_separator: must differ from decimal_separator "
                f"{self.decimal_separator!r}"
            )
        false_folded = {value.casefold() for value in self.false_values or ()}
        both = sorted(v for v in self.true_values if v.casefold() in false_folded)
        if both:
            raise ValueError(
                f"{both[0]!r} is in both true_values and false_values, which "
                "match whatever the case"
            )
        return self


class Mapping(BaseModel):
    """A mapping file, read: which kind of file it reads, how, and which columns.

    `name` is the mapping file as messages name it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    """The kind of file this mapping reads: customers, ledger or reminders."""

    name: str
    """The mapping file, as messages name it."""

    source: SourceFormat = SourceFormat()
    """How the file is written."""

    columns: dict[str, str]
    """Product field = the header of its column in the file."""

    @model_validator(mode="after")
    def _known_fields(self) -> "Mapping":
        required = REQUIRED_FIELDS[self.kind]
        optional = OPTIONAL_FIELDS[self.kind]
        for product_field, header in self.columns.items():
            if product_field not in required and product_field not in optional:
                raise ValueError(
                    f"[columns] unknown field {product_field!r} for a {self.kind} "
                    "file; valid fields: " + ", ".join(required + optional)
                )
            if not header.strip():
                raise ValueError(
                    f"[columns] {product_field}: the column header is empty"
                )
        for product_field in required:
            if product_field not in self.columns:
                optional_text = "; optional: " + ", ".join(optional) if optional else ""
                raise ValueError(
                    f"[columns] the required field {product_field!r} is missing; "
                    f"required: {', '.join(required)}{optional_text}"
                )
        return self


def load_mapping(path: Path, kind: Kind) -> Mapping:
    """Read and check the mapping file at `path` for a file of `kind`."""
    try:
        # utf-8-sig: Notepad and other Windows editors may start the file with a
        # byte-order mark, which TOML does not allow.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: the mapping cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    for section in data:
        if section not in ("source", "columns"):
            raise InputError(
                f"{path}: unknown section {section!r}; valid sections: source, columns"
            )
    if not isinstance(data.get("columns"), dict):
        raise InputError(
            f"{path}: the [columns] table is missing; it names the file's column of "
            f"each field: {', '.join(REQUIRED_FIELDS[kind])} are required"
        )
    try:
        return Mapping.model_validate({"kind": kind, "name": str(path), **data})
    except ValidationError as exc:
        raise InputError(f"{path}: {_explain(exc)}") from None


def _explain(error: ValidationError) -> str:
    """The first problem of a mapping, in the words of the file."""
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    section = f"[{location[0]}]" if location else ""
    if first["type"] == "extra_forbidden" and location[:1] == ["source"]:
        return f"[source] unknown key {location[-1]!r}; valid keys: " + ", ".join(
            SourceFormat.model_fields
        )
    if location[:1] == ["columns"] and len(location) > 1:
        return f"[columns] {location[1]}: must be a column header in quotes"
    if len(location) > 1:
        return f"{section} {location[1]}: {message}"
    return f"{section} {message}" if section else message


# ---------------------------------------------------------------------------
# The result


@dataclass
class ImportResult:
    """What an import did. Counts are of rows, except `customers_created`."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    customers_created: int = 0
    warnings: list[str] = field(default_factory=list)


# The kinds of warning, in the order two warnings about one line are listed.
REPEAT_WARNING = 0
DATE_WARNING = 1


class _Warnings:
    """Warnings of one import, each with its line and kind: the first ones by line
    in full, the rest counted.

    The parsing of the rows and the writing of repeats both add warnings, each in
    the order of the file but not with each other, and the parsing process sends
    its own at the end (`state`, `merge`): so the ones listed are always those of
    the lowest lines, kept in a heap that drops the highest, and two about one
    line are listed by kind, whichever process found them.
    """

    def __init__(self) -> None:
        # (-line, -kind, -order, text): the top of the heap is the one to drop.
        self.kept: list[tuple[int, int, int, str]] = []
        self.added = 0
        self.more = 0

    def add(self, line: int, text: str, kind: int) -> None:
        self.added += 1
        entry = (-line, -kind, -self.added, text)
        if len(self.kept) < WARNING_LIMIT:
            heapq.heappush(self.kept, entry)
        else:
            heapq.heappushpop(self.kept, entry)
            self.more += 1

    def state(self) -> tuple[list[tuple[int, int, str]], int]:
        """The warnings listed, as (line, kind, text), and how many more there were."""
        listed = [(-line, -kind, text) for line, kind, _, text in self._in_order()]
        return listed, self.more

    def merge(self, listed: list[tuple[int, int, str]], more: int) -> None:
        """Add the `state` of another import's warnings to these."""
        for line, kind, text in listed:
            self.add(line, text, kind)
        self.more += more

    def as_list(self) -> list[str]:
        texts = [text for *_, text in self._in_order()]
        if self.more:
            return [*texts, f"and {self.more} more warnings like these"]
        return texts

    def _in_order(self) -> list[tuple[int, int, int, str]]:
        return sorted(self.kept, reverse=True)


# ---------------------------------------------------------------------------
# Reading the file


class _File:
    """A CSV file opened through a mapping: its header, the mapped columns, the rows.

    The importers iterate `reader`, the csv reader itself, so that their loops pay
    nothing per row for this class; `reader.line_num` is the physical line reached.
    """

    def __init__(self, path: Path, mapping: Mapping, stream: TextIO) -> None:
        self.path = path
        self.mapping = mapping
        self.reader = csv.reader(stream, delimiter=mapping.source.delimiter)
        try:
            header = next(self.reader)
            # Excel writes "sep=;" above the header when asked to name its delimiter.
            if len(header) <= 2 and "".join(header).strip().startswith("sep="):
                header = next(self.reader)
        except StopIteration:
            raise InputError(
                f"{path} has no header line; the first line must name the columns"
            ) from None
        self.header = [cell.strip() for cell in header]
        if self.header:
            self.header[0] = self.header[0].lstrip("\ufeff")
        self.width = len(self.header)
        self.index = {
            product_field: self._position(product_field, wanted)
            for product_field, wanted in mapping.columns.items()
        }

    def _position(self, product_field: str, wanted: str) -> int:
        wanted = wanted.strip()
        positions = [i for i, name in enumerate(self.header) if name == wanted]
        if len(positions) > 1:
            raise InputError(
                f"{self.path}: the header line names column {wanted!r} "
                f"{len(positions)} times; {self.mapping.name} maps it to "
                f"{product_field}, so it must be unique"
            )
        if not positions:
            raise InputError(
                f"{self.path}: column {wanted!r} ({product_field} in "
                f"{self.mapping.name}) is not in the file; its header line has: "
                + ", ".join(repr(name) for name in self.header)
            )
        return positions[0]

    def at(self, product_field: str) -> int | None:
        return self.index.get(product_field)

    def header_of(self, product_field: str) -> str:
        return self.header[self.index[product_field]]

    def refuse(
        self, line: int, product_field: str, value: str, expected: str
    ) -> NoReturn:
        """Refuse the file at one cell: where, what it holds, what was expected."""
        raise InputError(
            f"{self.path} line {line}, column {self.header_of(product_field)!r}: "
            f"{value!r} {expected}"
        )

    def refuse_width(self, line: int, row: Sequence[str]) -> NoReturn:
        raise InputError(
            f"{self.path} line {line} has {len(row)} fields where the header line "
            f"has {self.width}; check the delimiter "
            f"({self.mapping.source.delimiter!r} in {self.mapping.name}) and the "
            "quotes around texts that contain it"
        )


@contextmanager
def _open(path: Path, mapping: Mapping) -> Iterator[_File]:
    """Open `path` for reading through `mapping`, turning read errors into refusals."""
    encoding = mapping.source.encoding
    try:
        # newline="" lets the csv module see CRLF and line breaks inside quotes.
        with path.open(encoding=encoding, newline="") as stream:
            yield _File(path, mapping, stream)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        line = _undecodable_line(path, encoding)
        bad = exc.object[exc.start : exc.end].hex(" ")
        raise InputError(
            f"{path} line {line} cannot be read as {encoding} (bytes {bad}); set "
            f'the file\'s encoding in [source] of {mapping.name}, e.g. "cp1252"'
        ) from None
    except csv.Error as exc:
        line = _unreadable_record_line(path, mapping)
        raise InputError(
            f"{path} line {line} cannot be read as CSV: {_csv_problem(exc)}"
        ) from None


def _unreadable_record_line(path: Path, mapping: Mapping) -> int:
    """The line on which the row that the csv module refuses begins."""
    # The reader only tells the line it has reached, which for a quote that is never
    # closed is far below the row at fault; reading again, row by row, tells where
    # that row began. Only done when the import is refused.
    last = 0
    with path.open(encoding=mapping.source.encoding, newline="") as stream:
        reader = csv.reader(stream, delimiter=mapping.source.delimiter)
        try:
            for _ in reader:
                last = reader.line_num
        except csv.Error:
            pass
    return last + 1


def _csv_problem(error: csv.Error) -> str:
    """The csv module's refusal in the operator's words, where it has some."""
    if "field larger than field limit" in str(error):
        return (
            f"a field of this row is longer than {csv.field_size_limit()} "
            "characters; check that every quote that opens a text is closed"
        )
    return str(error)


def _undecodable_line(path: Path, encoding: str) -> int:
    """The line of the first byte that `encoding` cannot decode."""
    # The text layer decodes in large chunks, so its error does not tell the line;
    # decoding again line by line does. Only done when the import is refused.
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as stream:
        for piece in stream:
            try:
                line += decoder.decode(piece).count("\n")
            except UnicodeDecodeError as exc:
                start = exc.start
                good = codecs.getincrementaldecoder(encoding)()
                return line + good.decode(piece[:start]).count("\n")
    return line


# ---------------------------------------------------------------------------
# Reading cells


class _Cells:
    """Parsers of one mapping's dates, amounts and booleans, refusing bad cells.

    Each parser is called only for a text its cache does not know yet; the caches
    map the text to the value and the form in which the store binds it.
    """

    def __init__(self, file: _File, dialect: Dialect) -> None:
        source = file.mapping.source
        self.file = file
        self.date_format = source.date_format
        self.decimal = source.decimal_separator
        self.thousands = source.thousands_separator
        # Compared casefolded; the lists as given name them in a refusal.
        self.true_values = frozenset(source.true_values) - {ANY_TEXT}
        self.false_values = (
            frozenset(source.false_values) if source.false_values is not None else None
        )
        self.true_folded = frozenset(value.casefold() for value in self.true_values)
        self.false_folded = frozenset(
            value.casefold() for value in source.false_values or ()
        )
        self.any_text_is_true = ANY_TEXT in source.true_values
        self.bind_day = _binder(_ledger_typed.c.posting_date, dialect)
        self.bind_money = _binder(_ledger_typed.c.amount, dialect)
        bind_bool = _binder(_ledger_typed.c.disputed, dialect)
        self.stored_true = bind_bool(True)
        self.stored_false = bind_bool(False)
        # Where the store keeps whole cents (SQLite), the cents are the stored form
        # and no Decimal is made per row; checked here, not assumed.
        self.money_is_cents = self.bind_money(Decimal("-12.34")) == -1234
        plain = _plain_amount(self.decimal, self.thousands)
        self.plain_amount = re.compile(plain).fullmatch
        # A column of such amounts, each ended by a line break; or empty cells too.
        self.plain_column = re.compile(f"(?:{plain}\n)*").fullmatch
        self.plain_column_or_blank = re.compile(f"(?:(?:{plain})?\n)*").fullmatch
        self.dates: dict[str, tuple[date, Any]] = {}
        self.amounts: dict[str, tuple[int, Any]] = {}
        self.booleans: dict[str, Any] = {"": self.stored_false}

    def date(self, text: str, line: int, product_field: str) -> tuple[date, Any]:
        """The date in `text` and its stored form; cached."""
        if not text.strip():
            self.file.refuse(line, product_field, text, "is empty; a date is required")
        try:
            day = datetime.strptime(text.strip(), self.date_format).date()
        except ValueError:
            self.file.refuse(
                line,
                product_field,
                text,
                f"is not a date in the format {self.date_format}",
            )
        value = (day, self.bind_day(day))
        if len(self.dates) < CACHE_LIMIT:
            self.dates[text] = value
        return value

    def amount(self, text: str, line: int, product_field: str) -> tuple[int, Any]:
        """The amount in `text` as whole cents, and its stored form; cached."""
        if self.plain_amount(text):
            # Digits, separators in their places and two decimals: without the
            # separators the text is the cents, as `cents` would read them.
            cents = int(text.replace(self.thousands, "").replace(self.decimal, ""))
        else:
            cents = self.checked_cents(text, line, product_field)
        stored = (
            cents if self.money_is_cents else self.bind_money(Decimal(cents).scaleb(-2))
        )
        value = (cents, stored)
        if len(self.amounts) < CACHE_LIMIT:
            self.amounts[text] = value
        return value

    def checked_cents(self, text: str, line: int, product_field: str) -> int:
        """Whole cents of an amount in any form the mapping allows; else refused."""
        if not text.strip():
            self.file.refuse(
                line, product_field, text, "is empty; an amount is required"
            )
        cents = self.cents(text.strip())
        if cents is None:
            expected = f"is not an amount with decimal separator {self.decimal!r}"
            if self.thousands:
                expected += (
                    f" and thousands separator {self.thousands!r} (e.g. "
                    f"{_example_amount(self.decimal, self.thousands)})"
                )
            self.file.refuse(line, product_field, text, expected)
        elif isinstance(cents, str):
            self.file.refuse(line, product_field, text, cents)
        return cents

    def cents(self, text: str) -> int | str | None:
        """Whole cents of `text`; None when it is no amount, a reason when refused."""
        if self.thousands and self.thousands in text:
            ungrouped = _ungroup(text, self.thousands, self.decimal)
            if ungrouped is None:
                return None
            text = ungrouped
        if self.decimal != ".":
            if "." in text:
                return None
            text = text.replace(self.decimal, ".")
        negative = text[:1] == "-"
        if negative or text[:1] == "+":
            text = text[1:]
        whole, _, fraction = text.partition(".")
        digits = whole + fraction
        if not (digits and digits.isascii() and digits.isdigit()):
            return None
        if len(fraction) > 2:
            if fraction[2:].strip("0"):
                return "has more than 2 decimals"
            fraction = fraction[:2]
        whole = whole.lstrip("0")
        if len(whole) > AMOUNT_WHOLE_DIGITS:
            return (
                "is larger than the store holds: at most "
                f"{AMOUNT_WHOLE_DIGITS} digits before the decimal separator"
            )
        cents = int(whole + fraction.ljust(2, "0"))
        return -cents if negative else cents

    def boolean(self, text: str, line: int, product_field: str) -> Any:
        """True or false as the store binds it, per the mapping's value lists."""
        value = text.strip().casefold()
        if value in self.true_folded:
            result = self.stored_true
        elif not value or value in self.false_folded:
            result = self.stored_false
        elif self.any_text_is_true:
            result = self.stored_true
        elif self.false_values is not None:
            self.file.refuse(
                line,
                product_field,
                text,
                "is not one of the true values ("
                + ", ".join(sorted(self.true_values))
                + ") or false values ("
                + ", ".join(sorted(self.false_values))
                + ")",
            )
        else:
            result = self.stored_false
        if len(self.booleans) < CACHE_LIMIT:
            self.booleans[text] = result
        return result


def _ungroup(text: str, thousands: str, decimal: str) -> str | None:
    """`text` without its thousands separators, or None when they are misplaced."""
    whole, separator, fraction = text.partition(decimal)
    sign = whole[:1] if whole[:1] in "+-" else ""
    groups = whole[len(sign) :].split(thousands)
    if not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:]):
        return None
    return sign + "".join(groups) + separator + fraction


def _plain_amount(decimal: str, thousands: str) -> str:
    """The pattern of the common form of an amount, which `_Cells.amount` and
    `_LedgerRows.by_columns` read fast.

    An optional minus, the whole part as plain digits or in groups of three, the
    decimal separator and two decimals: amounts differ from row to row, so most of
    them miss the cache, and reading them the long way took a third of the parsing.
    At most `AMOUNT_WHOLE_DIGITS` digits before the separator, so that the store
    holds every amount read here; longer texts go the long way, which decides.
    ASCII digits only: `int` would also read other digits.
    """
    whole = f"[0-9]{{1,{AMOUNT_WHOLE_DIGITS}}}"
    if thousands:
        groups = (AMOUNT_WHOLE_DIGITS - 3) // 3
        whole += f"|[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}}){{1,{groups}}}"
    return f"-?(?:{whole}){re.escape(decimal)}[0-9][0-9]"


def _example_amount(decimal: str, thousands: str) -> str:
    return f"-1{thousands}234{decimal}56"


def _binder(target: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """The function that turns a Python value into what `target` stores."""
    processor = target.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return _same
    return processor


def _same(value: Any) -> Any:
    return value


def _text(
    file: _File, row: Sequence[str], line: int, product_field: str, width: int
) -> str:
    """A required text cell, stripped; refused when empty, wider than the store or
    holding a NUL character."""
    value = row[file.index[product_field]].strip()
    if not value:
        file.refuse(line, product_field, value, "is empty; a value is required")
    if len(value) > width:
        file.refuse(line, product_field, value, f"is longer than {width} characters")
    if NUL in value:
        file.refuse(line, product_field, value, NUL_REFUSAL)
    return value


# ---------------------------------------------------------------------------
# Writing


def _positional(dialect: Dialect) -> Dialect:
    """`dialect`, or a twin that writes positional placeholders, for rows as tuples."""
    if dialect.positional:
        return dialect
    # psycopg takes %s placeholders with a tuple of parameters.
    return cast(Dialect, cast(Any, type(dialect))(paramstyle="format"))


class _Statement:
    """An INSERT compiled once, run for many rows of plain tuples.

    Passing tuples straight to the driver skips SQLAlchemy's per-row parameter
    processing, which costs more than the insert; the rows must therefore already
    hold the stored form of each value, in the order of `columns`. Each statement
    carries many rows: on PostgreSQL, one statement per row, even pipelined, made
    the server the bottleneck; on SQLite, fifty rows a statement write a quarter
    faster than one, and more rows gain little.
    """

    def __init__(
        self,
        make: Callable[[list[dict[str, Any]] | None], Insert],
        dialect: Dialect,
        columns: Sequence[str],
    ) -> None:
        self.columns = list(columns)
        self.dialect = _positional(dialect)
        self.single = self._compile(make, 1)
        self.per_statement = 500 if dialect.name == "postgresql" else 50
        self.multiple = (
            self._compile(make, self.per_statement) if self.per_statement > 1 else ""
        )

    def _compile(
        self, make: Callable[[list[dict[str, Any]] | None], Insert], rows: int
    ) -> str:
        if rows == 1:
            statement = make(None)
            expected = self.columns
        else:
            placeholders: list[dict[str, Any]] = [
                {name: bindparam(f"r{i}_{name}") for name in self.columns}
                for i in range(rows)
            ]
            statement = make(placeholders)
            expected = [f"r{i}_{name}" for i in range(rows) for name in self.columns]
        compiled = statement.compile(
            dialect=self.dialect, column_keys=self.columns, for_executemany=rows == 1
        )
        order = list(compiled.positiontup or ())
        if order != expected:
            raise RuntimeError(f"parameters in the order {order}, not {expected}")
        return str(compiled)

    def run(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Run the statement for `rows`; how many rows it wrote, as the driver
        counts them (sqlite3 and psycopg add up those of every statement)."""
        size = self.per_statement
        whole = len(rows) - len(rows) % size if size > 1 else 0
        written = 0
        if whole:
            written += connection.exec_driver_sql(
                self.multiple,
                [
                    tuple(chain.from_iterable(rows[start : start + size]))
                    for start in range(0, whole, size)
                ],
            ).rowcount
        if rows[whole:]:
            written += connection.exec_driver_sql(self.single, rows[whole:]).rowcount
        return written


class _Lookup:
    """Stored rows by key, many keys a query, with a SELECT compiled once.

    The query always binds `SIZE` keys (a short last chunk repeats its first key),
    so that it is compiled once rather than for every chunk, which for thousands of
    keys costs more than running it. Keys and results are in the stored form.
    Keys of several columns are joined from a VALUES list: SQLite answers a row
    value IN (...) by scanning the whole index.
    """

    SIZE = 500

    def __init__(
        self,
        target: TableClause,
        key: Sequence[str],
        wanted: Sequence[str],
        dialect: Dialect,
    ) -> None:
        self.pairs = len(key) > 1
        columns = [target.c[name] for name in wanted]
        if self.pairs:
            keys = (
                values(
                    *(
                        column(f"k{i}", target.c[name].type)
                        for i, name in enumerate(key)
                    ),
                    name="wanted",
                )
                .data([("",) * len(key)] * self.SIZE)
                .cte("wanted")
            )
            matches = and_(
                *(target.c[name] == keys.c[f"k{i}"] for i, name in enumerate(key))
            )
            statement = select(*columns).select_from(keys.join(target, matches))
        else:
            statement = select(*columns).where(target.c[key[0]].in_([""] * self.SIZE))
        self.sql = str(
            statement.compile(
                dialect=_positional(dialect),
                compile_kwargs={"render_postcompile": True},
            )
        )

    def fetch(self, connection: Connection, keys: Sequence[Any]) -> list[Any]:
        """The stored rows whose key is in `keys` (tuples, or values for one column)."""
        found: list[Any] = []
        for start in range(0, len(keys), self.SIZE):
            chunk = list(keys[start : start + self.SIZE])
            chunk += [chunk[0]] * (self.SIZE - len(chunk))
            parameters = tuple(chain.from_iterable(chunk)) if self.pairs else chunk
            found += connection.exec_driver_sql(self.sql, tuple(parameters)).fetchall()
        return found


def _upsert(
    target: TableClause,
    dialect: Dialect,
    key: Sequence[str],
    values: Sequence[str],
    rows: list[dict[str, Any]] | None = None,
) -> Insert:
    """INSERT, or UPDATE of `values` where a row with the same `key` exists.

    `rows` gives the rows of a many-row INSERT, as bound parameters.
    """
    if dialect.name == "postgresql":
        pg_statement = postgresql.insert(target)
        if rows is not None:
            pg_statement = pg_statement.values(rows)
        excluded = pg_statement.excluded
        if not values:
            return pg_statement.on_conflict_do_nothing(index_elements=list(key))
        return pg_statement.on_conflict_do_update(
            index_elements=list(key), set_={name: excluded[name] for name in values}
        )
    if dialect.name == "sqlite":
        lite_statement = sqlite.insert(target)
        if rows is not None:
            lite_statement = lite_statement.values(rows)
        lite_excluded = lite_statement.excluded
        if not values:
            return lite_statement.on_conflict_do_nothing(index_elements=list(key))
        return lite_statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: lite_excluded[name] for name in values},
        )
    raise InputError(
        f"importing into a {dialect.name} database is not supported; use SQLite or "
        "PostgreSQL"
    )


@contextmanager
def _tuned_for_import(connection: Connection) -> Iterator[None]:
    """The connection set up for a large import while the block runs, then reset.

    SQLite gets a page cache that holds the indexes the import writes to: with the
    default of 2 MB, the index pages of a store with a million entries are read
    again and again, and the import takes about twice as long.

    psycopg gets no server-side prepared statements: PostgreSQL would keep the
    plan it made for a lookup while the table was still empty (a scan) for the
    rest of the import, which then slows down with every batch.
    """
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        connection.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or 0)}")
    elif hasattr(driver, "prepare_threshold"):
        threshold = driver.prepare_threshold
        driver.prepare_threshold = None
        try:
            yield
        finally:
            driver.prepare_threshold = threshold
    else:
        yield


IMPORT_CACHE_KIB = 65_536


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while the block runs.

    A large import makes millions of tuples that live for a batch and hold no
    cycles; the collector, started by their number, walks the live ones again and
    again, which cost up to a fifth of an import. What cycles the block leaves are
    collected once it is resumed.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Customers:
    """The customers met in one import: looked up, created and renamed in batches.

    Remembers the stored name of up to `CUSTOMER_CACHE` customers, and which of
    them were in the store when looked up (`existed`); past that it forgets them
    all and looks up again, so that memory stays bounded however many customers a
    file has. A customer this import created and then forgot is found again as
    one that exists, and its entries take the writer's slower way for those.
    """

    def __init__(self, connection: Connection, condition: str | None) -> None:
        self.connection = connection
        self.condition = condition
        self.names: dict[str, str] = {}
        self.existed: set[str] = set()
        self.created = 0
        dialect = connection.dialect
        self.lookup = _Lookup(
            _customer, ["customer_no"], ["customer_no", "name"], dialect
        )
        # Columns with a default in the model get it here, as the ORM would.
        self.defaults = {
            c.name: _binder(c, dialect)(c.default.arg)
            for c in _customer.columns
            if isinstance(c.default, ScalarElementColumnDefault)
            and c.name not in ("customer_no", "name", "dunning_condition")
        }
        columns = ["customer_no", "name", "dunning_condition", *self.defaults]
        self.insert = _Statement(
            lambda rows: (
                _customer.insert() if rows is None else _customer.insert().values(rows)
            ),
            dialect,
            columns,
        )

    def meet(self, customer_nos: set[str], names: dict[str, str]) -> None:
        """Make sure these customers exist, with the names of `names` where given."""
        unseen = customer_nos.difference(self.names)
        if len(self.names) + len(unseen) > CUSTOMER_CACHE:
            self.names.clear()
            self.existed.clear()
            unseen = set(customer_nos)
        if unseen:
            found = dict(self.lookup.fetch(self.connection, sorted(unseen)))
            self.names.update(found)
            self.existed.update(found)
            new = sorted(unseen.difference(found))
            if new:
                fixed = tuple(self.defaults.values())
                self.insert.run(
                    self.connection,
                    [(c, names.get(c, ""), self.condition, *fixed) for c in new],
                )
                self.created += len(new)
                self.names.update((c, names.get(c, "")) for c in new)
        renamed = [
            {"number": customer_no, "new_name": name}
            for customer_no, name in names.items()
            if self.names[customer_no] != name
        ]
        if renamed:
            self.connection.execute(
                update(_customer)
                .where(_customer.c.customer_no == bindparam("number"))
                .values(name=bindparam("new_name")),
                renamed,
            )
            self.names.update((row["number"], row["new_name"]) for row in renamed)


def _condition_code(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.strip()
    if not code:
        return None
    if len(code) > CONDITION_WIDTH:
        raise InputError(
            f"dunning condition {code!r} is longer than {CONDITION_WIDTH} characters"
        )
    return code


# ---------------------------------------------------------------------------
# Ledger

# The ledger_entry columns in the order of the row tuples built below. The first
# two are the entry's identity, the rest are compared to find changed entries.
LEDGER_COLUMNS = (
    "customer_no",
    "entry_key",
    "document_no",
    "posting_date",
    "due_date",
    "amount",
    "remaining_amount",
    "closed_at",
    "disputed",
    "on_hold",
)
LEDGER_KEY = LEDGER_COLUMNS[:2]
LEDGER_VALUES = LEDGER_COLUMNS[2:]
# Rows sorted by their identity alone: two rows of one key (a repeat not yet
# numbered) may hold None where the other holds a value, which do not compare.
_KEY = itemgetter(0, 1)

# Without types: values go in and come out in their stored form (see _Statement).
_ledger = table("ledger_entry", *(column(name) for name in LEDGER_COLUMNS))
_ledger_ids = table(
    "ledger_entry", column("id"), *(column(name) for name in LEDGER_COLUMNS)
)


class _LedgerWriter:
    """Writes batches of ledger rows, creating the customers they need first, and
    numbers the repeats of a document number or an identical row.

    Only customers found in the store can have entries there already, so only
    their entries are looked up, to tell new, changed and unchanged entries apart,
    and only theirs go through the upsert. The entries of a customer that this
    import created are new by definition and go in by a plain INSERT: a first
    import into an empty store looks up nothing and upserts nothing.

    A row whose key an earlier row of the file had is a repeat. The parser gives
    every row the key of a first occurrence; the store tells which keys this import
    met already, so that no process keeps the keys of every row:

    - the entries this import inserted have an id from `first_new_id` on;
    - of the entries stored before, those it met are marked in `met`, a bit per id.

    A new customer's repeat is a row its INSERT leaves out (ON CONFLICT DO
    NOTHING), so that fewer rows go in than the batch has; a known customer's
    shows in the lookup. That batch is then numbered in file order (`_numbered`),
    and only the repeats are remembered, in `repeats`.
    """

    def __init__(
        self,
        connection: Connection,
        condition: str | None,
        result: ImportResult,
        warnings: _Warnings,
    ) -> None:
        self.connection = connection
        self.result = result
        self.warnings = warnings
        self.customers = _Customers(connection, condition)
        dialect = connection.dialect
        self.lookup = _Lookup(_ledger_ids, LEDGER_KEY, ("id", *LEDGER_COLUMNS), dialect)
        self.insert = _Statement(
            lambda rows: (
                _ledger.insert() if rows is None else _ledger.insert().values(rows)
            ),
            dialect,
            LEDGER_COLUMNS,
        )
        self.insert_new = _Statement(
            lambda rows: _upsert(_ledger, dialect, LEDGER_KEY, (), rows),
            dialect,
            LEDGER_COLUMNS,
        )
        self.upsert = _Statement(
            lambda rows: _upsert(_ledger, dialect, LEDGER_KEY, LEDGER_VALUES, rows),
            dialect,
            LEDGER_COLUMNS,
        )
        # Writers take turns (write_transaction), so every id from here on is ours.
        last_id = connection.exec_driver_sql("SELECT max(id) FROM ledger_entry")
        self.first_new_id = int(last_id.scalar() or 0) + 1
        self.met = bytearray()  # made when a known customer's entry is first met
        # How often each repeated key was met: (customer, key of the first) -> count.
        self.repeats: dict[tuple[str, str], int] = {}

    def write(self, columns: list[list[Any]], names: dict[str, str]) -> None:
        """Write one batch, as columns of BATCH_COLUMNS in file order, with the
        names of its customers."""
        self.customers.meet(set(columns[0]), names)
        self.result.customers_created = self.customers.created
        lines = columns[-1]
        rows = list(zip(*columns[:-1], strict=True))
        existed = self.customers.existed
        if not existed:
            self._insert(rows, lines)
            return
        known: list[tuple[Any, ...]] = []
        known_lines: list[int] = []
        new: list[tuple[Any, ...]] = []
        new_lines: list[int] = []
        for row, line in zip(rows, lines, strict=True):
            if row[0] in existed:
                known.append(row)
                known_lines.append(line)
            else:
                new.append(row)
                new_lines.append(line)
        if known:
            self._upsert(known, known_lines)
        if new:
            self._insert(new, new_lines)

    def _insert(self, rows: list[tuple[Any, ...]], lines: list[int]) -> None:
        """Insert the rows of customers this import created."""
        savepoint = self.connection.begin_nested()
        # In key order, the writer visits each index page once.
        if self.insert_new.run(self.connection, sorted(rows, key=_KEY)) == len(rows):
            savepoint.commit()
        else:
            # A key met before, in this batch or inserted from an earlier one.
            savepoint.rollback()
            rows = self._numbered(rows, lines, self._stored(rows))
            self.insert.run(self.connection, sorted(rows, key=_KEY))
        self.result.inserted += len(rows)

    def _upsert(self, rows: list[tuple[Any, ...]], lines: list[int]) -> None:
        """Insert or update the rows of customers found in the store."""
        if not self.met:
            self.met = bytearray(self.first_new_id // 8 + 1)
        stored = self._stored(rows)
        if self._repeats_in(rows, stored):
            rows = self._numbered(rows, lines, stored)
            stored = self._stored(rows)
        met = self.met
        for entry_id in map(itemgetter(0), stored):
            met[entry_id >> 3] |= 1 << (entry_id & 7)
        self.upsert.run(self.connection, sorted(self._changed(rows, stored), key=_KEY))

    def _stored(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The stored entries with the keys of `rows`: id, then LEDGER_COLUMNS."""
        return self.lookup.fetch(self.connection, [(row[0], row[1]) for row in rows])

    def _met_before(self, entry_id: int) -> bool:
        """Whether this import inserted or met the stored entry `entry_id`."""
        if entry_id >= self.first_new_id:
            return True
        return bool(self.met) and bool(self.met[entry_id >> 3] >> (entry_id & 7) & 1)

    def _repeats_in(self, rows: list[tuple[Any, ...]], stored: list[Any]) -> bool:
        """Whether a row of `rows` has the key of another or of an entry met before."""
        if len({(row[0], row[1]) for row in rows}) != len(rows):
            return True
        return any(map(self._met_before, map(itemgetter(0), stored)))

    def _numbered(
        self, rows: list[tuple[Any, ...]], lines: list[int], stored: list[Any]
    ) -> list[tuple[Any, ...]]:
        """`rows`, in file order, with the repeats keyed by their occurrence.

        A repeated document number N is kept as a further entry "dup:N#k", with a
        warning, and the k-th of identical rows without one as "row:…#k".
        """
        taken = {(found[1], found[2]) for found in stored if self._met_before(found[0])}
        numbered = []
        for row, line in zip(rows, lines, strict=True):
            key = (row[0], row[1])
            if key in taken:
                row = self._repeat(row, line)
                key = (row[0], row[1])
            taken.add(key)
            numbered.append(row)
        return numbered

    def _repeat(self, row: tuple[Any, ...], line: int) -> tuple[Any, ...]:
        """`row`, a repeat of an earlier row's key, with the key of its occurrence."""
        # Counted by the key of the first occurrence, "doc:N" or "row:…#1": a
        # document number that reads like an identity is counted apart from it.
        customer_no, key, document_no = row[:3]
        count = self.repeats.get((customer_no, key), 1) + 1
        self.repeats[customer_no, key] = count
        if document_no is None:
            return (customer_no, f"{key.removesuffix('#1')}#{count}", *row[2:])
        self.warnings.add(
            line,
            f"line {line}: document {document_no} of customer {customer_no} "
            f"appears {count} times; kept as separate entries",
            REPEAT_WARNING,
        )
        return (customer_no, f"dup:{document_no}#{count}", *row[2:])

    def _changed(
        self, rows: list[tuple[Any, ...]], stored: list[Any]
    ) -> list[tuple[Any, ...]]:
        """The rows that are new or differ from the store; counts all three kinds."""
        before_by_key = {(found[1], found[2]): tuple(found[3:]) for found in stored}
        changed = []
        for row in rows:
            before = before_by_key.get((row[0], row[1]))
            if before is None:
                self.result.inserted += 1
                changed.append(row)
            elif before == row[2:]:
                self.result.unchanged += 1
            else:
                self.result.updated += 1
                changed.append(row)
        return changed


def import_ledger(
    engine: Engine, file: Path, mapping: Mapping, condition: str | None = None
) -> ImportResult:
    """Import ledger entries; customers that the store lacks are created.

    New customers get the dunning condition `condition` (created when unknown) or
    none. All or nothing: a bad row raises `InputError` and nothing is stored.
    """
    _check_kind(mapping, "ledger")
    condition = _condition_code(condition)
    started = time.perf_counter()
    result = ImportResult()
    warnings = _Warnings()
    # Unchecked references: the writer creates the customers of each batch before
    # its entries, in this transaction, which holds the write lock; checking each
    # entry's customer would cost a lookup per row.
    with write_transaction(engine, check_references=False) as connection:
        if condition is not None:
            ensure_conditions(connection, {condition: ""})
        writer = _LedgerWriter(connection, condition, result, warnings)
        with _tuned_for_import(connection), _no_cycle_collection():
            for columns, names in _parsed_ledger(
                file, mapping, engine.dialect, warnings
            ):
                result.rows += len(columns[0])
                writer.write(columns, names)
    result.warnings = warnings.as_list()
    _log_done("ledger", result, started)
    return result


# A batch of ledger rows in the stored form, as one list per column of
# BATCH_COLUMNS, and the customer names they carry. By columns because a batch
# travels between processes in half the time of the same rows as tuples. The
# last column is the line each row starts on, for the warnings of the writer.
Batch = tuple[list[list[Any]], dict[str, str]]
BATCH_COLUMNS = (*LEDGER_COLUMNS, "line")

# From this size on a ledger file is parsed in a second process while this one
# writes: parsing takes somewhat more than half of an import's time and writing
# the rest. A forked process starts at once; a new interpreter takes about half a
# second to import what it needs, which only a larger file wins back.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
SPAWNED_FROM_BYTES = 32 * 1024 * 1024


def _parsed_ledger(
    file: Path, mapping: Mapping, dialect: Dialect, warnings: _Warnings
) -> Iterator[Batch]:
    """The batches of a ledger file, parsed here or, if large, in a second process."""
    try:
        size = file.stat().st_size
    except OSError:
        size = 0  # _open says what is wrong with the file
    fork = _may_fork()
    if size >= (PARALLEL_FROM_BYTES if fork else SPAWNED_FROM_BYTES):
        child = _ParserProcess(file, mapping, dialect, warnings, fork=fork)
        if child.started:
            yield from child.batches()
            return
    yield from _parsed_here(file, mapping, dialect, warnings)


def _parsed_here(
    file: Path, mapping: Mapping, dialect: Dialect, warnings: _Warnings
) -> Iterator[Batch]:
    with _open(file, mapping) as source:
        yield from _ledger_batches(source, _Cells(source, dialect), warnings)


FORK_PARSER = sys.platform == "linux"
"""Whether the parsing process may be forked from this one, on Linux, where that is
how multiprocessing starts its processes too; elsewhere (macOS, Windows) it is a
new interpreter. Tests turn it off to try the other way."""


def _may_fork() -> bool:
    # A process with more threads than this one must not fork: a lock that another
    # thread holds at that moment stays locked in the child for ever.
    return FORK_PARSER and hasattr(os, "fork") and threading.active_count() == 1


class _ParserProcess:
    """A second process that parses a ledger file and sends its batches back.

    It runs the same code as an import within one process (`_ledger_batches`), so
    results and refusals are the same; a refusal comes back as its message. The
    batches travel through a pipe (`_send`), which also keeps the parser at most a
    batch or so ahead of the writer.

    Forked where that is safe (`_may_fork`): the child has every module and the
    orders already, and leaves only by `os._exit`, so that it never runs the
    caller's code after the fork or touches the caller's open store. Else a new
    interpreter that takes its orders on stdin, started with subprocess rather than
    multiprocessing, which would run the caller's main script again. A child that
    cannot start, or ends before its first word, leaves the parsing to this
    process.
    """

    def __init__(
        self,
        file: Path,
        mapping: Mapping,
        dialect: Dialect,
        warnings: _Warnings,
        *,
        fork: bool,
    ) -> None:
        self.orders = (file, mapping, dialect)
        self.warnings = warnings
        self.process: subprocess.Popen[bytes] | _ForkedChild | None = None
        self.started = self._fork() if fork else self._spawn()
        if self.started:
            widen_pipe(self.results)

    def _fork(self) -> bool:
        # What this process has buffered for its own output must not be written
        # twice, once by each.
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            log.info("ledger import: no second process, parsing in this one")
            return False
        if pid == 0:  # the child
            code = 70  # EX_SOFTWARE, should anything escape
            try:
                os.close(read_end)
                with open(write_end, "wb") as results:
                    _parse_and_send(results, *self.orders)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self.process = _ForkedChild(pid)
        # Closed when batches() ends, as the spawned process's stdout is.
        self.results: IO[bytes] = open(read_end, "rb")  # noqa: SIM115
        return True

    def _spawn(self) -> bool:
        if not sys.executable:
            return False
        # -P and PYTHONPATH: the child imports segment_tui from where this process
        # has it, not from the current folder.
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [
                str(Path(__file__).resolve().parents[1]),
                environment.get("PYTHONPATH", ""),
            ]
        )
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-c", _CHILD_COMMAND],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment,
            )
        except OSError:
            log.info("ledger import: no second process, parsing in this one")
            return False
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.results = process.stdout
        file, mapping, dialect = self.orders
        try:
            with process.stdin as orders:
                pickle.dump((file, mapping, f"{dialect.name}+{dialect.driver}"), orders)
        except BrokenPipeError:
            pass  # the child has ended already; batches() finds out
        return True

    def batches(self) -> Iterator[Batch]:
        assert self.process is not None
        heard = False
        try:
            while True:
                try:
                    kind, payload = _receive(self.results)
                except EOFError:
                    code = self.process.wait()
                    if heard:
                        raise RuntimeError(
                            "the process parsing the ledger file ended with exit "
                            f"code {code} before it was done"
                        ) from None
                    log.warning(
                        "ledger import: the second process ended with exit code "
                        "%s at its start; parsing in this one",
                        code,
                    )
                    yield from _parsed_here(*self.orders, self.warnings)
                    return
                heard = True
                if kind == "batch":
                    yield payload
                elif kind == "done":
                    self.warnings.merge(*payload)
                    return
                elif kind == "refused":
                    raise InputError(payload)
                else:
                    raise RuntimeError(f"parsing the ledger file failed:\n{payload}")
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.results.close()


class _ForkedChild:
    """A forked process, waited for and stopped as `subprocess.Popen` does it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        if self.code is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.code is None:
            self.code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.code


_CHILD_COMMAND = (
    "from segment_tui.importing import _parse_for_parent; _parse_for_parent()"
)


def _parse_for_parent() -> None:
    """The spawned parsing process of `_ParserProcess`: orders on stdin, batches on
    stdout."""
    results = sys.stdout.buffer
    try:
        file, mapping, dialect_name = pickle.load(sys.stdin.buffer)
        dialect = make_url(f"{dialect_name}://").get_dialect()()
    except Exception:
        _send(results, "failed", traceback.format_exc())
        return
    _parse_and_send(results, file, mapping, dialect)


def _parse_and_send(
    results: IO[bytes], file: Path, mapping: Mapping, dialect: Dialect
) -> None:
    """Parse a ledger file and send its batches, then how it ended, to `results`."""
    warnings = _Warnings()
    # This process lives for one file and makes no cycles; see _no_cycle_collection.
    gc.disable()
    try:
        with _open(file, mapping) as source:
            for batch in _ledger_batches(source, _Cells(source, dialect), warnings):
                _send(results, "batch", batch)
        _send(results, "done", warnings.state())
    except InputError as refusal:
        _send(results, "refused", str(refusal))
    except BrokenPipeError:
        pass  # the importer has gone: nobody to tell
    except Exception:
        _send(results, "failed", traceback.format_exc())


# How a message of the parsing process is written: its form, then its length.
_MARSHALLED = b"m"
_PICKLED = b"p"
_LENGTH_BYTES = 8


def _send(stream: IO[bytes], kind: str, payload: Any) -> None:
    """Write one message of the parsing process to `stream`, for `_receive`.

    By marshal where the values allow it, as the stored forms of SQLite do (texts,
    whole numbers, None): it writes a batch in half the time of pickle and reads
    it a little faster, and both processes run the same Python. Else (dates and
    decimals, as for PostgreSQL) by pickle.
    """
    try:
        form, data = _MARSHALLED, marshal.dumps((kind, payload))
    except ValueError:
        form = _PICKLED
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(form + len(data).to_bytes(_LENGTH_BYTES, "little"))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> tuple[str, Any]:
    """The next message that `_send` wrote to `stream`; EOFError when it ended."""
    header = stream.read(1 + _LENGTH_BYTES)
    if len(header) < 1 + _LENGTH_BYTES:
        raise EOFError
    length = int.from_bytes(header[1:], "little")
    data = stream.read(length)
    if len(data) < length:
        raise EOFError
    if header[:1] == _MARSHALLED:
        return cast(tuple[str, Any], marshal.loads(data))
    return cast(tuple[str, Any], pickle.loads(data))


def _ledger_batches(
    source: _File, cells: _Cells, warnings: _Warnings
) -> Iterator[Batch]:
    """Check and convert every row of a ledger file, in batches of stored rows.

    The rows are read in chunks of `CHUNK_ROWS`, each converted column by column
    (`_LedgerRows.by_columns`), which does per row only what runs in C; a chunk
    with anything out of the common run (a cell to refuse, a warning, a blank
    line) is converted again row by row
    (`_LedgerRows.one_by_one`), which decides. So a file gives the same rows,
    refusals and warnings as if every row went the long way.
    """
    reader = source.reader
    rows = _LedgerRows(source, cells, warnings)
    batch: list[list[Any]] = [[] for _ in BATCH_COLUMNS]
    names: dict[str, str] = {}
    last = reader.line_num
    # The first batches are small, so that the writer can start at once.
    size = min(CHUNK_ROWS, BATCH_ROWS)
    while True:
        # The physical line each row ends on, for the messages of the long way.
        chunk: list[list[str]] = []
        ends: list[int] = []
        for row in islice(reader, min(CHUNK_ROWS, size - len(batch[0]))):
            chunk.append(row)
            ends.append(reader.line_num)
        if not chunk:
            break
        if not rows.by_columns(chunk, [last, *ends[:-1]], batch, names):
            rows.one_by_one(chunk, ends, last, batch, names)
        last = ends[-1]
        if len(batch[0]) >= size:
            yield batch, names
            batch = [[] for _ in BATCH_COLUMNS]
            names = {}
            size = min(size * 4, BATCH_ROWS)

    yield batch, names


# Rows converted column by column at a time: few enough that a chunk's texts stay
# in the processor's cache from one column's pass to the next (with 10,000 rows
# the passes took twice as long).
CHUNK_ROWS = 500

_NO_VALUE: tuple[None, None] = (None, None)


class _Readings(dict[str, Any]):
    """Texts of a column and what they read as, a text not met yet read on its first
    lookup by `read`, which may refuse it.

    Looked up with `__getitem__` through `map`, a known text costs no Python code;
    `dict.get` does not read, so the long way can use the same dictionary.
    """

    def __init__(self, read: Callable[[str], Any], known: dict[str, Any]) -> None:
        super().__init__(known)
        self.read = read

    def __missing__(self, text: str) -> Any:
        value = self.read(text)
        if len(self) < CACHE_LIMIT:
            self[text] = value
        return value


class _LedgerRows:
    """Converts a ledger file's rows to stored rows.

    Knows the mapped columns and the texts read so far, and nothing of earlier
    rows beyond them, so that its memory stays the same however long the file: a
    document number or an identical row that the file repeats gets the key of its
    first occurrence here, and the writer, which finds it in the store, numbers it
    (`_LedgerWriter`). Two ways to convert a chunk of rows, with the same result:
    `by_columns`, fast, for the common run of rows, and `one_by_one`, for every
    other chunk.
    """

    def __init__(self, source: _File, cells: _Cells, warnings: _Warnings) -> None:
        self.source = source
        self.cells = cells
        self.warnings = warnings
        at = source.at
        self.i_customer = source.index["customer_no"]
        self.i_posting = source.index["posting_date"]
        self.i_due = source.index["due_date"]
        self.i_amount = source.index["amount"]
        self.i_document = at("document_no")
        self.i_name = at("customer_name")
        self.i_remaining = at("remaining_amount")
        self.i_closed = at("closed_at")
        self.i_disputed = at("disputed")
        self.i_on_hold = at("on_hold")

        # The readings of the column by column way. Their refusals only send the
        # chunk the long way, which refuses with the line.
        def required(read: Callable[[str, int, str], Any], field: str) -> _Readings:
            return _Readings(lambda text: read(text, 0, field), {})

        def optional(read: Callable[[str, int, str], Any], field: str) -> _Readings:
            return _Readings(
                lambda text: read(text, 0, field) if text.strip() else _NO_VALUE,
                {"": _NO_VALUE},
            )

        self.day = required(cells.date, "posting_date")
        self.day_or_none = optional(cells.date, "closed_at")
        self.money = required(cells.amount, "amount")
        self.money_or_none = optional(cells.amount, "remaining_amount")
        self.flags = {
            index: required(cells.boolean, field)
            for index, field in (
                (self.i_disputed, "disputed"),
                (self.i_on_hold, "on_hold"),
            )
            if index is not None
        }

    # -- column by column -----------------------------------------------------

    def by_columns(
        self,
        chunk: list[list[str]],
        befores: list[int],
        batch: list[list[Any]],
        names: dict[str, str],
    ) -> bool:
        """Convert `chunk` onto `batch` and `names`, if it is of the common run;
        `befores` are the physical lines before each of its rows.

        False, with nothing changed but the readings remembered, when any row needs
        the long way: a cell that is refused, a warning, a row of another width.
        """
        if len(chunk[0]) != self.source.width or len({*map(len, chunk)}) != 1:
            return False
        columns = list(zip(*chunk, strict=True))
        customers = self._texts(columns[self.i_customer], CUSTOMER_NO_WIDTH)
        if customers is None or "" in customers:
            return False
        try:
            posting = list(map(self.day.__getitem__, columns[self.i_posting]))
            due = list(map(self.day.__getitem__, columns[self.i_due]))
            if any(map(lt, map(itemgetter(0), due), map(itemgetter(0), posting))):
                return False  # a warning to give, with its line
            cents, amounts = self._amounts(columns[self.i_amount], self.money)
            optional = self._optional_columns(columns)
        except InputError:
            return False
        named = self._named(columns, customers)
        if named is None:
            return False
        documents = (
            self._texts(columns[self.i_document], DOCUMENT_NO_WIDTH)
            if self.i_document is not None
            else [""] * len(chunk)
        )
        if documents is None:
            return False

        # From here on nothing sends the chunk the long way.
        names.update(named)
        keys, stored_documents = self._keys(documents, posting, due, cents)
        converted: tuple[Iterable[Any], ...] = (
            customers,
            keys,
            stored_documents,
            map(itemgetter(1), posting),
            map(itemgetter(1), due),
            amounts,
            *optional,
            map((1).__add__, befores),
        )
        for stored, found in zip(batch, converted, strict=True):
            stored.extend(found)
        return True

    def _texts(self, column: Sequence[str], width: int) -> list[str] | None:
        """The stripped texts of a column, or None where one is too wide or has NUL."""
        texts = list(map(str.strip, column))
        if max(map(len, texts)) > width or NUL in "".join(texts):
            return None
        return texts

    def _amounts(
        self, column: Sequence[str], readings: _Readings
    ) -> tuple[list[Any], list[Any]]:
        """The cents and stored form of each cell (None for an optional empty one).

        A column whose every amount has the common form is read in one pass over
        its joined texts, as most files are; else cell by cell, which may refuse.
        """
        cells = self.cells
        joined = "\n".join(column)
        pattern = (
            cells.plain_column
            if readings is self.money
            else cells.plain_column_or_blank
        )
        if pattern(joined + "\n"):
            parts = (
                joined.replace(cells.thousands, "")
                .replace(cells.decimal, "")
                .split("\n")
            )
            # A cell holding a line break splits in two: cell by cell then.
            if len(parts) == len(column):
                cents: list[Any] = (
                    list(map(int, parts))
                    if "" not in parts
                    else [int(part) if part else None for part in parts]
                )
                if cells.money_is_cents:
                    return cents, cents
                bind = cells.bind_money
                return cents, [
                    None if c is None else bind(Decimal(c).scaleb(-2)) for c in cents
                ]
        values = list(map(readings.__getitem__, column))
        return list(map(itemgetter(0), values)), list(map(itemgetter(1), values))

    def _optional_columns(self, columns: list[tuple[str, ...]]) -> list[Iterable[Any]]:
        """The stored remaining amounts, closing dates and both flags, each a list
        or, for a column the mapping leaves out, its default for every row."""
        rows = len(columns[0])
        remaining: Iterable[Any] = [None] * rows
        if self.i_remaining is not None:
            remaining = self._amounts(columns[self.i_remaining], self.money_or_none)[1]
        closed: Iterable[Any] = [None] * rows
        if self.i_closed is not None:
            closed = map(
                itemgetter(1),
                list(map(self.day_or_none.__getitem__, columns[self.i_closed])),
            )
        flags: list[Iterable[Any]] = [
            [self.cells.stored_false] * rows
            if index is None
            else list(map(self.flags[index].__getitem__, columns[index]))
            for index in (self.i_disputed, self.i_on_hold)
        ]
        return [remaining, closed, *flags]

    def _named(
        self, columns: list[tuple[str, ...]], customers: list[str]
    ) -> list[tuple[str, str]] | None:
        """Customer and name of each row that names its customer, in file order."""
        if self.i_name is None:
            return []
        texts = self._texts(columns[self.i_name], NAME_WIDTH)
        if texts is None:
            return None
        if "" in texts:
            return [(c, name) for c, name in zip(customers, texts, strict=True) if name]
        return list(zip(customers, texts, strict=True))

    def _keys(
        self,
        documents: list[str],
        posting: list[tuple[Any, Any]],
        due: list[tuple[Any, Any]],
        cents: list[Any],
    ) -> tuple[list[str], list[str | None]]:
        """Each row's entry key and stored document number, as for the first
        occurrence of each."""
        if "" not in documents:
            return list(map("doc:".__add__, documents)), list(documents)
        keys = []
        stored: list[str | None] = []
        for document_no, day, due_day, amount in zip(
            documents, posting, due, cents, strict=True
        ):
            if document_no:
                keys.append("doc:" + document_no)
                stored.append(document_no)
            else:
                keys.append(_row_key(day[0], due_day[0], amount))
                stored.append(None)
        return keys, stored

    # -- row by row -----------------------------------------------------------

    def one_by_one(
        self,
        chunk: list[list[str]],
        ends: list[int],
        last: int,
        batch: list[list[Any]],
        names: dict[str, str],
    ) -> None:
        """Convert `chunk` onto `batch` and `names`, refusing at its first bad cell.

        `ends` are the physical lines its rows end on, `last` the one before it.
        One loop with its lookups in local names; the common case (a text whose
        date or amount was seen before) costs a dictionary lookup and the rest
        goes to `cells`.
        """
        source = self.source
        cells = self.cells
        warnings = self.warnings
        width = source.width
        i_customer = self.i_customer
        i_posting = self.i_posting
        i_due = self.i_due
        i_amount = self.i_amount
        i_document = self.i_document
        i_name = self.i_name
        i_remaining = self.i_remaining
        i_closed = self.i_closed
        i_disputed = self.i_disputed
        i_on_hold = self.i_on_hold
        dates = cells.dates
        amounts = cells.amounts
        booleans = cells.booleans
        parse_date = cells.date
        parse_amount = cells.amount
        parse_boolean = cells.boolean
        stored_false = cells.stored_false
        converted: list[tuple[Any, ...]] = []

        for row, end in zip(chunk, ends, strict=True):
            line = last + 1
            last = end
            if len(row) != width:
                if not any(row):
                    continue  # a blank line, e.g. at the end of the file
                source.refuse_width(line, row)

            customer_no = row[i_customer].strip()
            if (
                not customer_no
                or len(customer_no) > CUSTOMER_NO_WIDTH
                or NUL in customer_no
            ):
                if not any(row):
                    continue  # a line of empty fields, as spreadsheets write them
                _text(source, row, line, "customer_no", CUSTOMER_NO_WIDTH)

            text = row[i_posting]
            posting = dates.get(text) or parse_date(text, line, "posting_date")
            text = row[i_due]
            due = dates.get(text) or parse_date(text, line, "due_date")
            text = row[i_amount]
            amount = amounts.get(text) or parse_amount(text, line, "amount")

            remaining = None
            if i_remaining is not None:
                text = row[i_remaining]
                if text.strip():
                    remaining = (
                        amounts.get(text)
                        or parse_amount(text, line, "remaining_amount")
                    )[1]
            closed = None
            if i_closed is not None:
                text = row[i_closed]
                if text.strip():
                    closed = (dates.get(text) or parse_date(text, line, "closed_at"))[1]
            disputed = stored_false
            if i_disputed is not None:
                text = row[i_disputed]
                disputed = booleans.get(text)
                if disputed is None:
                    disputed = parse_boolean(text, line, "disputed")
            on_hold = stored_false
            if i_on_hold is not None:
                text = row[i_on_hold]
                on_hold = booleans.get(text)
                if on_hold is None:
                    on_hold = parse_boolean(text, line, "on_hold")
            if i_name is not None:
                name = row[i_name].strip()
                if name:
                    if len(name) > NAME_WIDTH or NUL in name:
                        _text(source, row, line, "customer_name", NAME_WIDTH)
                    names[customer_no] = name

            document_no: str | None = (
                row[i_document].strip() if i_document is not None else ""
            )
            if document_no:
                if len(document_no) > DOCUMENT_NO_WIDTH or NUL in document_no:
                    _text(source, row, line, "document_no", DOCUMENT_NO_WIDTH)
                key = "doc:" + document_no
            else:
                document_no = None  # stored as NULL, not as an empty text
                key = _row_key(posting[0], due[0], amount[0])

            if due[0] < posting[0]:
                warnings.add(
                    line,
                    f"line {line}: due date {due[0]} is before posting date "
                    f"{posting[0]}; imported as it is",
                    DATE_WARNING,
                )

            converted.append(
                (
                    customer_no,
                    key,
                    document_no,
                    posting[1],
                    due[1],
                    amount[1],
                    remaining,
                    closed,
                    disputed,
                    on_hold,
                    line,
                )
            )

        # No rows converted (blank lines only) give no columns to add.
        for stored, found in zip(batch, zip(*converted, strict=True), strict=False):
            stored.extend(found)


def _row_key(posting: date, due: date, cents: int) -> str:
    """The key of an entry without a document number: a hash of its identity and
    "#1", its first occurrence among the customer's rows of that identity (the
    writer numbers the later ones)."""
    identity = f"{posting}|{due}|{cents}".encode()
    return "row:" + blake2b(identity, digest_size=8).hexdigest() + "#1"


# ---------------------------------------------------------------------------
# Customers

CUSTOMER_FLAGS = FLAG_NAMES


def import_customers(engine: Engine, file: Path, mapping: Mapping) -> ImportResult:
    """Import customers: insert new ones, update the mapped fields of known ones.

    Fields the mapping does not name keep their stored value. Dunning conditions
    that the store does not know are created. All or nothing.
    """
    _check_kind(mapping, "customers")
    started = time.perf_counter()
    result = ImportResult()
    mapped = [f for f in OPTIONAL_FIELDS["customers"] if f in mapping.columns]
    fields = ["name", *mapped]
    with (
        write_transaction(engine) as connection,
        _tuned_for_import(connection),
        _open(file, mapping) as source,
    ):
        cells = _Cells(source, connection.dialect)
        writer = _CustomerWriter(connection, fields, result)
        lines: dict[str, int] = {}
        batch: list[dict[str, Any]] = []
        for line, row in _data_rows(source):
            record = _customer_record(source, cells, row, line, fields)
            customer_no = record["customer_no"]
            if customer_no in lines:
                source.refuse(
                    line,
                    "customer_no",
                    customer_no,
                    f"is on line {lines[customer_no]} already; a customer may "
                    "appear once in the file",
                )
            lines[customer_no] = line
            batch.append(record)
            if len(batch) >= BATCH_ROWS:
                writer.write(batch)
                batch = []
        writer.write(batch)
    _log_done("customers", result, started)
    return result


def _customer_record(
    source: _File, cells: _Cells, row: Sequence[str], line: int, fields: list[str]
) -> dict[str, Any]:
    """One customer row as the values of `fields`, checked."""
    record: dict[str, Any] = {
        "customer_no": _text(source, row, line, "customer_no", CUSTOMER_NO_WIDTH),
        "name": _text(source, row, line, "name", NAME_WIDTH),
    }
    for product_field in fields[1:]:
        text = row[source.index[product_field]]
        if product_field == "dunning_condition":
            value = text.strip()
            if len(value) > CONDITION_WIDTH:
                source.refuse(
                    line,
                    product_field,
                    text,
                    f"is longer than {CONDITION_WIDTH} characters",
                )
            if NUL in value:
                source.refuse(line, product_field, text, NUL_REFUSAL)
            record[product_field] = value or None
        else:
            stored = cells.boolean(text, line, product_field)
            record[product_field] = stored == cells.stored_true
    return record


class _CustomerWriter:
    """Upserts batches of customer records, counting new, changed and unchanged."""

    def __init__(
        self, connection: Connection, fields: list[str], result: ImportResult
    ) -> None:
        self.connection = connection
        self.fields = fields
        self.result = result
        dialect = connection.dialect
        self.lookup = _Lookup(
            _customer, ["customer_no"], ["customer_no", *fields], dialect
        )
        self.upsert = _upsert(_customer, dialect, ("customer_no",), fields)

    def write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        self.result.rows += len(batch)
        conditions = sorted(
            {r["dunning_condition"] for r in batch if r.get("dunning_condition")}
        )
        ensure_conditions(self.connection, dict.fromkeys(conditions, ""))
        numbers = [record["customer_no"] for record in batch]
        stored = {
            found[0]: tuple(found[1:])
            for found in self.lookup.fetch(self.connection, numbers)
        }
        changed = []
        for record in batch:
            before = stored.get(record["customer_no"])
            if before is None:
                self.result.inserted += 1
                changed.append(record)
            elif before == tuple(record[f] for f in self.fields):
                self.result.unchanged += 1
            else:
                self.result.updated += 1
                changed.append(record)
        if changed:
            self.connection.execute(self.upsert, changed)


# ---------------------------------------------------------------------------
# Reminders

REMINDER_KEY = ("customer_no", "issued_on", "level")


def import_reminders(engine: Engine, file: Path, mapping: Mapping) -> ImportResult:
    """Import issued reminders of customers the store knows. All or nothing."""
    _check_kind(mapping, "reminders")
    started = time.perf_counter()
    result = ImportResult()
    with (
        write_transaction(engine) as connection,
        _tuned_for_import(connection),
        _open(file, mapping) as source,
    ):
        cells = _Cells(source, connection.dialect)
        writer = _ReminderWriter(connection, source, cells, result)
        batch: list[tuple[int, dict[str, Any]]] = []
        i_issued_on = source.index["issued_on"]
        i_level = source.index["level"]
        for line, row in _data_rows(source):
            customer_no = _text(source, row, line, "customer_no", CUSTOMER_NO_WIDTH)
            text = row[i_issued_on]
            issued_on = cells.dates.get(text) or cells.date(text, line, "issued_on")
            text = row[i_level].strip()
            if not (text.isascii() and text.isdigit()):
                source.refuse(
                    line, "level", text, "is not a reminder level (a whole number)"
                )
            significant = text.lstrip("0") or "0"
            if len(significant) > len(str(LEVEL_MAX)) or int(significant) > LEVEL_MAX:
                source.refuse(
                    line,
                    "level",
                    text,
                    f"is larger than the store holds (at most {LEVEL_MAX})",
                )
            record = {
                "customer_no": customer_no,
                "issued_on": issued_on[0],
                "level": int(significant),
            }
            batch.append((line, record))
            if len(batch) >= BATCH_ROWS:
                writer.write(batch)
                batch = []
        writer.write(batch)
    _log_done("reminders", result, started)
    return result


class _ReminderWriter:
    """Inserts batches of reminders; refuses a customer the store does not have."""

    def __init__(
        self, connection: Connection, source: _File, cells: _Cells, result: ImportResult
    ) -> None:
        self.connection = connection
        self.source = source
        self.cells = cells
        self.result = result
        self.known: set[str] = set()
        dialect = connection.dialect
        self.customers = _Lookup(_customer, ["customer_no"], ["customer_no"], dialect)
        self.lookup = _Lookup(_reminder, REMINDER_KEY, REMINDER_KEY, dialect)
        self.insert = _upsert(_reminder, dialect, REMINDER_KEY, ())

    def write(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        if not batch:
            return
        self.result.rows += len(batch)
        unseen = {record["customer_no"] for _, record in batch} - self.known
        self.known.update(
            found[0] for found in self.customers.fetch(self.connection, sorted(unseen))
        )
        for line, record in batch:
            if record["customer_no"] not in self.known:
                self.source.refuse(
                    line,
                    "customer_no",
                    record["customer_no"],
                    "is not a customer in the store; import the customers or the "
                    "ledger first",
                )
        # Keys in the stored form, as the lookup compares them.
        bind_day = self.cells.bind_day
        keys = [
            (r["customer_no"], bind_day(r["issued_on"]), r["level"]) for _, r in batch
        ]
        stored = {tuple(found) for found in self.lookup.fetch(self.connection, keys)}
        new: dict[tuple[Any, ...], dict[str, Any]] = {}
        for key, (_, record) in zip(keys, batch, strict=True):
            if key in stored or key in new:
                self.result.unchanged += 1
            else:
                self.result.inserted += 1
                new[key] = record
        if new:
            self.connection.execute(self.insert, list(new.values()))


# ---------------------------------------------------------------------------
# Shared steps


def _data_rows(source: _File) -> Iterator[tuple[int, list[str]]]:
    """The data rows with the physical line each starts on; blank lines skipped."""
    reader = source.reader
    last = reader.line_num
    for row in reader:
        line = last + 1
        last = reader.line_num
        if not any(row):
            continue
        if len(row) != source.width:
            source.refuse_width(line, row)
        yield line, row


def _check_kind(mapping: Mapping, kind: Kind) -> None:
    if mapping.kind != kind:
        raise InputError(
            f"{mapping.name} is a mapping for {mapping.kind} files, not for "
            f"{kind} files"
        )


def _log_done(kind: str, result: ImportResult, started: float) -> None:
    seconds = time.perf_counter() - started
    log.info(
        "%s import: %d rows, %d new, %d updated, %d unchanged, %d customers "
        "created, %d warnings, %.2f s",
        kind,
        result.rows,
        result.inserted,
        result.updated,
        result.unchanged,
        result.customers_created,
        len(result.warnings),
        seconds,
    )
