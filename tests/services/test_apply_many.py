"""Apply and delete of many proposals at once, set-based, on SQLite and PostgreSQL.

Thousands of proposals selected by id (as the proposals page marks them), by
customer number and all at once: each applied customer changes once, with its
history row copied from the proposal, the stale ones are skipped in the middle of
the selection, and nothing of the operation's temporary tables stays behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, select, update
from store_data import proposed_store

from segment_tui import services
from segment_tui.services import Selection
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Customer, Proposal, SegmentChange

CUSTOMERS = 2_400


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    with proposed_store(db_url, CUSTOMERS) as engine:
        yield engine


def _open(engine: Engine) -> dict[str, tuple[int, str, str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Proposal.customer_no,
                Proposal.id,
                Proposal.proposed_condition,
                Proposal.segment,
                Proposal.reason,
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]


def _no_temporary_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        names = inspect(connection).get_temp_table_names() if _sqlite(engine) else []
    assert names == []


def _sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def test_thousands_by_id_with_stale_ones_among_them(engine: Engine) -> None:
    proposals = _open(engine)
    assert len(proposals) > 1_000
    chosen = sorted(proposals)[: len(proposals) - 10]
    stale = chosen[5::400]
    with write_transaction(engine) as connection:
        for no in stale:
            # Another operator gives these customers another condition meanwhile.
            current = connection.execute(
                select(Customer.dunning_condition).where(Customer.customer_no == no)
            ).scalar_one()
            connection.execute(
                update(Customer)
                .where(Customer.customer_no == no)
                .values(dunning_condition="SOFT" if current != "SOFT" else "STRICT")
            )
    ids = [proposals[no][0] for no in chosen]

    result = services.apply_proposals(
        engine, Selection(proposal_ids=ids + ids[:50]), "bob"
    )

    applied = [no for no in chosen if no not in stale]
    assert result.applied == applied
    assert [s.customer_no for s in result.skipped] == stale
    assert all("since the proposal was made" in s.why for s in result.skipped)
    left = _open(engine)
    assert sorted(left) == sorted(set(proposals) - set(applied))
    with engine.connect() as connection:
        customers = dict(
            connection.execute(
                select(Customer.customer_no, Customer.dunning_condition)
            ).all()
        )
        changes = list(
            connection.execute(
                select(SegmentChange).order_by(SegmentChange.id)
            ).mappings()
        )
    assert [c["customer_no"] for c in changes] == applied
    for change in changes:
        _, to_condition, segment, reason = proposals[change["customer_no"]]
        assert customers[change["customer_no"]] == to_condition
        assert (change["to_condition"], change["segment"]) == (to_condition, segment)
        assert change["reason"] == reason
        assert change["batch_id"] == result.batch_id
        assert change["applied_by"] == "bob"
    _no_temporary_tables(engine)


def test_by_customer_number_and_all(engine: Engine) -> None:
    proposals = _open(engine)
    first = sorted(proposals)[:700]

    one = services.apply_proposals(engine, Selection(customer_nos=first), "ann")
    rest = services.apply_proposals(engine, Selection.everything(), "bob")

    assert one.applied == first
    assert rest.applied == sorted(set(proposals) - set(first))
    assert rest.skipped == []
    assert _open(engine) == {}
    _no_temporary_tables(engine)


def test_delete_thousands_by_id_and_all(engine: Engine) -> None:
    proposals = _open(engine)
    ids = [proposals[no][0] for no in sorted(proposals)[:1_500]]

    assert services.delete_proposals(engine, Selection(proposal_ids=ids)) == 1_500
    assert len(_open(engine)) == len(proposals) - 1_500
    assert services.delete_proposals(engine, Selection.everything()) == (
        len(proposals) - 1_500
    )
    assert _open(engine) == {}
    _no_temporary_tables(engine)
