"""The command line of contract section 2, on a SQLite store in tmp_path.

Every command at least once; exit status 0 when done and 2 when the input is refused,
with one line on standard error and no traceback; the JSON documents of section 6
key by key and type by type, with amounts written as exact decimals. One test runs
the real `python -m segment_tui` to see the exit status a shell sees.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from segment_tui import __version__, jsonout
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import METRIC_NAMES
from segment_tui.rules.setup import load_setup, parse_setup
from segment_tui.services import default_setup_text
from segment_tui.store.engine import make_engine
from segment_tui.store.models import Base

if TYPE_CHECKING:
    from tests.cli.conftest import MainRunner, Outcome, Runner

REPO = Path(__file__).resolve().parents[2]
REAL_DATA = REPO.parent / "shared" / "data" / "real"
IBM_CSV = REAL_DATA / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"
IBM_MAPPING = REPO / "data" / "mappings" / "ibm-accounts-receivable.toml"

R = "2024-06-30"

CUSTOM_SETUP = """\
[settings]
lookback_months = 6
late_tolerance_days = 2
exclude = ["blocked", "handed_over"]

[[dunning_condition]]
code = "WATCH"
description = "Watch closely"

[[dunning_condition]]
code = "EASY"

[[segment]]
code = "LATE"
description = "Anything overdue"
dunning_condition = "WATCH"
match = "any"
conditions = ["overdue_count >= 1", "late_ratio > 0.5", "not payment_arrangement"]

[[segment]]
code = "REST"
dunning_condition = "EASY"
"""

# Contract section 6, key by key: the type (or types) of each value.
NULLABLE_STR = (str, type(None))
PROPOSAL_KEYS: dict[str, Any] = {
    "customer_no": str,
    "customer_name": str,
    "current_condition": NULLABLE_STR,
    "segment": str,
    "proposed_condition": str,
    "reason": list,
}
HISTORY_KEYS: dict[str, Any] = {
    "customer_no": str,
    "from_condition": NULLABLE_STR,
    "to_condition": str,
    "segment": str,
    "applied_at": str,
    "applied_by": str,
    "run_id": int,
}
# Keys beyond the contract that the product adds (the contract may be extended);
# pinned here so that a key that appears or disappears is noticed.
APPLY_EXTRA = frozenset({"batch_id"})
HISTORY_EXTRA = frozenset({"batch_id"})
MONEY_METRICS = ("open_amount", "overdue_amount")
RATIO_METRICS = ("late_ratio", "avg_days_late")


def _json(text: str) -> Any:
    """Parse the output as the contract promises it: numbers with fractions exact."""
    return json.loads(text, parse_float=Decimal)


def _check_keys(
    record: dict[str, Any], keys: dict[str, Any], extra: frozenset[str] = frozenset()
) -> None:
    assert set(record) == set(keys) | set(extra), record
    for key, kind in keys.items():
        assert isinstance(record[key], kind), (key, record[key])


def refused(outcome: Outcome, capsys: pytest.CaptureFixture[str]) -> str:
    """Assert a refusal: status 2, one line on standard error, no traceback."""
    err = capsys.readouterr().err
    assert outcome.code == 2, (outcome, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def store_rows(db: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused command changed nothing."""
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# --version, init, setup


