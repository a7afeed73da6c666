"""The whole cycle through the command line, on SQLite and on a PostgreSQL server.

`--db` takes either database's URL and every command behaves the same on both: init,
setup load, propose, proposals, delete, apply, history and metrics.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from store_data import REFERENCE, fill

from segment_tui.cli import main
from segment_tui.store.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "data" / "segments.toml"
CUSTOMERS = 40


@pytest.fixture(autouse=True)
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "log"
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(folder))
    monkeypatch.delenv("SEGMENT_TUI_DB", raising=False)
    return folder


def run(db_url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["--db", db_url, "--operator", "anna", *args], out=out)
    return status, out.getvalue()


def run_json(db_url: str, *args: str) -> Any:
    status, text = run(db_url, *args, "--format", "json")
    assert status == 0, text
    return json.loads(text)


def test_the_cycle_works_on_both_databases(db_url: str) -> None:
    status, text = run(db_url, "init")
    assert (status, text) == (0, "Schema created; default setup stored.\n")
    assert (
        run(db_url, "init")[1] == "Schema is up to date; the stored setup was kept.\n"
    )
    status, text = run(db_url, "setup", "load", str(SETUP))
    assert status == 0 and text.startswith("Setup version 2 stored: 4 segments")
    engine = make_engine(db_url)
    fill(engine, CUSTOMERS)
    engine.dispose()

    created = run_json(db_url, "propose", "--date", REFERENCE.isoformat())
    listed = run_json(db_url, "proposals")
    assert listed == created
    numbers = [p["customer_no"] for p in listed["proposals"]]
    assert len(numbers) > 10
    assert listed["reference_date"] == REFERENCE.isoformat()

    assert run(db_url, "delete", numbers[0]) == (0, "1 proposal deleted.\n")
    status, text = run(db_url, "apply", numbers[1])
    assert (status, text.splitlines()[0]) == (
        0,
        "1 proposal applied (batch 1), 0 skipped.",
    )
    applied = run_json(db_url, "apply", "--all")
    assert applied["applied"] == numbers[2:]
    assert applied["skipped"] == []
    assert run_json(db_url, "proposals")["proposals"] == []

    history = run_json(db_url, "history")
    assert sorted(h["customer_no"] for h in history) == sorted(numbers[1:])
    assert {h["applied_by"] for h in history} == {"anna"}
    assert {h["run_id"] for h in history} == {listed["run_id"]}
    by_customer = {p["customer_no"]: p for p in listed["proposals"]}
    for change in history:
        proposal = by_customer[change["customer_no"]]
        assert change["from_condition"] == proposal["current_condition"]
        assert change["to_condition"] == proposal["proposed_condition"]
        assert change["applied_at"].endswith("+00:00")

    metrics = run_json(db_url, "metrics", "--date", REFERENCE.isoformat())
    assert len(metrics) == CUSTOMERS
    status, text = run(
        db_url, "metrics", "--date", REFERENCE.isoformat(), "--format", "csv"
    )
    assert status == 0 and len(text.splitlines()) == CUSTOMERS + 1
    status, text = run(db_url, "history")
    assert status == 0 and len(text.splitlines()) == len(history) + 2

    # A new run proposes nothing for the customers that were just changed.
    again = run_json(db_url, "propose", "--date", REFERENCE.isoformat())
    assert [p["customer_no"] for p in again["proposals"]] == [numbers[0]]
