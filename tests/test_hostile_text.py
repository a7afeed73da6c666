"""Hostile text is data, never SQL and never markup.

Customer numbers and names that look like SQL (`'; DROP TABLE customer; --`), like
LIKE wildcards (`%`, `_`, the escape character), like Rich markup (`[bold]x[/bold]`,
`[link=...]`, `[/]`) or that are long or not ASCII go through every filter and sort
of the proposals list, the history, and the customer arguments of `delete` and
`apply`, on SQLite and PostgreSQL. The tables stay intact and every filter matches
the text literally: `%` finds only what holds a `%`.

The last test reads the package's source: no SQL text is built from a value that is
not the program's own (an f-string or concatenation passed to `text()`,
`exec_driver_sql()` or a driver's `execute()`), except a short list of statements
checked here one by one, each with the reason it is safe.
"""

from __future__ import annotations

import ast
import io
import string
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fingerprint import fingerprint, row_counts
from sqlalchemy import Engine, insert, inspect

from segment_tui import services
from segment_tui.cli import main
from segment_tui.store.engine import create_schema, make_engine, write_transaction
from segment_tui.store.history_source import HistorySource
from segment_tui.store.models import Customer
from segment_tui.store.proposal_source import SORT_COLUMNS, ProposalSource

REPO = Path(__file__).resolve().parents[1]
REFERENCE = date(2024, 6, 30)
OPERATOR = "'; DROP TABLE segment_change; --"

# Customer numbers (at most 40 characters) and names (at most 200) as hostile as
# they come. No upper-case letters outside A-Z: SQLite ignores case for those only.
CUSTOMERS = {
    "100%_[x]": "Hundred Percent",
    "'; DROP TABLE customer; --": "Robert'); DROP TABLE proposal;--",
    '" OR 1=1 --': '" OR ""="',
    "back\\slash": "O'Brien \\ Söhne",
    "a/b//c": "Slash / and // double",
    "[bold]x[/bold]": "[red]Alarm[/red] [/]",
    "[link=https://example.invalid]y[/link]": "[link=https://example.invalid]click",
    "[/]": "Closing tag",
    "ünïcødé ✓ 名前": "名前 ✓ ünïcødé",
    "x" * 40: "y" * 200,
    "plain-1": "50% off_sale",
    "plain-2": "Plain Name",
    "PLAIN_3": "\u202eRight-to-left override",
}
FRAGMENTS = [
    "%",
    "_",
    "%%",
    "_%",
    "%_[",
    "\\",
    "\\\\",
    "/",
    "//",
    "'",
    '"',
    "--",
    ";",
    "1=1",
    "DROP TABLE",
    "'; DROP TABLE customer; --",
    '" OR 1=1 --',
    "[",
    "]",
    "[/]",
    "[bold]",
    "[link=",
    "名前",
    "x" * 41,
    "z" * 10_000,
    "plain",
    "PLAIN",
    "\u202e",
    "*",
    "?",
    "^",
    "$",
    ".*",
]
FILTERS = [*CUSTOMERS, *CUSTOMERS.values(), *FRAGMENTS]

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def folded(text: str) -> str:
    """Text with A-Z as a-z: how both databases compare under the filter."""
    return text.translate(_ASCII_LOWER)


@pytest.fixture
def store(db_url: str) -> Iterator[str]:
    """A store on each database with an open proposal for every hostile customer."""
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        services.initialise(engine, OPERATOR)
        with write_transaction(engine) as connection:
            connection.execute(
                insert(Customer),
                [{"customer_no": no, "name": name} for no, name in CUSTOMERS.items()],
            )
        summary = services.create_proposals(engine, REFERENCE, OPERATOR)
        assert summary.proposal_count == len(CUSTOMERS)
    finally:
        engine.dispose()
    yield db_url


@pytest.fixture
def engine(store: str) -> Iterator[Engine]:
    engine = make_engine(store)
    try:
        yield engine
    finally:
        engine.dispose()


def expected(text: str, segment: str = "PROMPT") -> set[str]:
    """The customers a filter on `text` must find: number, name or segment hold it."""
    wanted = folded(text.strip())
    return {
        no
        for no, name in CUSTOMERS.items()
        if wanted in folded(no) or wanted in folded(name) or wanted in folded(segment)
    }


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


