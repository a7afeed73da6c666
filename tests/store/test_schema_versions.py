"""Schema versions: a new store is created at the newest version, an older one upgraded
with its data kept, a newer one refused; the models match the newest version.

Each test runs on SQLite and on PostgreSQL. The older store comes from a committed
fixture on SQLite (tests/data/old_schema_v1.sql) and, on PostgreSQL, from upgrading an
empty database to version 0001 and writing the same rows into it.
"""

from __future__ import annotations

import io
import sqlite3
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, select, text
from sqlalchemy.engine import make_url

from segment_tui import services
from segment_tui.cli import main
from segment_tui.errors import InputError
from segment_tui.rules.setup import parse_setup
from segment_tui.store import schema
from segment_tui.store.engine import create_schema, make_engine, write_transaction
from segment_tui.store.models import (
    Base,
    Customer,
    LedgerEntry,
    Reminder,
    include_object,
)
from segment_tui.store.proposal_source import SORT_COLUMNS

REPO = Path(__file__).resolve().parents[2]
OLD_SCHEMA_SQL = REPO / "tests" / "data" / "old_schema_v1.sql"
REASON = [
    {
        "condition": "late_ratio >= 0.5",
        "metric": "late_ratio",
        "op": ">=",
        "threshold": 0.5,
        "value": 1,
    }
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_to(engine: Engine, revision: str) -> None:
    with write_transaction(engine, schema_change=True) as connection:
        command.upgrade(schema.alembic_config(connection), revision)


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": include_object(connection.dialect.name),
            },
        )
        return list(compare_metadata(context, Base.metadata))


def test_an_empty_store_is_created_at_the_newest_version(engine: Engine) -> None:
    create_schema(engine)

    with engine.connect() as connection:
        assert schema.stored_revisions(connection) == (schema.head_revision(),)


def test_the_models_match_the_newest_version(engine: Engine) -> None:
    create_schema(engine)

    assert differences(engine) == []


def test_creating_the_schema_twice_changes_nothing(engine: Engine) -> None:
    create_schema(engine)
    services.initialise(engine, "tester")

    create_schema(engine)

    with engine.connect() as connection:
        assert services.current_setup(connection) is not None
    assert differences(engine) == []


def test_every_version_downgrades_and_upgrades_again(engine: Engine) -> None:
    create_schema(engine)

    with write_transaction(engine, schema_change=True) as connection:
        command.downgrade(schema.alembic_config(connection), "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    create_schema(engine)

    assert differences(engine) == []


# --- A store made by the first version ----------------------------------------------


def write_first_version_store(engine: Engine, db_url: str) -> None:
    """Schema version 0001 with a few rows of every kind."""
    if make_url(db_url).get_backend_name() == "sqlite":
        engine.dispose()
        with sqlite3.connect(make_url(db_url).database or "") as connection:
            connection.executescript(OLD_SCHEMA_SQL.read_text("utf-8"))
        return

    upgrade_to(engine, "0001")
    setup_toml = _setup_toml_of_fixture()
    at = datetime(2024, 6, 30, 8, 5, tzinfo=UTC)
    rows = {
        "dunning_condition": [
            {"code": "SOFT", "description": "Friendly reminder after 14 days"},
            {"code": "STRICT", "description": "Reminder after 3 days, early hand-over"},
        ],
        "setup_version": [
            {
                "id": 1,
                "created_at": datetime(2024, 6, 1, 9, tzinfo=UTC),
                "created_by": "anna",
                "source": "team.toml",
                "toml": setup_toml,
                "trial": False,
            }
        ],
        "customer": [
            _customer("C001", "Anna Bakker", "SOFT", "PROMPT", blocked=False),
            _customer("C002", "Bram de Vries", "STRICT", "POOR", blocked=False),
            _customer("C003", "Cas Jansen", None, None, blocked=True),
        ],
        "ledger_entry": [
            _invoice(1, "C001", date(2024, 1, 10), "123.45", None, date(2024, 2, 20)),
            _invoice(2, "C003", date(2024, 3, 1), "500.00", "250.00", None),
        ],
        "reminder": [
            {"id": 1, "customer_no": "C003", "issued_on": date(2024, 4, 1), "level": 1}
        ],
        "proposal_run": [
            {
                "id": 1,
                "reference_date": date(2024, 6, 30),
                "setup_version_id": 1,
                "created_at": datetime(2024, 6, 30, 8, tzinfo=UTC),
                "created_by": "anna",
                "customer_count": 3,
                "proposal_count": 2,
                "excluded_count": 1,
                "unmatched_count": 0,
                "duration_ms": 12,
            }
        ],
        "proposal": [
            {
                "id": 1,
                "run_id": 1,
                "customer_no": "C001",
                "current_condition": "SOFT",
                "segment": "POOR",
                "proposed_condition": "STRICT",
                "reason": REASON,
                "overdue_amount": Decimal("0"),
                "late_ratio": Decimal("1.0"),
            }
        ],
        "apply_batch": [
            {
                "id": 1,
                "applied_at": at,
                "applied_by": "anna",
                "applied_count": 1,
                "skipped_count": 0,
            }
        ],
        "segment_change": [
            {
                "id": 1,
                "batch_id": 1,
                "run_id": 1,
                "customer_no": "C002",
                "from_condition": "SOFT",
                "to_condition": "STRICT",
                "from_segment": "PROMPT",
                "segment": "POOR",
                "reason": REASON,
                "applied_at": at,
                "applied_by": "anna",
            }
        ],
    }
    with write_transaction(engine) as connection:
        # The tables as version 0001 made them, not as the models describe them now.
        tables = MetaData()
        tables.reflect(connection)
        for name, records in rows.items():
            connection.execute(tables.tables[name].insert(), records)
        # Explicit ids leave PostgreSQL's sequences behind; move them on.
        for name in rows:
            if name in ("dunning_condition", "customer"):
                continue
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )
            )


