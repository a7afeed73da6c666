"""Bad input through the real command line: the corpus in tests/data/bad/.

Each case of `tests/data/bad/CASES.toml` runs `segment-tui import ...` or `segment-tui
setup load` on a store that already holds customers, ledger entries, reminders, an
open proposal and a history row, on SQLite and on PostgreSQL. A refusal must exit 2
with exactly one line on standard error that names the file and the place and says
what was expected, show no traceback, and leave every table as it was. The valid
files among them (a byte-order mark, CRLF, cp1252 names, credit memos, a due date
before its posting date) must import, and importing them again must change nothing.

The last section holds the refusals that do not yet meet the contract, as expected
failures: each one says what goes wrong today.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fingerprint import Fingerprint, fingerprint, row_counts
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from store_data import copy_store

from segment_tui.cli import main
from segment_tui.importing import load_mapping
from segment_tui.store.engine import make_engine
from segment_tui.store.models import Customer, LedgerEntry, Reminder

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "bad"
MAPPINGS = REPO / "data" / "mappings"
CASES: list[dict[str, Any]] = tomllib.loads(
    (CORPUS / "CASES.toml").read_text(encoding="utf-8")
)["case"]
IBM = MAPPINGS / "ibm-accounts-receivable.toml"
IBM_HEADER = (
    "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,"
    "InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate"
)
IBM_ROW = "391,{customer},4/6/2013,{document},3/1/2013,3/31/2013,{amount},No,,Paper,0,0"
HUGE_FIELD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.delenv("SEGMENT_TUI_DB", raising=False)


def cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> Run:
    """`segment-tui --db URL ARGS` in this process, with both output streams."""
    capsys.readouterr()
    status = main(["--db", url, "--operator", "tester", *args])
    out, err = capsys.readouterr()
    return Run(status, out, err)


def build_store(url: str) -> None:
    """Fill an empty store: a good import, an open proposal and a history row."""
    steps = [
        ["init"],
        ["import", "customers", str(CORPUS / "baseline-customers.csv")],
        ["import", "ledger", str(CORPUS / "baseline-ledger.csv")],
        ["import", "reminders", str(CORPUS / "baseline-reminders.csv")],
        ["propose", "--date", "2013-06-30"],
        ["apply", "8976-AMJEO"],
    ]
    mappings = {
        "customers": MAPPINGS / "bc-customers.toml",
        "ledger": IBM,
        "reminders": MAPPINGS / "reminders.toml",
    }
    for step in steps:
        if step[0] == "import":
            step += ["--mapping", str(mappings[step[1]])]
        out = io.StringIO()
        status = main(["--db", url, "--operator", "tester", *step], out=out)
        assert status == 0, (step, out.getvalue())


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def baseline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One filled store per database, shared by the cases that must not change it.

    Built once per module rather than per test: a refused file changes nothing, so
    every refusal can be tried on the same store, which keeps the suite fast.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path_factory.mktemp("log")))
        patch.delenv("SEGMENT_TUI_DB", raising=False)
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'segment.db'}"
            build_store(url)
            yield url
            return
        with fresh_pg_database(request.getfixturevalue("pg_url")) as url:
            build_store(url)
            yield url


@contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """An empty database next to `server_url`, dropped afterwards."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    url = make_url(server_url)
    name = f"segbad_{uuid.uuid4().hex[:16]}"
    admin = make_conninfo(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture
def store(baseline: str) -> Iterator[str]:
    """A copy of the filled store, for a test that changes it (or may, by a bug)."""
    with copy_store(baseline) as url:
        yield url


@contextmanager
def opened(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def case_id(case: dict[str, Any]) -> str:
    return re.sub(r"[^a-z0-9]+", "-", case["kind"].lower()).strip("-")


def case_arguments(case: dict[str, Any], tmp_path: Path) -> tuple[list[str], Path]:
    """The command line of a case and the file it reads."""
    file = CORPUS / case["file"]
    if case.get("generated"):
        file = huge_field_file(tmp_path / case["file"])
    arguments = [*case["command"].split(), str(file)]
    if "mapping" in case:
        mapping = CORPUS / case["mapping"]
        if not mapping.exists():
            mapping = MAPPINGS / case["mapping"]
        arguments += ["--mapping", str(mapping)]
    return arguments, file


def huge_field_file(path: Path) -> Path:
    """A ledger file whose third line holds a customer number of megabytes."""
    lines = [
        IBM_HEADER,
        IBM_ROW.format(customer="0379-NEVHP", document="0000900001", amount="1.00"),
        IBM_ROW.format(
            customer="X" * HUGE_FIELD_BYTES, document="0000900002", amount="2.00"
        ),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected_fragments(case: dict[str, Any], arguments: list[str]) -> list[str]:
    places = {"file": arguments[len(case["command"].split())]}
    if "--mapping" in arguments:
        places["mapping"] = arguments[arguments.index("--mapping") + 1]
    return [fragment.format(**places) for fragment in case["message"]]


def assert_one_line_refusal(run: Run, fragments: list[str]) -> None:
    """Exit 2, one line on standard error holding every fragment, no traceback."""
    assert run.status == 2, run
    assert run.out == ""
    assert "Traceback" not in run.err
    assert run.err.endswith("\n") and run.err.count("\n") == 1, run.err
    assert run.err.startswith("segment-tui: "), run.err
    for fragment in fragments:
        assert fragment in run.err, (fragment, run.err)


# --- The corpus -------------------------------------------------------------------

REFUSED = [c for c in CASES if c["status"] == 2]
VALID = [c for c in CASES if c["status"] == 0]


def on_databases(cases: list[dict[str, Any]]) -> list[Any]:
    """Each case on SQLite and, if it says so, on PostgreSQL.

    All of SQLite's first: pytest keeps one store of the module at a time, so
    alternating would build the store again for every case.
    """
    on_sqlite = [pytest.param(c, "sqlite", id=f"sqlite-{case_id(c)}") for c in cases]
    on_postgresql = [
        pytest.param(
            c, "postgresql", id=f"postgresql-{case_id(c)}", marks=pytest.mark.postgres
        )
        for c in cases
        if c.get("postgresql")
    ]
    return on_sqlite + on_postgresql


@pytest.mark.parametrize(
    ("case", "baseline"),
    on_databases(REFUSED),
    indirect=["baseline"],
    scope="module",  # the store stays a module's: built once per database
)
def test_a_refused_case(
    case: dict[str, Any],
    baseline: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    arguments, _ = case_arguments(case, tmp_path)
    before = fingerprint(baseline)

    run = cli(capsys, baseline, *arguments)

    assert_one_line_refusal(run, expected_fragments(case, arguments))
    assert fingerprint(baseline) == before


@pytest.mark.parametrize("case", VALID, ids=[case_id(c) for c in VALID])
def test_a_valid_case(
    case: dict[str, Any],
    store: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    arguments, file = case_arguments(case, tmp_path)
    before = fingerprint(store)

    run = cli(capsys, store, *arguments)

    after = fingerprint(store)
    assert run.status == 0, run
    assert "Traceback" not in run.err
    check_warnings(run, case.get("warnings", []))
    check_stored(before, after, case["stored"])
    if case["command"].startswith("import"):
        assert run.out.startswith(f"{file.name}: ")
        again = cli(capsys, store, *arguments)
        assert again.status == 0, again
        assert fingerprint(store) == after, "importing again changed the store"
    if "metrics" in case:
        check_metrics(capsys, store, dict(case["metrics"]))
    if "names" in case:
        with opened(store) as engine, engine.connect() as connection:
            query = select(Customer.customer_no, Customer.name)
            stored = {no: name for no, name in connection.execute(query)}
        for customer_no, name in case["names"].items():
            assert stored[customer_no] == name


def check_warnings(run: Run, fragments: list[str]) -> None:
    lines = run.err.splitlines()
    assert len(lines) == len(fragments), run.err
    for line, fragment in zip(lines, fragments, strict=True):
        assert line.startswith("warning: ") and fragment in line, line


def check_stored(
    before: Fingerprint, after: Fingerprint, gained: dict[str, int]
) -> None:
    """Each table of `gained` has that many rows more; every other is untouched."""
    for table in before:
        if table in gained:
            assert after[table][0] - before[table][0] == gained[table], table
        else:
            assert after[table] == before[table], table


def check_metrics(
    capsys: pytest.CaptureFixture[str], url: str, expected: dict[str, Any]
) -> None:
    run = cli(
        capsys, url, "metrics", "--date", expected.pop("date"), "--format", "json"
    )
    assert run.status == 0, run
    records = json.loads(run.out, parse_float=Decimal)
    customer_no = expected.pop("customer_no")
    record = next(r for r in records if r["customer_no"] == customer_no)
    for metric, value in expected.items():
        wanted = Decimal(value) if isinstance(value, str) else value
        assert record[metric] == wanted, (metric, record[metric], wanted)


def test_every_file_of_the_corpus_has_a_case() -> None:
    named = {case["file"] for case in CASES}
    named |= {case["mapping"] for case in CASES if "mapping" in case}
    present = {p.name for p in CORPUS.iterdir() if not p.name.startswith(".")}
    baseline = {p for p in present if p.startswith("baseline-")}

    assert present - named - baseline == {"CASES.toml"}
    assert all((CORPUS / c["file"]).exists() for c in CASES if not c.get("generated"))


def test_the_baseline_store_has_rows_in_every_table_an_input_may_touch(
    baseline: str,
) -> None:
    counts = row_counts(baseline)

    for table in (
        "customer",
        "dunning_condition",
        "ledger_entry",
        "reminder",
        "setup_version",
        "proposal",
        "segment_change",
    ):
        assert counts[table] > 0, table


def test_a_trial_setup_is_refused_as_setup_load_refuses_it(
    baseline: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = CORPUS / "setup-unknown-metric.toml"
    before = fingerprint(baseline)

    loaded = cli(capsys, baseline, "setup", "load", str(setup))
    tried = cli(
        capsys, baseline, "propose", "--date", "2013-06-30", "--setup", str(setup)
    )

    assert tried.status == loaded.status == 2
    assert tried.err == loaded.err
    assert fingerprint(baseline) == before


# --- A real process: what reaches the operator's terminal ---------------------------

SUBPROCESS_CASES = ["ledger-compressed.csv.gz", "setup-unknown-key.toml"]


def test_a_real_process_shows_one_line_and_no_traceback(
    baseline: str, tmp_path: Path
) -> None:
    environment = dict(os.environ)
    environment["SEGMENT_TUI_LOG_DIR"] = str(tmp_path / "log")
    environment.pop("SEGMENT_TUI_DB", None)
    before = fingerprint(baseline)

    for name in SUBPROCESS_CASES:
        case = next(c for c in REFUSED if c["file"] == name)
        arguments, _ = case_arguments(case, tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "segment_tui", "--db", baseline, *arguments],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )
        run = Run(done.returncode, done.stdout, done.stderr)
        assert_one_line_refusal(run, expected_fragments(case, arguments))

    assert fingerprint(baseline) == before


# --- Refusals that do not meet the contract yet ------------------------------------
#
# Each of these ends today in exit status 1 ("failed unexpectedly"), in the message
# "the store ... cannot be used ...; check --db or SEGMENT_TUI_DB" that blames the
# store for a cell of the file, or in an import that SQLite accepts and PostgreSQL
# refuses. The importer should refuse them itself, naming the line and the column.


def assert_refused_row(
    capsys: pytest.CaptureFixture[str],
    store: str,
    arguments: list[str],
    fragments: list[str],
) -> None:
    before = fingerprint(store)
    run = cli(capsys, store, *arguments)
    assert_one_line_refusal(run, fragments)
    assert fingerprint(store) == before


@pytest.mark.parametrize(
    "amount",
    ["10000000000000000.00", "-99999999999999999", "1" * 5000],
    ids=["10^16", "17-digits", "5000-digits"],
)
def test_an_amount_larger_than_the_store_holds_is_refused_with_its_line(
    baseline: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, amount: str
) -> None:
    # Before, SQLite stored 10^16 that PostgreSQL refused as "the store cannot be
    # used: numeric field overflow", and 17 or 5000 digits ended in exit status 1.
    file = tmp_path / "ledger.csv"
    row = IBM_ROW.format(customer="0379-NEVHP", document="0000900001", amount=amount)
    file.write_text(f"{IBM_HEADER}\n{row}\n", encoding="utf-8")

    assert_refused_row(
        capsys,
        baseline,
        ["import", "ledger", str(file), "--mapping", str(IBM)],
        [
            f"{file} line 2, column 'InvoiceAmount': ",
            " is larger than the store holds: at most 16 digits before the decimal "
            "separator",
        ],
    )


def test_the_largest_amount_the_store_holds_is_stored_exactly(
    store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "ledger.csv"
    rows = [
        IBM_ROW.format(customer="7777-LARGE", document="1", amount=amount)
        for amount in ("9999999999999999.99", "-0009999999999999999.99")
    ]
    file.write_text("\n".join([IBM_HEADER, *rows]) + "\n", encoding="utf-8")

    run = cli(capsys, store, "import", "ledger", str(file), "--mapping", str(IBM))

    assert run.status == 0, run
    with opened(store) as engine, engine.connect() as connection:
        amounts = connection.execute(
            select(LedgerEntry.amount).where(LedgerEntry.customer_no == "7777-LARGE")
        ).scalars()
        assert sorted(amounts) == [
            Decimal("-9999999999999999.99"),
            Decimal("9999999999999999.99"),
        ]


@pytest.mark.parametrize(
    "level", ["2147483648", "9" * 20, "1" * 5000], ids=["2^31", "20-digits", "5000"]
)
def test_a_reminder_level_larger_than_the_store_holds_is_refused_with_its_line(
    baseline: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, level: str
) -> None:
    # Before, SQLite stored 2^31 that PostgreSQL refused as "integer out of range",
    # and 20 digits ended in exit status 1 on SQLite.
    file = tmp_path / "reminders.csv"
    file.write_text(
        f"Customer No.,Issued On,Level\n0379-NEVHP,2013-03-01,{level}\n",
        encoding="utf-8",
    )

    assert_refused_row(
        capsys,
        baseline,
        [
            "import",
            "reminders",
            str(file),
            "--mapping",
            str(MAPPINGS / "reminders.toml"),
        ],
        [
            f"{file} line 2, column 'Level': ",
            " is larger than the store holds (at most 2147483647)",
        ],
    )


def test_the_largest_reminder_level_the_store_holds_is_stored(
    store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "reminders.csv"
    file.write_text(
        "Customer No.,Issued On,Level\n0379-NEVHP,2013-03-01,002147483647\n",
        encoding="utf-8",
    )
    mapping = MAPPINGS / "reminders.toml"

    run = cli(
        capsys, store, "import", "reminders", str(file), "--mapping", str(mapping)
    )

    assert run.status == 0, run
    with opened(store) as engine, engine.connect() as connection:
        levels = connection.execute(select(Reminder.level)).scalars().all()
    assert max(levels) == 2_147_483_647


NUL_REFUSAL = (
    "holds a NUL character, which no text in the store may hold; is the file "
    "binary, or in another encoding than the mapping says?"
)


@pytest.mark.parametrize(
    ("kind", "lines", "place"),
    [
        pytest.param(
            "ledger",
            [
                IBM_HEADER,
                IBM_ROW.format(customer="0379\x00X", document="1", amount="1"),
            ],
            "line 2, column 'customerID': '0379\\x00X' ",
            id="ledger-customer",
        ),
        pytest.param(
            "ledger",
            [
                IBM_HEADER,
                IBM_ROW.format(customer="0379-NEVHP", document="1\x00", amount="1"),
            ],
            "line 2, column 'invoiceNumber': '1\\x00' ",
            id="ledger-document",
        ),
        pytest.param(
            "customers",
            ["No.,Name,Reminder Terms Code,Blocked", "K1,A\x00B,STANDARD,"],
            "line 2, column 'Name': 'A\\x00B' ",
            id="customers-name",
        ),
        pytest.param(
            "customers",
            ["No.,Name,Reminder Terms Code,Blocked", "K1,A,ST\x00,"],
            "line 2, column 'Reminder Terms Code': 'ST\\x00' ",
            id="customers-condition",
        ),
    ],
)
def test_a_nul_character_in_a_text_cell_is_refused_with_its_line(
    baseline: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kind: str,
    lines: list[str],
    place: str,
) -> None:
    # Before, SQLite stored it and PostgreSQL refused it as "the store cannot be
    # used: PostgreSQL text fields cannot contain NUL (0x00) bytes".
    file = tmp_path / f"{kind}.csv"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = IBM if kind == "ledger" else MAPPINGS / "bc-customers.toml"

    assert_refused_row(
        capsys,
        baseline,
        ["import", kind, str(file), "--mapping", str(mapping)],
        [f"{file} {place}{NUL_REFUSAL}"],
    )


@pytest.mark.parametrize(
    "quote", [False, True], ids=["huge-field", "quote-never-closed"]
)
def test_a_field_too_long_for_csv_is_refused_with_the_line_its_row_starts_on(
    baseline: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, quote: bool
) -> None:
    file = tmp_path / "ledger.csv"
    if quote:
        # The quote opened on line 3 swallows the 5,000 rows below it.
        row = IBM_ROW.format(customer="0379-NEVHP", document="0000900001", amount="1")
        lines = [IBM_HEADER, row, row.replace("Paper", '"Paper'), *[row] * 5000]
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        huge_field_file(file)

    assert_refused_row(
        capsys,
        baseline,
        ["import", "ledger", str(file), "--mapping", str(IBM)],
        [
            f"{file} line 3 cannot be read as CSV: a field of this row is longer "
            "than 131072 characters; check that every quote that opens a text is "
            "closed"
        ],
    )


def test_a_mapping_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # Before, a mapping saved by Notepad was "not valid TOML ... (at line 1,
    # column 1)".
    mapping = tmp_path / "ibm.toml"
    mapping.write_bytes(b"\xef\xbb\xbf" + IBM.read_bytes())

    loaded = load_mapping(mapping, "ledger")

    assert loaded.columns == load_mapping(IBM, "ledger").columns
    assert loaded.source == load_mapping(IBM, "ledger").source