# --- The proposals list: filters, sorting, paging ------------------------------------


def test_every_filter_matches_its_text_literally(store: str, engine: Engine) -> None:
    source = ProposalSource(engine)
    names_before = tables(engine)
    counts_before = row_counts(store)

    for text in FILTERS:
        source.set_filter(text)
        wanted = expected(text)

        assert source.count() == len(wanted), text
        found = source.fetch(0, 1000)
        assert {r.customer_no for r in found} == wanted, text
        assert len(list(source.keys())) == len(wanted), text
        for record in found:
            assert record.customer_name == CUSTOMERS[record.customer_no]
        if found:
            assert source.position(found[-1].id) == len(found) - 1

    assert tables(engine) == names_before
    assert row_counts(store) == counts_before


def test_a_wildcard_alone_does_not_match_everything(engine: Engine) -> None:
    source = ProposalSource(engine)

    for wildcard, holders in (
        ("%", {"100%_[x]", "plain-1"}),
        ("_", {"100%_[x]", "plain-1", "PLAIN_3"}),
        ("\\", {"back\\slash"}),
        ("//", {"a/b//c", "[link=https://example.invalid]y[/link]"}),
    ):
        source.set_filter(wildcard)
        assert {r.customer_no for r in source.fetch(0, 1000)} == holders, wildcard
        assert source.count() == len(holders) < len(CUSTOMERS)


def test_a_customer_is_found_by_its_exact_text(engine: Engine) -> None:
    source = ProposalSource(engine)

    for customer_no in CUSTOMERS:
        source.set_filter(customer_no)
        found = {r.customer_no for r in source.fetch(0, 1000)}
        assert customer_no in found
        assert found == expected(customer_no)


@pytest.mark.parametrize("reverse", [False, True], ids=["ascending", "descending"])
def test_pages_of_every_sort_join_up_around_hostile_values(
    engine: Engine, reverse: bool
) -> None:
    for key in SORT_COLUMNS:
        whole = ProposalSource(engine)
        whole.set_sort(key, reverse)
        everything = [r.id for r in whole.fetch(0, 1000)]
        assert len(everything) == len(CUSTOMERS), key

        forwards = ProposalSource(engine)
        forwards.set_sort(key, reverse)
        paged = [r.id for start in range(0, 14, 2) for r in forwards.fetch(start, 2)]
        backwards = ProposalSource(engine)
        backwards.set_sort(key, reverse)
        from_the_end = [
            [r.id for r in backwards.fetch(start, 2)] for start in range(12, -1, -2)
        ]

        assert paged == everything, key
        assert [i for page in reversed(from_the_end) for i in page] == everything, key


def test_a_sort_key_that_is_no_column_is_refused_without_sql(engine: Engine) -> None:
    source = ProposalSource(engine)
    names_before = tables(engine)

    for key in ["name; DROP TABLE customer", "customer_no DESC", "1", "", "[bold]"]:
        with pytest.raises(ValueError, match="cannot sort by"):
            source.set_sort(key)

    assert tables(engine) == names_before
    assert source.count() == len(CUSTOMERS)


def test_proposals_of_hostile_customers_are_found_by_number(engine: Engine) -> None:
    source = ProposalSource(engine)
    by_customer = {r.customer_no: r.id for r in source.fetch(0, 1000)}

    found = source.ids_for_customers([*CUSTOMERS, "%", "_", "' OR 1=1 --"])

    assert found == set(by_customer.values())
    assert source.ids_for_customers(["%"]) == set()


# --- The command line: delete and apply by customer --------------------------------


