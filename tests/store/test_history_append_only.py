"""The history is append-only, and records who changed what, when, from which run, why.

Triggers that the migrations create refuse every UPDATE and DELETE of a
segment_change row (and TRUNCATE on PostgreSQL), whatever program asks; and no code
in the package writes such a statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from store_data import REFERENCE, fill

from segment_tui import services
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.store.models import SegmentChange

PACKAGE = Path(__file__).resolve().parents[2] / "segment_tui"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    services.initialise(engine, "tester")
    fill(engine, 20)
    services.create_proposals(engine, REFERENCE, "tester")
    try:
        yield engine
    finally:
        engine.dispose()


def history_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(SegmentChange.__table__).order_by(SegmentChange.id)
            )
        ]


def test_a_change_records_operator_time_run_conditions_and_reason(
    engine: Engine,
) -> None:
    [proposal, *_] = services.list_proposals(engine)
    started = datetime.now(UTC)

    services.apply_proposals(
        engine, services.Selection(customer_nos=[proposal.customer_no]), "anna"
    )

    [change] = services.history(engine)
    assert change.applied_by == "anna"
    assert change.applied_at.tzinfo is not None
    assert started - timedelta(seconds=1) <= change.applied_at <= datetime.now(UTC)
    assert change.run_id == proposal.run_id
    assert (change.from_condition, change.to_condition, change.segment) == (
        proposal.current_condition,
        proposal.proposed_condition,
        proposal.segment,
    )
    assert change.reason == proposal.reason


@pytest.mark.parametrize(
    "statement",
    [
        update(SegmentChange).values(to_condition="SOFT"),
        update(SegmentChange).values(applied_by="someone else"),
        delete(SegmentChange),
    ],
    ids=["update-condition", "update-operator", "delete"],
)
def test_changing_or_removing_history_is_refused(
    engine: Engine, statement: object
) -> None:
    services.apply_proposals(engine, services.Selection.everything(), "anna")
    before = history_rows(engine)
    assert before

    refused = pytest.raises(DBAPIError, match="segment_change is append-only")
    with refused, write_transaction(engine) as connection:
        connection.execute(statement)  # type: ignore[call-overload]

    assert history_rows(engine) == before


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_truncating_history_is_refused_on_postgresql(engine: Engine) -> None:
    services.apply_proposals(engine, services.Selection.everything(), "anna")

    refused = pytest.raises(DBAPIError, match="segment_change is append-only")
    with refused, write_transaction(engine) as connection:
        connection.execute(text("TRUNCATE segment_change CASCADE"))

    with engine.connect() as connection:
        count = select(func.count()).select_from(SegmentChange)
        assert connection.execute(count).scalar_one() > 0


def test_history_grows_with_every_apply(engine: Engine) -> None:
    first, second, *_ = services.list_proposals(engine)

    for proposal in (first, second):
        services.apply_proposals(
            engine, services.Selection(customer_nos=[proposal.customer_no]), "anna"
        )

    assert [c.customer_no for c in services.history(engine)] == [
        second.customer_no,
        first.customer_no,
    ]


def test_no_code_in_the_package_updates_or_deletes_history() -> None:
    writes = re.compile(
        r"(update|delete)\(\s*SegmentChange|(UPDATE|DELETE FROM)\s+segment_change",
        re.IGNORECASE,
    )
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and writes.search(path.read_text("utf-8"))
    ]

    assert offenders == []
