"""Property tests of bad input: whatever the setup text or the CSV file, the outcome
is the setup or the import, or a refusal (`InputError`, exit status 2) in one line,
never another exception and never part of a file.

The setup loader gets random text, text close to TOML setups, random structured
setups with random keys and values, and random bytes. The importers get random bytes
and random files: random delimiters, quotes, encodings and line ends, with random
cells in the date, amount, flag and level columns. An import that is refused leaves
every table as it was; one that succeeds stores exactly the file's rows. The CSV
properties run on SQLite and on PostgreSQL, there with a quarter of the examples:
each import takes longer on a server.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fingerprint import fingerprint, row_counts
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segment_tui import importing
from segment_tui.errors import InputError
from segment_tui.importing import Mapping, load_mapping
from segment_tui.rules.conditions import FLAG_NAMES, OPERATORS
from segment_tui.rules.metrics import METRIC_NAMES
from segment_tui.rules.setup import Setup, SetupError, load_setup, parse_setup
from segment_tui.store.engine import create_schema, make_engine

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "bad"
MAPPINGS = REPO / "data" / "mappings"
PYDANTIC_WORDS = ("Input should", "String should", "Value error", "[type=", "pydantic")

SETUP_SETTINGS = settings(max_examples=120, deadline=None, database=None)


def assert_one_sentence(message: str, source: str) -> None:
    """A refusal as the command line shows it: one line, in the product's words,
    naming the file first."""
    assert message.startswith(source), message
    assert "\n" not in message and "\r" not in message, message
    for words in PYDANTIC_WORDS:
        assert words not in message, message
    assert "Traceback" not in message


def check_setup_text(text: str) -> Setup | None:
    """Parse `text`; a setup that is accepted must come back the same from TOML."""
    try:
        setup = parse_setup(text, "f.toml")
    except SetupError as refused:
        assert_one_sentence(str(refused), "f.toml: ")
        return None
    assert parse_setup(setup.to_toml(), "again.toml") == setup
    return setup


# --- The setup loader: text -------------------------------------------------------

_SETUP_KEYS = [
    "settings",
    "dunning_condition",
    "segment",
    "code",
    "description",
    "match",
    "conditions",
    "lookback_months",
    "late_tolerance_days",
    "exclude",
    "colour",
    '"quoted key"',
    "a.b",
]
_TOML_VALUES = [
    '"STRICT"',
    '"POOR"',
    '""',
    "12",
    "0",
    "-1",
    "121",
    "1.5",
    "nan",
    "inf",
    "true",
    "[]",
    '["late_ratio >= 0.5"]',
    '["not handed_over", "max_days_overdue > 60"]',
    '["blocked"]',
    '"any"',
    '"all"',
    '"some"',
    "1979-05-27",
    "1979-05-27T07:32:00Z",
    "{a = 1}",
    '"unterminated',
    "'literal'",
    '"""multi\nline"""',
]
_HEADERS = ["[settings]", "[[segment]]", "[[dunning_condition]]", "[segment]", "[x]"]


@st.composite
def toml_like(draw: st.DrawFn) -> str:
    """Lines that look like a setup: table headers and `key = value` lines."""
    lines = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 9))
        if kind <= 1:
            lines.append(draw(st.sampled_from(_HEADERS)))
        elif kind <= 7:
            key = draw(st.sampled_from(_SETUP_KEYS))
            value = draw(st.sampled_from(_TOML_VALUES) | st.text(max_size=8))
            lines.append(f"{key} = {value}")
        else:
            lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines)


@SETUP_SETTINGS
@given(st.one_of(st.text(), toml_like()))
def test_any_setup_text_is_read_or_refused_in_one_sentence(text: str) -> None:
    check_setup_text(text)


# --- The setup loader: structured setups with random keys and values --------------

_CODES = st.sampled_from(["STRICT", "SOFT", "POOR", "", "X" * 21, "ü", " "])
_ANY_VALUE = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=6),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.lists(st.integers(-5, 5), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["nan", "inf", "1e5", "\u0661", ".5", "5.", "+1", "--1"]),
)
_CONDITIONS = st.one_of(
    st.text(max_size=16),
    st.builds(
        lambda subject, op, number: f"{subject} {op} {number}",
        st.sampled_from([*METRIC_NAMES, *FLAG_NAMES, "late_rate"]),
        st.sampled_from([*OPERATORS, "=", "=>", "<>"]),
        _NUMBERS,
    ),
    st.sampled_from([*FLAG_NAMES, "vip"]).map(lambda flag: f"not {flag}"),
    st.sampled_from(FLAG_NAMES),
)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` four times in five, any TOML value otherwise."""
    return st.one_of(good, good, good, good, _ANY_VALUE)