def test_version(run_main: MainRunner, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--version"]).code == 0
    assert capsys.readouterr().out.strip() == __version__


def test_init_creates_the_schema_once(cli: Runner) -> None:
    first = cli("init")
    second = cli("init")

    assert (first.code, second.code) == (0, 0)
    assert "default setup stored" in first.out
    assert "kept" in second.out


def test_init_demo_adds_generated_customers(cli: Runner) -> None:
    made = cli("init", "--demo", "--customers", "25")
    metrics = cli("metrics", "--format", "json")

    assert made.code == 0
    assert "25 customers" in made.out
    assert len(_json(metrics.out)) == 25


def test_setup_show_prints_the_default_setup(cli: Runner) -> None:
    cli("init")

    shown = cli("setup", "show")

    assert shown.code == 0
    assert parse_setup(shown.out, "shown") == parse_setup(
        default_setup_text(), "default"
    )


def test_setup_load_then_show_round_trips(cli: Runner, tmp_path: Path) -> None:
    file = tmp_path / "custom.toml"
    file.write_text(CUSTOM_SETUP, encoding="utf-8")

    loaded = cli("setup", "load", str(file))
    as_json = cli("setup", "show", "--format", "json")
    as_toml = cli("setup", "show", "--format", "toml")

    assert loaded.code == 0
    assert "2 segments, 2 dunning conditions" in loaded.out
    assert json.loads(as_json.out) == load_setup(file).model_dump(mode="json")
    assert parse_setup(as_toml.out, "shown") == load_setup(file)
    document = json.loads(as_json.out)
    assert document["settings"] == {
        "lookback_months": 6,
        "late_tolerance_days": 2,
        "exclude": ["blocked", "handed_over"],
    }
    assert [s["code"] for s in document["segment"]] == ["LATE", "REST"]


# ---------------------------------------------------------------------------
# No command: the UI (its opening replaced by a recorder; the screens have their own
# tests)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str]]:
    """The (store, operator) of every UI opened; nothing is drawn."""
    app = pytest.importorskip("segment_tui.app")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        app, "run_app", lambda url, operator: calls.append((url, operator))
    )
    return calls


def test_no_command_opens_the_ui_on_the_store(
    cli: Runner, db: str, opened: list[tuple[str, str]]
) -> None:
    outcome = cli()

    assert outcome.code == 0
    assert opened == [(f"sqlite:///{Path(db).resolve()}", "tester")]
    assert store_rows(db)["setup_version"]  # the store was made before it opened


def test_demo_creates_then_reuses_a_demo_store(
    cli: Runner, db: str, opened: list[tuple[str, str]]
) -> None:
    first = cli("--demo")
    made = store_rows(db)
    second = cli("--demo")

    assert (first.code, second.code) == (0, 0)
    assert len(opened) == 2
    assert len(made["customer"]) == 400
    assert len(made["proposal_run"]) == 1
    assert store_rows(db) == made


# ---------------------------------------------------------------------------
# metrics


def test_metrics_json_has_every_metric_and_flag_exactly(
    cli: Runner, seeded: str
) -> None:
    out = cli("metrics", "--date", R, "--format", "json").out
    records = _json(out)

    assert [r["customer_no"] for r in records] == [
        "C001",
        "C002",
        "C003",
        "C004",
        "C005",
    ]
    for record in records:
        assert set(record) == {"customer_no", *METRIC_NAMES, *FLAG_NAMES, "segment"}
        assert isinstance(record["segment"], NULLABLE_STR)
        for flag in FLAG_NAMES:
            assert isinstance(record[flag], bool), flag
        for metric in METRIC_NAMES:
            value = record[metric]
            if metric in MONEY_METRICS + RATIO_METRICS:
                assert isinstance(value, int | Decimal), (metric, value)
            else:
                assert isinstance(value, int) and not isinstance(value, bool), metric
    by_no = {r["customer_no"]: r for r in records}
    assert by_no["C001"]["overdue_amount"] == Decimal("1234.80")
    assert by_no["C001"]["segment"] == "ARREARS"
    assert by_no["C005"]["segment"] is None  # handed over: excluded
    assert by_no["C005"]["handed_over"] is True
    assert by_no["C002"]["late_ratio"] == 1
    # Exact decimals in the text itself, never a float's rounding.
    assert '"overdue_amount": 1234.80' in out
    assert '"open_amount": 1234.80' in out
    assert "1234.8000" not in out and "1234.799" not in out
    assert "e-" not in out.lower() and "e+" not in out.lower()


def test_metrics_csv_has_a_header_with_every_metric_flag_and_segment(
    cli: Runner, seeded: str
) -> None:
    out = cli("metrics", "--date", R, "--format", "csv").out
    rows = list(csv.reader(out.splitlines()))

    assert rows[0] == ["customer_no", *METRIC_NAMES, *FLAG_NAMES, "segment"]
    assert len(rows) == 6
    c001 = dict(zip(rows[0], rows[1], strict=True))
    assert c001["overdue_amount"] == "1234.80"
    assert c001["segment"] == "ARREARS"
    c005 = dict(zip(rows[0], rows[5], strict=True))
    assert (c005["handed_over"], c005["segment"]) == ("true", "")


