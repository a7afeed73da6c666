"""An operator acting on proposals of a run that another has replaced is told so.

The screens pass the run they show as `expected_run_id`; when a newer run has
replaced those proposals, apply and delete refuse, change nothing, and say which run
replaced them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from store_data import OPERATOR, REFERENCE, fill

from segment_tui import services
from segment_tui.errors import InputError
from segment_tui.store.engine import make_engine
from segment_tui.store.models import Proposal, SegmentChange


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    services.initialise(engine, OPERATOR)
    fill(engine, 30)
    try:
        yield engine
    finally:
        engine.dispose()


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            connection.execute(select(func.count()).select_from(Proposal)).scalar_one(),
            connection.execute(
                select(func.count()).select_from(SegmentChange)
            ).scalar_one(),
        )


def test_applying_proposals_of_a_replaced_run_is_refused(engine: Engine) -> None:
    shown = services.create_proposals(engine, REFERENCE, "anna")
    ids = [p.id for p in services.list_proposals(engine)]
    newer = services.create_proposals(engine, REFERENCE, "bram")
    before = counts(engine)

    with pytest.raises(InputError) as refused:
        services.apply_proposals(
            engine,
            services.Selection(proposal_ids=ids),
            "anna",
            expected_run_id=shown.run_id,
        )

    assert str(refused.value) == (
        f"these proposals come from run {shown.run_id}; run {newer.run_id} has "
        "replaced them since: reload the proposals"
    )
    assert counts(engine) == before


def test_deleting_proposals_of_a_replaced_run_is_refused(engine: Engine) -> None:
    shown = services.create_proposals(engine, REFERENCE, "anna")
    services.create_proposals(engine, REFERENCE, "bram")
    before = counts(engine)

    with pytest.raises(InputError, match="reload the proposals"):
        services.delete_proposals(
            engine, services.Selection.everything(), expected_run_id=shown.run_id
        )

    assert counts(engine) == before


def test_proposals_of_the_newest_run_are_applied_and_deleted(engine: Engine) -> None:
    run = services.create_proposals(engine, REFERENCE, "anna")
    first, second, *rest = services.list_proposals(engine)

    deleted = services.delete_proposals(
        engine, services.Selection(proposal_ids=[first.id]), expected_run_id=run.run_id
    )
    result = services.apply_proposals(
        engine,
        services.Selection(proposal_ids=[second.id]),
        "anna",
        expected_run_id=run.run_id,
    )

    assert deleted == 1
    assert result.applied == [second.customer_no]
    assert counts(engine) == (len(rest), 1)


def test_a_customer_applied_before_is_skipped_with_the_reason(engine: Engine) -> None:
    services.create_proposals(engine, REFERENCE, "anna")
    proposal = services.list_proposals(engine)[0]
    services.apply_proposals(
        engine, services.Selection(customer_nos=[proposal.customer_no]), "anna"
    )

    again = services.apply_proposals(
        engine, services.Selection(customer_nos=[proposal.customer_no]), "bram"
    )

    assert again.applied == []
    assert [(s.customer_no, s.why) for s in again.skipped] == [
        (proposal.customer_no, "no open proposal for this customer")
    ]