def with_stray_keys(
    table: st.SearchStrategy[dict[str, Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    stray = st.dictionaries(st.sampled_from(_SETUP_KEYS), _ANY_VALUE, max_size=1)
    return st.tuples(table, st.one_of(st.just({}), st.just({}), stray)).map(
        lambda pair: {**pair[1], **pair[0]}
    )


_SETTINGS = with_stray_keys(
    st.fixed_dictionaries(
        {},
        optional={
            "lookback_months": mostly(st.integers(-2, 125)),
            "late_tolerance_days": mostly(st.integers(-2, 370)),
            "exclude": mostly(st.lists(st.sampled_from([*FLAG_NAMES, "vip"]))),
        },
    )
)
_DUNNING = with_stray_keys(
    st.fixed_dictionaries(
        {"code": mostly(_CODES)}, optional={"description": mostly(st.text(max_size=8))}
    )
)
_SEGMENT = with_stray_keys(
    st.fixed_dictionaries(
        {"code": mostly(_CODES), "dunning_condition": mostly(_CODES)},
        optional={
            "description": mostly(st.text(max_size=8)),
            "match": mostly(st.sampled_from(["all", "any", "some", "ALL"])),
            "conditions": mostly(st.lists(_CONDITIONS, max_size=3)),
        },
    )
)
_SETUP = st.fixed_dictionaries(
    {
        "dunning_condition": mostly(st.lists(_DUNNING, max_size=3)),
        "segment": mostly(st.lists(_SEGMENT, max_size=3)),
    },
    optional={"settings": mostly(_SETTINGS), "colour": _ANY_VALUE},
)


@SETUP_SETTINGS
@given(_SETUP)
def test_any_structured_setup_is_read_or_refused_in_one_sentence(
    data: dict[str, Any],
) -> None:
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # e.g. a date as a table key: no TOML at all
        return

    setup = check_setup_text(text)

    if setup is not None:
        codes = [c.code for c in setup.dunning_condition]
        assert all(s.dunning_condition in codes for s in setup.segment)
        assert 1 <= setup.settings.lookback_months <= 120


@settings(max_examples=60, deadline=None, database=None)
@given(
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]),
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        toml_like().map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
)
def test_any_setup_file_is_read_or_refused_in_one_sentence(
    tmp_path_factory: pytest.TempPathFactory, prefix: bytes, body: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "random-setup.toml"
    path.write_bytes(prefix + body)

    try:
        setup = load_setup(path)
    except SetupError as refused:
        assert_one_sentence(str(refused), f"{path}: ")
        return

    assert parse_setup(setup.to_toml(), "again.toml") == setup


# --- The importers: a store to import into ----------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[str]:
    """A store on each database that holds the corpus's good import."""
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        for kind, file, mapping in (
            ("customers", "baseline-customers.csv", "bc-customers.toml"),
            ("ledger", "baseline-ledger.csv", "ibm-accounts-receivable.toml"),
            ("reminders", "baseline-reminders.csv", "reminders.toml"),
        ):
            read = load_mapping(MAPPINGS / mapping, kind)  # type: ignore[arg-type]
            IMPORTERS[kind](engine, CORPUS / file, read)
    finally:
        engine.dispose()
    return db_url


IMPORTERS: dict[str, Callable[..., importing.ImportResult]] = {
    "customers": importing.import_customers,
    "ledger": importing.import_ledger,
    "reminders": importing.import_reminders,
}
TABLE = {"customers": "customer", "ledger": "ledger_entry", "reminders": "reminder"}


def examples(url: str, on_sqlite: int) -> int:
    """How many examples a CSV property tries: a quarter of them on PostgreSQL."""
    return on_sqlite if url.startswith("sqlite") else max(5, on_sqlite // 4)


def csv_settings(url: str, on_sqlite: int) -> settings:
    return settings(
        max_examples=examples(url, on_sqlite),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def data_rows(content: bytes, mapping: Mapping) -> int | None:
    """The rows an import of `content` must store: each non-blank row after the
    header. None when the bytes are no text in the mapping's encoding."""
    try:
        text = content.decode(mapping.source.encoding)
    except UnicodeDecodeError:
        return None
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=mapping.source.delimiter)
    try:
        rows = list(reader)
    except csv.Error:
        return None
    if rows and len(rows[0]) <= 2 and "".join(rows[0]).strip().startswith("sep="):
        rows = rows[1:]
    return sum(1 for row in rows[1:] if any(row))


def import_whole_or_nothing(
    url: str, kind: str, file: Path, mapping: Mapping, content: bytes
) -> importing.ImportResult | None:
    """Import `file`; a refusal must change nothing, a success store every row."""
    file.write_bytes(content)
    before = fingerprint(url)
    engine = make_engine(url)
    refusal = ""
    try:
        outcome: importing.ImportResult | None = IMPORTERS[kind](engine, file, mapping)
    except InputError as refused:
        refusal = str(refused)
        outcome = None
    finally:
        engine.dispose()

    if outcome is None:
        event(f"{kind}: refused")
        # The file, or the mapping when it is for another kind of file.
        assert_one_sentence(refusal, "")
        assert str(file) in refusal or mapping.name in refusal, refusal
        assert fingerprint(url) == before
        return None
    event(f"{kind}: imported")
    table = TABLE[kind]
    gained = row_counts(url)[table] - before[table][0]
    assert gained == outcome.inserted
    assert outcome.inserted + outcome.updated + outcome.unchanged == outcome.rows
    assert outcome.rows == data_rows(content, mapping)
    return outcome


# --- The importers: random bytes ----------------------------------------------------

GOOD_LEDGER = (CORPUS / "ledger-credit-memos.csv").read_bytes()
IBM_HEADER = GOOD_LEDGER.splitlines()[0]
NUMBERS = itertools.count()


@st.composite
def mutated(draw: st.DrawFn, good: bytes) -> bytes:
    """`good` with a few bytes replaced, inserted or removed at random places."""
    content = bytearray(good)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(content)))
        new = draw(st.binary(max_size=3))
        cut = draw(st.integers(0, 2))
        content[at : at + cut] = new
    return bytes(content)


def test_random_bytes_are_imported_whole_or_refused(store: str, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "ibm-accounts-receivable.toml", "ledger")

    @csv_settings(store, on_sqlite=36)
    @given(
        head=st.sampled_from([b"", IBM_HEADER + b"\n", b"\xef\xbb\xbf" + IBM_HEADER]),
        body=st.one_of(
            st.binary(max_size=400),
            mutated(GOOD_LEDGER.split(b"\n", 1)[1]),
            st.lists(
                st.lists(st.binary(max_size=6), min_size=11, max_size=13).map(
                    b",".join
                ),
                max_size=4,
            ).map(lambda rows: b"\n" + b"\n".join(rows)),
        ),
    )
    def attempt(head: bytes, body: bytes) -> None:
        import_whole_or_nothing(
            store, "ledger", tmp_path / "random.csv", mapping, head + body
        )

    attempt()


# --- The importers: random rows, delimiters, quotes, encodings -------------------

DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%m/%d/%Y", "%d.%m.%Y"]
DELIMITERS = [",", ";", "\t", "|"]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]
QUOTING = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, None]
LEDGER_COLUMNS = {
    "customer_no": "Customer",
    "document_no": "Document",
    "customer_name": "Name",
    "posting_date": "Posted",
    "due_date": "Due",
    "amount": "Amount",
    "remaining_amount": "Remaining",
    "closed_at": "Closed",
    "disputed": "Disputed",
}


