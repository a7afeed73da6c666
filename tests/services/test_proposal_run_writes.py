"""How a proposal run writes: the same proposals by every path, indexes kept, and
all or nothing even though SQLite's run rebuilds the proposal indexes.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import inspect

from segment_tui import services
from segment_tui.store import proposal_writer

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
    assert {"ix_proposal_segment", "ix_proposal_late_ratio"} <= {
        str(index["name"]) for index in before
    }

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
        # The old proposals are deleted and the new ones in when this raises.
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