def _setup_toml_of_fixture() -> str:
    """The setup text stored in the SQLite fixture, so that both stores hold it."""
    sql = OLD_SCHEMA_SQL.read_text("utf-8")
    start = sql.index("'[settings]") + 1
    return sql[start : sql.index("', 0);", start)]


def _customer(
    number: str, name: str, condition: str | None, segment: str | None, blocked: bool
) -> dict[str, object]:
    return {
        "customer_no": number,
        "name": name,
        "dunning_condition": condition,
        "segment": segment,
        "blocked": blocked,
        "segmentation_blocked": False,
        "payment_arrangement": False,
        "debt_restructuring": False,
        "handed_over": False,
    }


def _invoice(
    entry_id: int,
    customer_no: str,
    posted: date,
    amount: str,
    remaining: str | None,
    closed: date | None,
) -> dict[str, object]:
    return {
        "id": entry_id,
        "customer_no": customer_no,
        "entry_key": f"INV-{entry_id}",
        "document_no": f"INV-{entry_id}",
        "posting_date": posted,
        "due_date": date.fromordinal(posted.toordinal() + 14),
        "amount": Decimal(amount),
        "remaining_amount": None if remaining is None else Decimal(remaining),
        "closed_at": closed,
        "disputed": customer_no == "C003",
        "on_hold": False,
    }


def test_a_store_of_the_first_version_keeps_its_data_after_an_upgrade(
    engine: Engine, db_url: str
) -> None:
    write_first_version_store(engine, db_url)
    engine = make_engine(db_url)

    create_schema(engine)

    with engine.connect() as connection:
        assert schema.stored_revisions(connection) == (schema.head_revision(),)
        customers = connection.execute(
            select(
                Customer.customer_no, Customer.name, Customer.dunning_condition
            ).order_by(Customer.customer_no)
        ).all()
        ledger = connection.execute(
            select(
                LedgerEntry.posting_date,
                LedgerEntry.due_date,
                LedgerEntry.amount,
                LedgerEntry.remaining_amount,
                LedgerEntry.closed_at,
                LedgerEntry.disputed,
            ).order_by(LedgerEntry.id)
        ).all()
        reminder = connection.execute(select(Reminder.issued_on)).scalar_one()
        _, setup = services.require_setup(connection)
        run = services.latest_run(connection)
    assert [tuple(c) for c in customers] == [
        ("C001", "Anna Bakker", "SOFT"),
        ("C002", "Bram de Vries", "STRICT"),
        ("C003", "Cas Jansen", None),
    ]
    assert [tuple(e) for e in ledger] == [
        (date(2024, 1, 10), date(2024, 1, 24), Decimal("123.45"), None,
         date(2024, 2, 20), False),
        (date(2024, 3, 1), date(2024, 3, 15), Decimal("500.00"), Decimal("250.00"),
         None, True),
    ]  # fmt: skip
    assert reminder == date(2024, 4, 1)
    assert [s.code for s in setup.segment] == ["POOR", "PROMPT"]
    assert run is not None and run.reference_date == date(2024, 6, 30)
    [proposal] = services.list_proposals(engine)
    assert (proposal.customer_no, proposal.customer_name) == ("C001", "Anna Bakker")
    assert proposal.reason == REASON
    [change] = services.history(engine)
    assert (change.customer_no, change.from_condition, change.to_condition) == (
        "C002",
        "SOFT",
        "STRICT",
    )
    assert change.applied_by == "anna"
    assert change.applied_at == datetime(2024, 6, 30, 8, 5, tzinfo=UTC)
    assert differences(engine) == []

    # The upgraded store goes on working: the open proposal is applied.
    result = services.apply_proposals(engine, services.Selection.everything(), "bram")
    assert result.applied == ["C001"]
    assert [c.customer_no for c in services.history(engine)] == ["C001", "C002"]
    engine.dispose()