@st.composite
def source_formats(draw: st.DrawFn) -> dict[str, Any]:
    decimal = draw(st.sampled_from([".", ","]))
    thousands = draw(
        st.sampled_from(["", ".", ",", " "]).filter(lambda t: t != decimal)
    )
    source: dict[str, Any] = {
        "delimiter": draw(st.sampled_from(DELIMITERS)),
        "encoding": draw(st.sampled_from(["utf-8-sig", "cp1252", "latin-1"])),
        "date_format": draw(st.sampled_from(DATE_FORMATS)),
        "decimal_separator": decimal,
        "thousands_separator": thousands,
    }
    if draw(st.booleans()):
        source["true_values"] = ["Yes", "J"]
        source["false_values"] = ["No", "N"]
    return source


def written_amount(value: Decimal, source: dict[str, Any]) -> str:
    text = f"{value:,.2f}" if source["thousands_separator"] else f"{value:.2f}"
    return (
        text.replace(",", "\x00")
        .replace(".", source["decimal_separator"])
        .replace("\x00", source["thousands_separator"])
    )


def cell(
    draw: st.DrawFn, field: str, source: dict[str, Any], prefix: str, dirt: int
) -> str:
    """A cell of `field`: what the mapping reads, or (`dirt` times in 20) anything."""
    if draw(st.integers(0, 19)) < dirt:
        return draw(st.text(max_size=10))
    if field == "customer_no":
        # A prefix per example, so that every row of a good file is a new entry.
        return prefix + draw(st.sampled_from(["A", "B", " C ", "Ü-1", "1,5", '"q"']))
    if field in ("posting_date", "due_date", "closed_at"):
        day = draw(st.dates(date(1900, 1, 1), date(2100, 12, 31)))
        return day.strftime(source["date_format"])
    if field in ("amount", "remaining_amount"):
        value = draw(st.decimals(-(10**12), 10**12, places=2, allow_nan=False))
        return written_amount(value, source)
    if field == "disputed":
        return draw(st.sampled_from(["Yes", "No", "", "J", "N"]))
    return draw(st.text(max_size=12))