def test_metrics_table_is_readable(cli: Runner, seeded: str) -> None:
    outcome = cli("metrics", "--date", R)

    assert outcome.code == 0
    header = outcome.out.splitlines()[0].split()
    assert header[0] == "customer_no" and header[-1] == "segment"
    assert "Ångström" not in outcome.out  # the table shows numbers, not names
    assert "1234.80" in outcome.out


# ---------------------------------------------------------------------------
# propose, proposals, delete, apply, history


def _check_proposals_document(document: Any) -> None:
    assert set(document) == {"run_id", "reference_date", "proposals"}
    assert isinstance(document["run_id"], int)
    assert document["reference_date"] == R
    for proposal in document["proposals"]:
        _check_keys(proposal, PROPOSAL_KEYS)
        for item in proposal["reason"]:
            assert {"condition", "value"} <= set(item)


def test_propose_json(cli: Runner, seeded: str) -> None:
    outcome = cli("propose", "--date", R, "--format", "json")
    document = _json(outcome.out)

    assert outcome.code == 0
    _check_proposals_document(document)
    proposals = {p["customer_no"]: p for p in document["proposals"]}
    assert set(proposals) == {"C001", "C002", "C003"}
    c001 = proposals["C001"]
    assert c001["customer_name"] == "Ångström & Zonen"
    assert (c001["current_condition"], c001["segment"]) == ("STANDARD", "ARREARS")
    assert c001["proposed_condition"] == "INTENSIVE"
    values = {item["metric"]: item["value"] for item in c001["reason"]}
    assert values == {"max_days_overdue": 120, "overdue_amount": Decimal("1234.80")}
    assert proposals["C003"]["current_condition"] is None
    assert proposals["C003"]["reason"] == []
    assert "1234.80" in outcome.out and "Ångström" in outcome.out


def test_proposals_json_matches_the_run_and_is_empty_without_one(
    cli: Runner, seeded: str
) -> None:
    empty = _json(cli("proposals", "--format", "json").out)
    run = _json(cli("propose", "--date", R, "--format", "json").out)
    listed = _json(cli("proposals", "--format", "json").out)

    assert empty == {"run_id": None, "reference_date": None, "proposals": []}
    _check_proposals_document(listed)
    assert listed == run


def test_propose_and_proposals_tables(cli: Runner, seeded: str) -> None:
    proposed = cli("propose", "--date", R)
    listed = cli("proposals")

    assert (proposed.code, listed.code) == (0, 0)
    assert "5 customers evaluated, 3 proposals (1 excluded" in proposed.out
    assert "C001" in listed.out and "INTENSIVE" in listed.out
    assert "max_days_overdue 120 > 90" in listed.out


def test_propose_with_a_trial_setup_keeps_the_current_setup(
    cli: Runner, seeded: str, tmp_path: Path
) -> None:
    file = tmp_path / "trial.toml"
    file.write_text(CUSTOM_SETUP, encoding="utf-8")
    before = cli("setup", "show").out

    outcome = cli("propose", "--date", R, "--setup", str(file), "--format", "json")

    assert outcome.code == 0
    segments = {p["segment"] for p in _json(outcome.out)["proposals"]}
    assert segments == {"LATE"}
    assert cli("setup", "show").out == before


def test_delete_by_customer_and_all(cli: Runner, seeded: str) -> None:
    cli("propose", "--date", R)

    one = cli("delete", "C002")
    left = _json(cli("proposals", "--format", "json").out)["proposals"]
    rest = cli("delete", "--all")

    assert (one.code, rest.code) == (0, 0)
    assert one.out == "1 proposal deleted.\n"
    assert [p["customer_no"] for p in left] == ["C001", "C003"]
    assert rest.out == "2 proposals deleted.\n"
    assert _json(cli("proposals", "--format", "json").out)["proposals"] == []