def test_a_store_from_before_schema_versions_is_adopted(engine: Engine) -> None:
    upgrade_to(engine, "0001")
    setup = parse_setup(services.default_setup_text(), "the default setup")
    with write_transaction(engine) as connection:
        services.store_setup(connection, setup, "default setup", "tester")
        connection.execute(text("DROP TABLE alembic_version"))

    create_schema(engine)

    with engine.connect() as connection:
        assert schema.stored_revisions(connection) == (schema.head_revision(),)
        assert services.current_setup(connection) is not None
    assert differences(engine) == []


def test_a_database_with_only_some_of_the_tables_is_refused(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        connection.execute(text("CREATE TABLE customer (customer_no VARCHAR(40))"))

    with pytest.raises(InputError, match="some of segment-tui's tables but not"):
        create_schema(engine)

    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["customer"]


def test_a_store_made_by_a_newer_version_is_refused(engine: Engine) -> None:
    create_schema(engine)
    with write_transaction(engine) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))

    with pytest.raises(InputError) as refused:
        create_schema(engine)

    assert str(refused.value) == (
        "this store was made by a newer segment-tui (schema 0999); upgrade segment-tui"
    )
    with engine.connect() as connection:
        assert schema.stored_revisions(connection) == ("0999",)


# --- Keys of repeated document numbers (schema 0007) -------------------------------


def test_repeated_documents_are_keyed_as_an_import_now_keys_them(
    engine: Engine,
) -> None:
    # What an import before 0007 stored for C1's rows A#3, A, A, A, A#2: the
    # repeats of A numbered "doc:A#2" and, A#3 being taken, "doc:A#4"; the
    # document A#2 moved to "doc:A#2#2". C2's A and an entry keyed otherwise (as
    # the demo does) are left alone.
    upgrade_to(engine, "0006")
    old = [
        (1, "C1", "A#3", "doc:A#3"),
        (2, "C1", "A", "doc:A"),
        (3, "C1", "A", "doc:A#2"),
        (4, "C1", "A", "doc:A#4"),
        (5, "C1", "A#2", "doc:A#2#2"),
        (6, "C2", "A", "doc:A"),
        (7, "C2", "INV-7", "INV-7"),
        (8, "C2", "1%_", "doc:1%_#2"),
        (9, "C2", "1%_", "doc:1%_"),
    ]
    with write_transaction(engine) as connection:
        connection.execute(
            Customer.__table__.insert(),
            [_customer(no, no, None, None, False) for no in ("C1", "C2")],
        )
        connection.execute(
            LedgerEntry.__table__.insert(),
            [
                _invoice(entry_id, customer_no, date(2024, 1, 2), "1.00", None, None)
                | {"document_no": document_no, "entry_key": key}
                for entry_id, customer_no, document_no, key in old
            ],
        )

    create_schema(engine)

    with engine.connect() as connection:
        keys = dict(
            connection.execute(select(LedgerEntry.id, LedgerEntry.entry_key)).all()
        )
    assert keys == {
        1: "doc:A#3",
        2: "doc:A",
        3: "dup:A#2",
        4: "dup:A#3",
        5: "doc:A#2",
        6: "doc:A",
        7: "INV-7",
        8: "dup:1%_#2",
        9: "doc:1%_",
    }


# --- Indexes for the proposals list ---------------------------------------------


SORTED_BY = {
    "segment": ["segment"],
    "proposed_condition": ["proposed_condition", "current_condition"],
    "overdue_amount": ["overdue_amount"],
    "late_ratio": ["late_ratio"],
}
"""The list's sorts (`proposal_source.SORT_COLUMNS`) that an index serves, and the
index's columns but the id."""


def sort_index(engine: Engine, sort_key: str) -> str:
    """The name of the index that serves a sort: it says whether the id is in it."""
    with_id = engine.dialect.name != "sqlite"
    return f"ix_proposal_{sort_key}" + ("_id" if with_id else "")