@st.composite
def ledger_files(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    """A mapping's [source] and a ledger file written by a possibly other one."""
    source = draw(source_formats())
    written = dict(source)
    if draw(st.integers(0, 4)) == 0:
        written["delimiter"] = draw(st.sampled_from(DELIMITERS))
    encoding = source["encoding"]
    if draw(st.integers(0, 4)) == 0:
        encoding = draw(st.sampled_from(ENCODINGS))
    prefix = f"P{next(NUMBERS)}-"
    fields = list(LEDGER_COLUMNS)
    rows = [[LEDGER_COLUMNS[f] for f in fields]]
    dirt = draw(st.sampled_from([0, 0, 1, 4]))  # many files have no bad cell
    for _ in range(draw(st.integers(0, 6))):
        rows.append([cell(draw, f, source, prefix, dirt) for f in fields])
    if draw(st.integers(0, 5)) == 0:
        rows.append(rows[-1])  # a repeated row is a second entry
    quoting = draw(st.sampled_from(QUOTING))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    out = io.StringIO(newline="")
    if quoting is None:  # no quotes at all: a delimiter in a cell shifts the row
        out.write(ending.join(written["delimiter"].join(r) for r in rows) + ending)
    else:
        writer = csv.writer(
            out, delimiter=written["delimiter"], quoting=quoting, lineterminator=ending
        )
        writer.writerows(rows)
    return source, out.getvalue().encode(encoding, "replace")


def test_random_ledger_files_are_imported_whole_or_refused(
    store: str, tmp_path: Path
) -> None:
    @csv_settings(store, on_sqlite=48)
    @given(ledger_files())
    def attempt(drawn: tuple[dict[str, Any], bytes]) -> None:
        source, content = drawn
        mapping_file = tmp_path / "mapping.toml"
        mapping_file.write_text(
            tomli_w.dumps({"source": source, "columns": LEDGER_COLUMNS}),
            encoding="utf-8",
        )
        mapping = load_mapping(mapping_file, "ledger")

        import_whole_or_nothing(store, "ledger", tmp_path / "l.csv", mapping, content)

    attempt()


# --- The importers: random reminders and customers -----------------------------------

REMINDERS = load_mapping(MAPPINGS / "reminders.toml", "reminders")
CUSTOMERS = load_mapping(MAPPINGS / "bc-customers.toml", "customers")


def test_random_reminders_and_customers_are_imported_whole_or_refused(
    store: str, tmp_path: Path
) -> None:
    text = st.text(max_size=10)

    def mostly(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(*[good] * 9, text)  # one cell in ten is anything

    reminder = st.tuples(
        mostly(st.sampled_from(["0379-NEVHP", "8976-AMJEO", "NOBODY"])),
        mostly(st.dates(date(1990, 1, 1), date(2030, 1, 1)).map(date.isoformat)),
        mostly(
            st.integers(0, 12).map(str)
            | st.integers(0, 10**30).map(str)
            | st.sampled_from(["-1", "1.0", "\u0663", "01"]),
        ),
    )
    customer = st.tuples(
        mostly(st.sampled_from(["0379-NEVHP", "K1", "K2", "100%_[x]"])),
        mostly(st.text(min_size=1, max_size=10).filter(str.strip)),
        mostly(st.sampled_from(["STANDARD", "", "NEW"])),
        mostly(st.sampled_from(["", "No", "All", "Ship", "Maybe"])),
    )

    @csv_settings(store, on_sqlite=36)
    @given(
        kind=st.sampled_from(["reminders", "customers"]),
        reminders=st.lists(reminder, max_size=5),
        customers=st.lists(customer, max_size=5),
    )
    def attempt(
        kind: str,
        reminders: list[tuple[str, ...]],
        customers: list[tuple[str, ...]],
    ) -> None:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        if kind == "reminders":
            writer.writerow(["Customer No.", "Issued On", "Level"])
            writer.writerows(reminders)
            mapping = REMINDERS
        else:
            writer.writerow(["No.", "Name", "Reminder Terms Code", "Blocked"])
            writer.writerows(customers)
            mapping = CUSTOMERS
        content = out.getvalue().encode("utf-8", "surrogatepass")

        import_whole_or_nothing(store, kind, tmp_path / f"{kind}.csv", mapping, content)

    attempt()
