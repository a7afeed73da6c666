"""How a proposal run writes: the same proposals by every path, indexes kept, only
the difference written, and all or nothing even though SQLite's run may rebuild the
proposal indexes.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import inspect

from segment_tui import services
from segment_tui.store import proposal_writer
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Proposal

if TYPE_CHECKING:
    from tests.services.conftest import CycleStore


def _indexes(cycle: CycleStore) -> list[dict[str, Any]]:
    with cycle.engine.connect() as connection:
        found = inspect(connection).get_indexes("proposal")
    return sorted(found, key=lambda index: str(index["name"]))


def _proposals(cycle: CycleStore) -> list[tuple[Any, ...]]:
    """The open proposals without their ids and run, which differ between runs."""
    return [
        (p.customer_no, p.current_condition, p.segment, p.proposed_condition)
        + (p.reason, p.overdue_amount, p.late_ratio)
        for p in services.list_proposals(cycle.engine)
    ]


def test_a_run_keeps_the_proposal_indexes(cycle: CycleStore) -> None:
    before = _indexes(cycle)
    assert {"segment", "late_ratio"} <= {index["column_names"][0] for index in before}

    cycle.propose()
    cycle.propose()

    assert _indexes(cycle) == before


def test_a_second_process_reads_the_same_proposals(
    cycle: CycleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle.propose()
    here = _proposals(cycle)
    monkeypatch.setattr(services, "READ_AHEAD_FROM", 0)

    cycle.propose()

    assert _proposals(cycle) == here
    assert len(here) == len(cycle.expected)


def test_a_run_that_fails_midway_leaves_proposals_and_indexes(
    cycle: CycleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle.propose()
    before = cycle.snapshot()
    indexes = _indexes(cycle)
    finish = proposal_writer.ProposalWriter.finish

    def index_then_fail(self: proposal_writer.ProposalWriter) -> int:
        # Every proposal is written when this raises.
        finish(self)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(proposal_writer.ProposalWriter, "finish", index_then_fail)

    with pytest.raises(RuntimeError, match="disk is full"):
        cycle.propose()

    assert cycle.snapshot() == before
    assert _indexes(cycle) == indexes


def test_more_proposals_than_a_batch(
    cycle: CycleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposal_writer, "BATCH", 2)

    summary = cycle.propose()

    assert summary.proposal_count == len(cycle.expected)
    assert [p[0] for p in _proposals(cycle)] == sorted(cycle.expected)


def _open_rows(cycle: CycleStore) -> dict[str, Any]:
    return {row.customer_no: row for row in cycle.rows(Proposal)}


def test_a_run_keeps_an_unchanged_proposal_and_replaces_the_others(
    cycle: CycleStore,
) -> None:
    first = cycle.propose()
    before = _open_rows(cycle)
    # C002 has become STRICT, its proposal meanwhile: no proposal now. C003 has a
    # condition now: the same proposal, from another current condition. C006 is no
    # longer handed over: a proposal it did not have.
    cycle.set_customer("C002", dunning_condition="STRICT")
    cycle.set_customer("C003", dunning_condition="SOFT")
    cycle.set_customer("C006", handed_over=False)

    second = cycle.propose()

    after = _open_rows(cycle)
    assert second.replaced_count == first.proposal_count
    assert sorted(after) == ["C001", "C003", "C004", "C006", "C007"]
    assert {row.run_id for row in after.values()} == {second.run_id}
    assert after["C003"].current_condition == "SOFT"
    assert after["C006"].proposed_condition == "INTENSIVE"
    for no in ("C001", "C004", "C007"):
        kept = after[no]._asdict() | {"id": before[no].id, "run_id": first.run_id}
        assert kept == before[no]._asdict()
    if cycle.engine.dialect.name == "sqlite":
        # In place: the same ids, where PostgreSQL's run writes every row anew.
        assert all(after[no].id == before[no].id for no in ("C001", "C004", "C007"))
        assert after["C003"].id not in {row.id for row in before.values()}


@pytest.fixture
def large_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run's difference counts as large: the indexes are dropped and rebuilt
    on SQLite, where the values are read by a second process."""
    monkeypatch.setattr(proposal_writer, "BATCH", 2)
    monkeypatch.setattr(services, "READ_AHEAD_FROM", 0)


def test_a_large_difference_writes_the_same_as_a_small_one(
    cycle: CycleStore, large_difference: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes = _indexes(cycle)
    cycle.propose()
    for no in ("C001", "C002", "C003", "C004"):
        cycle.set_customer(no, dunning_condition="INTENSIVE")
    dropped: list[list[str]] = []
    drop = proposal_writer.drop_own_indexes

    def counted(connection: Any) -> list[str]:
        dropped.append(drop(connection))
        return dropped[-1]

    monkeypatch.setattr(proposal_writer, "drop_own_indexes", counted)

    cycle.propose()

    if cycle.engine.dialect.name == "sqlite":
        # Every index of the model's made on SQLite: the list's sort indexes,
        # one of which also serves the apply dialog (the unique customer number
        # is the table's own, and stays).
        sqlite_indexes = [
            index
            for index in Proposal.__table__.indexes
            if index.info.get("dialect", "sqlite") == "sqlite"
        ]
        assert len(dropped) == 1
        assert len(dropped[0]) == len(sqlite_indexes) == 4
    assert _indexes(cycle) == indexes
    proposals = {p.customer_no: p for p in services.list_proposals(cycle.engine)}
    assert sorted(proposals) == ["C002", "C003", "C004", "C007"]
    assert {
        p.current_condition for p in proposals.values() if p.customer_no != "C007"
    } == {"INTENSIVE"}


def test_a_run_that_fails_after_a_large_difference_changes_nothing(
    cycle: CycleStore, monkeypatch: pytest.MonkeyPatch, large_difference: None
) -> None:
    cycle.propose()
    for no in ("C001", "C002", "C003"):
        cycle.set_customer(no, dunning_condition="INTENSIVE")
    before = cycle.snapshot()
    indexes = _indexes(cycle)
    finish = proposal_writer.ProposalWriter.finish

    def rebuild_then_fail(self: proposal_writer.ProposalWriter) -> int:
        finish(self)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(proposal_writer.ProposalWriter, "finish", rebuild_then_fail)

    with pytest.raises(RuntimeError, match="disk is full"):
        cycle.propose()

    assert cycle.snapshot() == before
    assert _indexes(cycle) == indexes


def test_proposals_must_come_in_customer_order(cycle: CycleStore) -> None:
    if cycle.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite's run merges with the open proposals")
    cycle.propose()
    with write_transaction(cycle.engine) as connection:
        writer = proposal_writer.ProposalWriter(connection, 1)
        try:
            writer.begin()
            args = ("SOFT", "PROMPT", "SOFT", "[]", Decimal(0), Decimal(0))
            writer.add("C004", *args)
            with pytest.raises(RuntimeError, match="number order"):
                writer.add("C003", *args)
        finally:
            writer.close()