def test_the_sort_indexes_hold_the_id_only_where_the_order_needs_it(
    engine: Engine,
) -> None:
    # SQLite ends every index with the rowid, which the proposal id is.
    create_schema(engine)

    with engine.connect() as connection:
        found = inspect(connection).get_indexes("proposal")

    indexes = {index["name"]: index["column_names"] for index in found}
    id_column = [] if engine.dialect.name == "sqlite" else ["id"]
    assert {
        sort_index(engine, key): [*columns, *id_column]
        for key, columns in SORTED_BY.items()
    }.items() <= indexes.items()


@pytest.mark.parametrize("sort_key", sorted(SORTED_BY))
def test_a_page_of_sorted_proposals_is_read_from_an_index(
    engine: Engine, sort_key: str
) -> None:
    create_schema(engine)
    order = ", ".join(str(column) for column in SORT_COLUMNS[sort_key])
    queries = [
        "SELECT proposal.id, customer.name FROM proposal JOIN customer "
        "ON customer.customer_no = proposal.customer_no "
        f"ORDER BY {order}, proposal.id LIMIT 50",
        # The page's End key reads the last page in the opposite order.
        "SELECT proposal.id, customer.name FROM proposal JOIN customer "
        "ON customer.customer_no = proposal.customer_no "
        f"ORDER BY {order.replace(',', ' DESC,')} DESC, proposal.id DESC LIMIT 50",
    ]

    for query in queries:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
            else:
                # An empty table is cheaper to sort than to scan an index; forbid
                # the sort to learn whether an index can give this order at all.
                connection.exec_driver_sql("SET enable_sort = off")
                plan = connection.exec_driver_sql(f"EXPLAIN {query}").all()

        steps = " ".join(str(step) for step in plan)
        assert sort_index(engine, sort_key) in steps, query
        assert "TEMP B-TREE" not in steps, query


def test_customer_names_are_indexed(engine: Engine) -> None:
    create_schema(engine)

    with engine.connect() as connection:
        indexes = inspect(connection).get_indexes("customer")

    assert {"name": "ix_customer_name", "column_names": ["name"]}.items() <= next(
        i for i in indexes if i["name"] == "ix_customer_name"
    ).items()


def test_the_apply_dialog_counts_changes_from_an_index(engine: Engine) -> None:
    # What the dialog asks before an apply of every proposal: no proposal row and
    # no temporary tree is read, only the index of the proposed condition's sort.
    create_schema(engine)
    query = (
        "SELECT current_condition, proposed_condition, count(*) FROM proposal "
        "GROUP BY proposed_condition, current_condition"
    )

    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_sort = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {query}").all()

    steps = " ".join(str(step) for step in plan)
    assert sort_index(engine, "proposed_condition") in steps
    assert "TEMP B-TREE" not in steps


# --- Packaging ---------------------------------------------------------------------


def test_the_migrations_ship_as_package_data() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["segment_tui"]
    package = REPO / "segment_tui"
    files = [
        path.relative_to(package).as_posix()
        for path in (package / "store" / "migrations").rglob("*.py")
    ]

    assert "store/migrations/env.py" in files
    assert "store/migrations/versions/0001_initial.py" in files
    unshipped = [f for f in files if not any(fnmatch(f, p) for p in patterns)]
    assert unshipped == []


# --- Through the command line ------------------------------------------------------


def cli(db_url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--db", db_url, *args], out=out), out.getvalue()


def test_init_says_it_upgraded_an_older_store(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path / "log"))
    write_first_version_store(engine, db_url)
    engine.dispose()

    status, out = cli(db_url, "init")

    assert (status, out) == (
        0,
        f"Schema upgraded from version 0001 to {schema.head_revision()}; the stored "
        "setup was kept.\n",
    )
    assert (
        "schema upgraded from 0001"
        in (tmp_path / "log" / "segment-tui.log").read_text()
    )
    assert cli(db_url, "init") == (
        0,
        "Schema is up to date; the stored setup was kept.\n",
    )


def test_every_command_refuses_a_store_made_by_a_newer_version(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(tmp_path / "log"))
    create_schema(engine)
    with write_transaction(engine) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()

    for args in (["init"], ["proposals"], ["apply", "--all"]):
        assert cli(db_url, *args) == (2, "")
        assert capsys.readouterr().err == (
            "segment-tui: this store was made by a newer segment-tui (schema 0999); "
            "upgrade segment-tui\n"
        )