def test_apply_json(cli: Runner, seeded: str) -> None:
    cli("propose", "--date", R)

    outcome = cli("apply", "C001", "C004", "--format", "json")
    document = _json(outcome.out)

    assert outcome.code == 0
    assert set(document) == {"applied", "skipped"} | APPLY_EXTRA
    assert document["applied"] == ["C001"]
    assert isinstance(document["batch_id"], int)
    (skipped,) = document["skipped"]
    assert set(skipped) == {"customer_no", "why"}
    assert skipped["customer_no"] == "C004"
    assert isinstance(skipped["why"], str) and skipped["why"]


def test_apply_all_and_history_json(cli: Runner, seeded: str) -> None:
    run_id = _json(cli("propose", "--date", R, "--format", "json").out)["run_id"]
    started = datetime.now().astimezone()

    applied = cli("apply", "--all")
    document = _json(cli("history", "--format", "json").out)

    assert applied.code == 0
    assert applied.out.startswith("3 proposals applied (batch ")
    assert isinstance(document, list) and len(document) == 3
    for change in document:
        _check_keys(change, HISTORY_KEYS, HISTORY_EXTRA)
        assert change["run_id"] == run_id
        assert change["applied_by"] == "tester"
        moment = datetime.fromisoformat(change["applied_at"])
        assert moment.utcoffset() == timedelta(0)
        assert abs(moment - started) < timedelta(minutes=5)
    by_no = {c["customer_no"]: c for c in document}
    assert (by_no["C001"]["from_condition"], by_no["C001"]["to_condition"]) == (
        "STANDARD",
        "INTENSIVE",
    )
    assert by_no["C003"]["from_condition"] is None
    # Applied: the next run proposes nothing for them.
    again = _json(cli("propose", "--date", R, "--format", "json").out)
    assert again["proposals"] == []


def test_history_table_newest_first(cli: Runner, seeded: str) -> None:
    assert cli("history").out == "No changes applied yet.\n"
    cli("propose", "--date", R)
    cli("apply", "C002")
    cli("apply", "C001")

    lines = cli("history").out.splitlines()

    assert lines[0].startswith("applied at (UTC)")
    assert [line.split()[3] for line in lines[2:]] == ["C001", "C002"]


def test_apply_table_reports_skipped(cli: Runner, seeded: str) -> None:
    cli("propose", "--date", R)

    outcome = cli("apply", "C004")

    assert outcome.code == 0
    assert outcome.out.startswith("0 proposals applied, 1 skipped.")
    assert "C004" in outcome.out and "no open proposal" in outcome.out


# ---------------------------------------------------------------------------
# Refusals: status 2, one line on standard error, nothing changed

BAD_SETUPS = {
    "not TOML": "[settings\n",
    "unknown key": CUSTOM_SETUP.replace("match =", "matches ="),
    "unknown metric": CUSTOM_SETUP.replace("overdue_count", "overdue_days"),
    "undeclared condition": CUSTOM_SETUP.replace('"EASY"\n\n[[seg', '"EAZY"\n\n[[seg'),
    "out of range": CUSTOM_SETUP.replace("lookback_months = 6", "lookback_months = 0"),
}


@pytest.mark.parametrize("content", BAD_SETUPS.values(), ids=BAD_SETUPS.keys())
@pytest.mark.parametrize("command", ["setup load", "propose --setup"])
def test_a_bad_setup_file_is_refused(
    cli: Runner,
    seeded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    content: str,
) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(content, encoding="utf-8")
    before = store_rows(seeded)
    capsys.readouterr()

    err = refused(cli(*command.split(), str(file)), capsys)

    assert "bad.toml" in err
    assert store_rows(seeded) == before


REFUSED_ARGUMENTS = {
    "impossible date": ["metrics", "--date", "2024-02-30"],
    "date not ISO": ["propose", "--date", "30-06-2024"],
    "date before the range": ["propose", "--date", "0001-01-01"],
    "date after the range": ["metrics", "--date", "9999-12-31"],
    "missing setup file": ["setup", "load", "no-such-setup.toml"],
    "apply unknown customer": ["apply", "NOPE"],
    "delete unknown customer": ["delete", "C001", "NOPE"],
    "apply without selection": ["apply"],
    "delete without selection": ["delete"],
    "apply both --all and customers": ["apply", "--all", "C001"],
    "unknown format": ["proposals", "--format", "xml"],
    "--demo with a command": ["--demo", "history"],
    "unknown command": ["frobnicate"],
}


