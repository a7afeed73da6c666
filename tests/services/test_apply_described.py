"""Apply and delete of described selections: every proposal under some filters, but
for some exceptions, as the proposals page passes its marks.

The selection names no proposal, so these tests check that it picks exactly the
proposals the list shows under those filters (by customer number, name or
segment), that exceptions and stale proposals stay open, that proposals both
named and described change once, and that another operator's apply under the same
filter is reported. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update
from store_data import REFERENCE, proposed_store

from segment_tui import services
from segment_tui.services import Selection
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Customer, Proposal, SegmentChange

CUSTOMERS = 600


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    with proposed_store(db_url, CUSTOMERS) as engine:
        yield engine


def _open(engine: Engine) -> dict[str, tuple[int, str, str | None, str]]:
    """customer number: (id, segment, current condition, proposed condition)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Proposal.customer_no,
                Proposal.id,
                Proposal.segment,
                Proposal.current_condition,
                Proposal.proposed_condition,
            )
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def _history(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(SegmentChange.customer_no).order_by(SegmentChange.id)
            ).scalars()
        )


def _segment(
    proposals: dict[str, tuple[int, str, str | None, str]], code: str
) -> list[str]:
    return sorted(no for no, p in proposals.items() if p[1] == code)


def test_a_filter_with_exceptions_applies_the_rest_of_what_it_shows(
    engine: Engine,
) -> None:
    proposals = _open(engine)
    poor = _segment(proposals, "POOR")
    assert 10 < len(poor) < len(proposals)
    kept = poor[:2]
    selection = Selection(
        filters=["poor"], except_ids=[proposals[no][0] for no in kept]
    )

    counts = services.count_transitions(engine, selection)
    result = services.apply_proposals(engine, selection, "bob")

    applied = poor[2:]
    assert result.applied == applied
    assert result.applied_count == len(applied)
    assert result.skipped == []
    assert sum(counts.values()) == len(applied)
    assert counts == Counter((proposals[no][2], proposals[no][3]) for no in applied)
    assert sorted(_open(engine)) == sorted(set(proposals) - set(applied))
    assert _history(engine) == applied
    with engine.connect() as connection:
        conditions = dict(
            connection.execute(
                select(Customer.customer_no, Customer.dunning_condition)
            ).all()
        )
    assert all(conditions[no] == proposals[no][3] for no in applied)
    assert all(conditions[no] == proposals[no][2] for no in kept)


def test_several_filters_and_named_ids_change_each_customer_once(
    engine: Engine,
) -> None:
    proposals = _open(engine)
    poor = _segment(proposals, "POOR")
    by_number = sorted(no for no in proposals if "C00001" in no)
    # Named as well as shown by a filter: still one change.
    also_named = [poor[0], by_number[0], sorted(proposals)[-1]]
    selection = Selection(
        filters=["POOR", "c00001"],
        proposal_ids=[proposals[no][0] for no in also_named],
    )

    result = services.apply_proposals(engine, selection, "ann")

    expected = sorted(set(poor) | set(by_number) | set(also_named))
    assert result.applied == expected
    assert sorted(_history(engine)) == expected
    assert sorted(_open(engine)) == sorted(set(proposals) - set(expected))


def test_stale_proposals_under_a_filter_are_skipped_and_stay_open(
    engine: Engine,
) -> None:
    proposals = _open(engine)
    every = sorted(proposals)
    stale = every[3:300:97]
    with write_transaction(engine) as connection:
        for no in stale:
            current = proposals[no][2]
            connection.execute(
                update(Customer)
                .where(Customer.customer_no == no)
                .values(dunning_condition="SOFT" if current != "SOFT" else "STRICT")
            )
    excepted = every[0]

    result = services.apply_proposals(
        engine,
        Selection(filters=[""], except_ids=[proposals[excepted][0]]),
        "bob",
        name_applied=False,
    )

    assert result.applied == []
    assert result.applied_count == len(every) - len(stale) - 1
    assert [s.customer_no for s in result.skipped] == stale
    assert all("since the proposal was made" in s.why for s in result.skipped)
    assert sorted(_open(engine)) == sorted([excepted, *stale])
    assert len(_history(engine)) == result.applied_count


def test_everything_without_exceptions_is_every_open_proposal(
    engine: Engine,
) -> None:
    proposals = _open(engine)

    counts = services.count_transitions(engine, Selection(filters=["", "poor"]))
    result = services.apply_proposals(engine, Selection(filters=["", "poor"]), "bob")

    assert sum(counts.values()) == len(proposals)
    assert result.applied == sorted(proposals)
    assert _open(engine) == {}
    assert _history(engine) == sorted(proposals)


def test_apply_of_a_replaced_run_is_refused(engine: Engine) -> None:
    with engine.connect() as connection:
        run = services.latest_run(connection)
    assert run is not None
    services.create_proposals(engine, REFERENCE, "someone else")
    before = _open(engine)

    with pytest.raises(services.InputError, match="has replaced them"):
        services.apply_proposals(
            engine, Selection(filters=[""]), "bob", expected_run_id=run.run_id
        )

    assert _open(engine) == before
    assert _history(engine) == []


def test_another_operators_apply_under_the_filter_is_reported(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposals = _open(engine)
    poor = _segment(proposals, "POOR")
    prompt = _segment(proposals, "PROMPT")
    selection = Selection(filters=["poor"], except_ids=[proposals[poor[1]][0]])
    # What this apply sees before it waits for the store; then another operator
    # applies two shown proposals, the excepted one and one the filter hides.
    seen = services._seen_before_waiting(engine, selection)
    others = [poor[0], poor[1], poor[2], prompt[0]]
    services.apply_proposals(engine, Selection(customer_nos=others), "carol")
    monkeypatch.setattr(services, "_seen_before_waiting", lambda *_args: seen)

    result = services.apply_proposals(engine, selection, "bob")

    assert [s.customer_no for s in result.skipped] == [poor[0], poor[2]]
    assert all("already applied by carol" in s.why for s in result.skipped)
    assert result.applied == poor[3:]


def test_delete_a_filter_with_exceptions(engine: Engine) -> None:
    proposals = _open(engine)
    poor = _segment(proposals, "POOR")
    kept = poor[5]

    deleted = services.delete_proposals(
        engine, Selection(filters=["poor"], except_ids=[proposals[kept][0]])
    )

    assert deleted == len(poor) - 1
    left = _open(engine)
    assert sorted(left) == sorted(set(proposals) - set(poor) | {kept})
    assert _history(engine) == []
    assert services.delete_proposals(engine, Selection(filters=[""])) == len(left)
    assert _open(engine) == {}


def test_references_hold_after_an_apply_of_everything(engine: Engine) -> None:
    services.apply_proposals(engine, Selection(filters=[""]), "bob")

    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        assert broken == []