def run(url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--db", url, "--operator", OPERATOR, *args], out=out), out.getvalue()


@pytest.fixture
def cli_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.delenv("SEGMENT_TUI_DB", raising=False)


@pytest.mark.usefixtures("cli_isolated")
def test_delete_and_apply_take_hostile_customer_numbers_literally(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(store)
    names_before = tables(engine)
    engine.dispose()

    # Not customers: refused, nothing changed.
    for args in (["delete", "%"], ["apply", "_"], ["delete", "' OR '1'='1"]):
        before = fingerprint(store)
        status, _ = run(store, *args)
        assert status == 2, args
        assert capsys.readouterr().err.count("\n") == 1
        assert fingerprint(store) == before

    status, out = run(store, "delete", "100%_[x]", "[/]")
    assert (status, out) == (0, "2 proposals deleted.\n")
    status, _ = run(store, "apply", "'; DROP TABLE customer; --", '" OR 1=1 --')
    assert status == 0

    status, listed = run(store, "proposals")
    assert status == 0
    assert "[bold]x[/bold]" in listed and "[red]Alarm[/red] [/]" in listed
    for gone in ("100%_[x]", "'; DROP TABLE customer; --", '" OR 1=1 --'):
        assert gone not in listed
    engine = make_engine(store)
    try:
        changes = services.history(engine)
        assert tables(engine) == names_before
    finally:
        engine.dispose()
    assert {c.customer_no for c in changes} == {
        "'; DROP TABLE customer; --",
        '" OR 1=1 --',
    }
    assert {c.applied_by for c in changes} == {OPERATOR}
    counts = row_counts(store)
    assert counts["customer"] == len(CUSTOMERS)
    assert counts["proposal"] == len(CUSTOMERS) - 4


# --- The terminal: control characters in the data ----------------------------------

# Clears the screen, sets the window title, rings the bell, moves back to the start
# of the line and starts a new one: what a name from an import file may hold.
CONTROL_NAME = "Bell\x07 \x1b[2J\x1b]0;title\x07 back\r new\nline \x9b31m end"
CONTROLS = ("\x07", "\x1b", "\r", "\x9b")


@pytest.mark.usefixtures("cli_isolated")
def test_control_characters_in_the_data_do_not_reach_the_terminal(
    store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    engine = make_engine(store)
    try:
        with write_transaction(engine) as connection:
            connection.execute(
                insert(Customer), [{"customer_no": "CTRL\x1b[1m", "name": CONTROL_NAME}]
            )
        services.create_proposals(engine, REFERENCE, "tester")
    finally:
        engine.dispose()
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "Customer,Document,Posted,Due,Amount\n"
        + "K9,D\x1b[31m1,2024-01-01,2024-02-01,1.00\n" * 2,
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[columns]\ncustomer_no = "Customer"\ndocument_no = "Document"\n'
        'posting_date = "Posted"\ndue_date = "Due"\namount = "Amount"\n',
        encoding="utf-8",
    )
    capsys.readouterr()

    listed = run(store, "proposals")
    imported = run(store, "import", "ledger", str(ledger), "--mapping", str(mapping))
    refused = run(store, "delete", "NOBODY\x1b[2J", "new\nline")

    assert listed[0] == imported[0] == 0
    assert refused[0] == 2
    err = capsys.readouterr().err
    for text in (listed[1], imported[1], err):
        assert not any(c in text for c in CONTROLS), text
    rows = listed[1].splitlines()
    assert len(rows) == 3 + len(CUSTOMERS) + 1  # run line, header, rule, rows
    assert any("Bell\\x07 \\x1b[2J" in row for row in rows)
    assert err.count("\n") == 2  # one warning, one refusal
    assert err.splitlines()[1].startswith("segment-tui: unknown customer")


# --- The history -------------------------------------------------------------------


def test_the_history_holds_hostile_text_verbatim(engine: Engine) -> None:
    result = services.apply_proposals(engine, services.Selection.everything(), OPERATOR)
    assert len(result.applied) == len(CUSTOMERS)
    source = HistorySource(engine)

    pages = [r for start in range(0, 14, 3) for r in source.fetch(start, 3)]

    assert source.count() == len(CUSTOMERS)
    assert {r.customer_no for r in pages} == set(CUSTOMERS)
    assert {r.applied_by for r in pages} == {OPERATOR}
    for customer_no in [*CUSTOMERS, "%", "_"]:
        mine = services.history(engine, customer_no)
        assert [c.customer_no for c in mine] == (
            [customer_no] if customer_no in CUSTOMERS else []
        )
    assert {"customer", "proposal", "segment_change"} <= tables(engine)


# --- No SQL text from values that are not the program's own -------------------------

PACKAGE = REPO / "segment_tui"

# Calls that take SQL text. `execute` and its kin also take SQLAlchemy statements,
# which bind every value; only text built in place (an f-string, + or %, .format)
# is checked for them.
SQL_TEXT_CALLS = {"text", "literal_column", "exec_driver_sql"}
DRIVER_CALLS = {"execute", "executemany", "executescript"}

# Statements built from something other than constants, each with why it is safe.
# The key is the file and the argument as `ast.unparse` writes it.
ALLOWED = {
    ("store/engine.py", "f'PRAGMA busy_timeout = {timeout_ms}'"): (
        "an int: the busy timeout in milliseconds, int() of a float setting"
    ),
    ("store/engine.py", "f'SET LOCAL lock_timeout = {timeout_ms}'"): (
        "an int() of the engine's own execution option"
    ),
    ("store/engine.py", "f\"PRAGMA foreign_keys = {('ON' if on else 'OFF')}\""): (
        "one of two constants"
    ),
    ("store/engine.py", "f'PRAGMA threads = {SORT_THREADS}'"): (
        "a constant: min() of 4 and the number of processors"
    ),
    ("importing.py", "f'PRAGMA cache_size = {-IMPORT_CACHE_KIB}'"): "a constant",
    ("importing.py", "f'PRAGMA cache_size = {int(before or 0)}'"): (
        "an int() of the value SQLite itself reported"
    ),
    ("importing.py", "self.sql"): (
        "compiled by SQLAlchemy from a Core statement; values are bound parameters"
    ),
    ("importing.py", "self.multiple"): (
        "compiled by SQLAlchemy from a Core statement; values are bound parameters"
    ),
    ("importing.py", "self.single"): (
        "compiled by SQLAlchemy from a Core statement; values are bound parameters"
    ),
    ("demo.py", "self.statements[name]"): (
        "compiled by SQLAlchemy from Core inserts; values are bound parameters"
    ),
    ("store/proposal_writer.py", "definition"): (
        "an index definition as SQLite stored it for the program's own index"
    ),
    ("store/proposal_writer.py", "self._insert_sql"): (
        "compiled by SQLAlchemy from a Core statement; values are bound parameters"
    ),
    ("store/proposal_writer.py", "_DELETE"): (
        "a constant of the module; the proposal id is a bound parameter"
    ),
    ("store/proposal_writer.py", "f'DROP INDEX \"{name}\"'"): (
        "the name of one of the program's own indexes, read from sqlite_master"
    ),
    ("store/selection.py", "f'DROP TABLE IF EXISTS {table.name}'"): (
        "the name of one of the module's own temporary tables, a constant"
    ),
    ("store/selection.py", "f'PRAGMA secure_delete = {previous}'"): (
        "an int() of the value SQLite itself reported"
    ),
}


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _constant_text(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.IfExp):
        return _constant_text(node.body) and _constant_text(node.orelse)
    return False


def _built_text(node: ast.expr) -> bool:
    """An f-string, a concatenation, a % format or a .format(): text built here."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def unchecked_sql() -> list[str]:
    """Every SQL text of the package built from a value not in `ALLOWED`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "literal_binds":
                found.append(f"{relative}:{node.value.lineno}: literal_binds")
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = _called_name(node)
            argument = node.args[0]
            if name in SQL_TEXT_CALLS:
                suspect = not _constant_text(argument)
            elif name in DRIVER_CALLS:
                suspect = _built_text(argument)
            else:
                continue
            if suspect and (relative, ast.unparse(argument)) not in ALLOWED:
                found.append(f"{relative}:{node.lineno}: {ast.unparse(argument)}")
    return found


def test_no_sql_text_is_built_from_values_that_are_not_the_programs_own() -> None:
    assert unchecked_sql() == []


def test_the_check_finds_sql_built_from_a_value() -> None:
    tree = ast.parse(
        "connection.execute(text(f\"SELECT * FROM customer WHERE name = '{name}'\"))\n"
        "connection.exec_driver_sql('DELETE FROM proposal WHERE id = ' + pid)\n"
        "cursor.execute('SELECT %s' % value)\n"
        "connection.execute(text('SELECT 1'))\n"
    )
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    flagged = [
        ast.unparse(c.args[0])
        for c in calls
        if (_called_name(c) in SQL_TEXT_CALLS and not _constant_text(c.args[0]))
        or (_called_name(c) in DRIVER_CALLS and _built_text(c.args[0]))
    ]

    assert len(flagged) == 3
    assert "'SELECT 1'" not in flagged