@pytest.mark.parametrize(
    "argv", REFUSED_ARGUMENTS.values(), ids=REFUSED_ARGUMENTS.keys()
)
def test_refused_arguments_exit_2_and_change_nothing(
    cli: Runner, seeded: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    cli("propose", "--date", R)
    before = store_rows(seeded)
    capsys.readouterr()

    refused(cli(*argv), capsys)

    assert store_rows(seeded) == before


def test_an_unknown_customer_is_named(
    cli: Runner, seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli("propose", "--date", R)
    capsys.readouterr()

    err = refused(cli("apply", "C001", "NOPE"), capsys)

    assert "NOPE" in err
    assert len(_json(cli("proposals", "--format", "json").out)["proposals"]) == 3


BAD_URLS = {
    "no scheme": "://",
    "unknown dialect": "nosuch://somewhere/db",
    "port not a number": "postgresql+psycopg://user@localhost:port/db",
    "driver not installed": "mysql+nodriver://user@localhost/db",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_bad_db_url_is_refused(
    run_main: MainRunner, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    err = refused(run_main(["--db", url, "history"]), capsys)

    assert "--db" in err


# ---------------------------------------------------------------------------
# The real program, as a shell runs it


def test_python_m_segment_tui_exit_status(db: str, tmp_path: Path) -> None:
    env = os.environ | {"SEGMENT_TUI_LOG_DIR": str(tmp_path / "log")}
    env.pop("SEGMENT_TUI_DB", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "segment_tui", "--db", db, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    version = run("--version")
    history = run("history", "--format", "json")
    refused_apply = run("apply")

    assert (version.returncode, version.stdout.strip()) == (0, __version__)
    assert (history.returncode, history.stdout, history.stderr) == (0, "[]\n", "")
    assert refused_apply.returncode == 2
    assert len(refused_apply.stderr.splitlines()) == 1
    assert "Traceback" not in refused_apply.stderr
    assert refused_apply.stdout == ""


# ---------------------------------------------------------------------------
# Imports (contract section 5), when the importer is there


@pytest.fixture
def importing() -> Any:
    return pytest.importorskip("segment_tui.importing")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_customers_ledger_and_reminders(
    importing: Any, cli: Runner, tmp_path: Path
) -> None:
    customers = _write(
        tmp_path / "customers.csv",
        "No;Name;Terms;Blocked\nK1;Eerste BV;STANDARD;Nee\nK2;Tweede BV;;Ja\n",
    )
    customers_map = _write(
        tmp_path / "customers.toml",
        '[source]\ndelimiter = ";"\ntrue_values = ["Ja"]\nfalse_values = ["Nee"]\n'
        '[columns]\ncustomer_no = "No"\nname = "Name"\n'
        'dunning_condition = "Terms"\nblocked = "Blocked"\n',
    )
    ledger = _write(
        tmp_path / "ledger.csv",
        "Klant;Boekdatum;Vervaldatum;Bedrag;Restant\n"
        "K1;01-01-2024;31-01-2024;1.234,50;1.234,50\n"
        "K3;01-02-2024;02-03-2024;10,00;0,00\n",
    )
    ledger_map = _write(
        tmp_path / "ledger.toml",
        '[source]\ndelimiter = ";"\ndate_format = "%d-%m-%Y"\n'
        'decimal_separator = ","\nthousands_separator = "."\n'
        '[columns]\ncustomer_no = "Klant"\nposting_date = "Boekdatum"\n'
        'due_date = "Vervaldatum"\namount = "Bedrag"\nremaining_amount = "Restant"\n',
    )
    reminders = _write(
        tmp_path / "reminders.csv", "cust,date,lvl\nK1,2024-03-01,1\nK1,2024-04-01,3\n"
    )
    reminders_map = _write(
        tmp_path / "reminders.toml",
        '[source]\ndate_format = "%Y-%m-%d"\n'
        '[columns]\ncustomer_no = "cust"\nissued_on = "date"\nlevel = "lvl"\n',
    )
    cli("init")

    results = [
        cli("import", "customers", str(customers), "--mapping", str(customers_map)),
        cli(
            "import",
            "ledger",
            str(ledger),
            "--mapping",
            str(ledger_map),
            "--condition",
            "SOFT",
        ),
        cli("import", "reminders", str(reminders), "--mapping", str(reminders_map)),
    ]
    again = cli("import", "ledger", str(ledger), "--mapping", str(ledger_map))

    assert [r.code for r in results] == [0, 0, 0], results
    assert "0 new" in again.out, again
    metrics = {
        m["customer_no"]: m
        for m in _json(cli("metrics", "--date", R, "--format", "json").out)
    }
    assert set(metrics) == {"K1", "K2", "K3"}
    assert metrics["K1"]["overdue_amount"] == Decimal("1234.50")
    assert metrics["K1"]["max_reminder_level"] == 3
    assert metrics["K2"]["blocked"] is True
    assert metrics["K3"]["open_count"] == 0


def test_a_bad_import_row_is_refused_with_its_line(
    importing: Any,
    cli: Runner,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = _write(
        tmp_path / "ledger.csv",
        "cust,posted,due,amount\nK1,2024-01-01,2024-01-31,10.00\n"
        "K1,2024-01-02,someday,10.00\n",
    )
    mapping = _write(
        tmp_path / "ledger.toml",
        '[source]\ndate_format = "%Y-%m-%d"\n[columns]\ncustomer_no = "cust"\n'
        'posting_date = "posted"\ndue_date = "due"\namount = "amount"\n',
    )
    cli("init")
    before = store_rows(str(tmp_path / "store.db"))
    capsys.readouterr()

    err = refused(
        cli("import", "ledger", str(ledger), "--mapping", str(mapping)), capsys
    )

    assert "3" in err and "someday" in err
    assert store_rows(str(tmp_path / "store.db")) == before


@pytest.mark.skipif(not IBM_CSV.is_file(), reason="real data not found")
@pytest.mark.skipif(not IBM_MAPPING.is_file(), reason="no IBM mapping")
def test_ibm_sample_import_propose_apply(importing: Any, cli: Runner) -> None:
    cli("init")

    imported = cli("import", "ledger", str(IBM_CSV), "--mapping", str(IBM_MAPPING))
    proposed = cli("propose", "--date", "2013-12-31", "--format", "json")
    applied = cli("apply", "--all", "--format", "json")
    metrics = _json(cli("metrics", "--date", "2013-12-31", "--format", "json").out)

    assert imported.code == 0, imported
    assert "2466 rows" in imported.out and "100 customers created" in imported.out
    document = _json(proposed.out)
    _check_proposals_document_at(document, "2013-12-31")
    distribution = Counter(p["segment"] for p in document["proposals"])
    result = _json(applied.out)
    assert sorted(result["applied"]) == sorted(
        p["customer_no"] for p in document["proposals"]
    )
    assert result["skipped"] == []
    by_segment = Counter(m["segment"] for m in metrics)
    message = (
        f"IBM 2013-12-31 proposals by segment: {dict(sorted(distribution.items()))}"
    )
    print(message)
    # Customers without a condition get a proposal each: all 100 of them.
    assert sum(distribution.values()) == 100, message
    assert distribution == by_segment, message
    assert len(distribution) >= 2, message


def _check_proposals_document_at(document: Any, reference: str) -> None:
    assert set(document) == {"run_id", "reference_date", "proposals"}
    assert document["reference_date"] == reference
    for proposal in document["proposals"]:
        _check_keys(proposal, PROPOSAL_KEYS)


def test_jsonout_writes_decimals_as_stored() -> None:
    """The guard under every amount above: no float on the way out."""
    text = jsonout.dumps(
        {"a": Decimal("0.10") + Decimal("0.20"), "d": date(2024, 2, 29)}
    )

    assert "0.30" in text and "0.3000" not in text
    assert _json(text) == {"a": Decimal("0.30"), "d": "2024-02-29"}
