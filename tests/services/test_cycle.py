"""The whole cycle through the service layer: create, review, apply, and again.

On SQLite and PostgreSQL: proposals are made for exactly the customers whose segment's
dunning condition differs from their own, a deleted proposal only means "not this
time", applying writes the customers and one history row per change, a new run
replaces the open proposals, and a trial setup is recorded but never made current.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from segment_tui import services
from segment_tui.errors import InputError
from segment_tui.rules.setup import parse_setup
from segment_tui.services import Selection
from segment_tui.store.models import ProposalRun, SegmentChange, SetupVersion

if TYPE_CHECKING:
    from tests.services.conftest import CycleStore

TRIAL_SETUP = """
[settings]
lookback_months = 6
late_tolerance_days = 0

[[dunning_condition]]
code = "WATCH"
description = "Watch closely"

[[segment]]
code = "OVERDUE"
dunning_condition = "WATCH"
conditions = ["overdue_count >= 1"]
"""


def test_the_whole_cycle(cycle: CycleStore) -> None:
    wanted, no_proposal = cycle.expected, cycle.no_proposal
    before = datetime.now(UTC)

    # 1. Create proposals.
    summary = cycle.propose()

    assert (summary.customer_count, summary.proposal_count) == (7, 5)
    assert (summary.excluded_count, summary.unmatched_count) == (1, 0)
    assert summary.replaced_count == 0
    proposals = {p.customer_no: p for p in services.list_proposals(cycle.engine)}
    assert set(proposals) == set(wanted)
    for no, expected in wanted.items():
        p = proposals[no]
        assert (p.current_condition, p.segment, p.proposed_condition) == (
            expected.current,
            expected.segment,
            expected.proposed,
        ), no
        assert p.run_id == summary.run_id
        assert p.customer_name == cycle.customer(no).name
    assert not set(no_proposal) & set(proposals)

    # 2. Review: the operator deletes one proposal.
    assert services.delete_proposals(cycle.engine, Selection(customer_nos=["C004"]))
    assert "C004" not in cycle.open_customers()

    # 3. Apply the rest.
    result = services.apply_proposals(cycle.engine, Selection.everything(), "bob")

    applied = sorted(set(wanted) - {"C004"})
    assert sorted(result.applied) == applied
    assert result.skipped == []
    assert result.batch_id is not None
    assert cycle.open_customers() == []
    for no in applied:
        customer = cycle.customer(no)
        assert customer.dunning_condition == wanted[no].proposed, no
        assert customer.segment == wanted[no].segment, no
    assert cycle.customer("C004").dunning_condition is None
    assert cycle.customer("C004").segment is None

    changes = services.history(cycle.engine)
    assert sorted(c.customer_no for c in changes) == applied
    for change in changes:
        expected = wanted[change.customer_no]
        assert change.from_condition == expected.current
        assert change.to_condition == expected.proposed
        assert change.segment == expected.segment
        assert change.run_id == summary.run_id
        assert change.batch_id == result.batch_id
        assert change.applied_by == "bob"
        assert change.applied_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= change.applied_at
        assert change.applied_at <= datetime.now(UTC) + timedelta(seconds=1)
        assert change.reason or expected.segment == "PROMPT"
    assert cycle.count(SegmentChange) == len(applied)

    # 4. A second run proposes nothing for the applied customers; the deleted
    # proposal comes back ("not this time" only).
    again = cycle.propose()

    assert again.run_id != summary.run_id
    assert (again.proposal_count, again.replaced_count) == (1, 0)
    assert cycle.open_customers() == ["C004"]


def test_history_is_newest_first_and_per_customer(cycle: CycleStore) -> None:
    cycle.propose()
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C002"]), "a")
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C001"]), "b")

    changes = services.history(cycle.engine)
    assert [c.customer_no for c in changes] == ["C001", "C002"]
    assert changes[0].batch_id != changes[1].batch_id
    assert [c.customer_no for c in services.history(cycle.engine, "C002")] == ["C002"]


def test_the_history_row_records_the_segment_it_came_from(cycle: CycleStore) -> None:
    cycle.propose()
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C002"]), "a")
    cycle.set_customer("C002", dunning_condition="SOFT")
    cycle.propose()
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C002"]), "a")

    rows = cycle.rows(SegmentChange)
    assert [(r.from_segment, r.segment) for r in rows] == [
        (None, "POOR"),
        ("POOR", "POOR"),
    ]
    assert [(r.from_condition, r.to_condition) for r in rows] == [
        ("SOFT", "STRICT"),
        ("SOFT", "STRICT"),
    ]


def test_a_new_run_replaces_the_open_proposals(cycle: CycleStore) -> None:
    first = cycle.propose()
    services.delete_proposals(cycle.engine, Selection(customer_nos=["C001"]))

    second = cycle.propose()

    assert second.replaced_count == 4
    assert second.proposal_count == 5
    proposals = services.list_proposals(cycle.engine)
    assert len(proposals) == 5
    assert {p.run_id for p in proposals} == {second.run_id}
    assert first.run_id < second.run_id


def test_the_run_records_setup_counts_duration_and_operator(cycle: CycleStore) -> None:
    with cycle.engine.connect() as connection:
        stored = services.current_setup(connection)
    assert stored is not None

    summary = cycle.propose()

    (run,) = cycle.rows(ProposalRun)
    assert run.id == summary.run_id
    assert run.reference_date == cycle.reference
    assert run.setup_version_id == stored[0] == summary.setup_version_id
    assert run.created_by == cycle.operator
    assert (run.customer_count, run.proposal_count) == (7, 5)
    assert (run.excluded_count, run.unmatched_count) == (1, 0)
    assert run.duration_ms == summary.duration_ms >= 0
    assert run.created_at is not None
    with cycle.engine.connect() as connection:
        latest = services.latest_run(connection)
    assert latest is not None
    assert (latest.run_id, latest.proposal_count) == (run.id, 5)


def test_a_trial_setup_does_not_become_the_current_setup(cycle: CycleStore) -> None:
    with cycle.engine.connect() as connection:
        before = services.current_setup(connection)
    assert before is not None
    trial = parse_setup(TRIAL_SETUP, "trial.toml")

    summary = cycle.propose(setup=trial, setup_source="trial.toml")

    with cycle.engine.connect() as connection:
        after = services.current_setup(connection)
    assert after is not None
    assert after[0] == before[0]
    assert after[1] == before[1]
    versions = {v.id: v for v in cycle.rows(SetupVersion)}
    assert versions[summary.setup_version_id].trial is True
    assert versions[summary.setup_version_id].source == "trial.toml"
    assert summary.setup_version_id != before[0]
    # Only C001 has an overdue item in the last six months; C006 is handed over.
    assert cycle.open_customers() == ["C001"]
    (proposal,) = services.list_proposals(cycle.engine)
    assert (proposal.segment, proposal.proposed_condition) == ("OVERDUE", "WATCH")
    assert (summary.excluded_count, summary.unmatched_count) == (1, 5)

    # The trial's proposal can be applied: its dunning condition is now known.
    result = services.apply_proposals(cycle.engine, Selection.everything(), "a")
    assert result.applied == ["C001"]
    assert cycle.customer("C001").dunning_condition == "WATCH"


def test_a_proposal_keeps_its_reason_and_sort_values(cycle: CycleStore) -> None:
    cycle.propose()

    proposals = {p.customer_no: p for p in services.list_proposals(cycle.engine)}
    arrears = proposals["C001"]
    assert [r["condition"] for r in arrears.reason] == [
        "max_days_overdue > 90",
        "overdue_amount >= 250",
    ]
    assert [r["value"] for r in arrears.reason] == [151, 300]
    assert str(arrears.overdue_amount) == "300.00"
    assert proposals["C003"].late_ratio == Decimal("0.2")
    assert proposals["C007"].reason == []


def test_initialise_is_idempotent_and_keeps_the_stored_setup(
    cycle: CycleStore,
) -> None:
    versions = cycle.count(SetupVersion)

    assert services.initialise(cycle.engine, "x") is False
    assert cycle.count(SetupVersion) == versions


def test_a_reference_date_out_of_range_is_refused_and_changes_nothing(
    cycle: CycleStore,
) -> None:
    # Year 1 has no months before it for the window; 9999-12-31 no day after it.
    cycle.propose()
    before = [p.customer_no for p in services.list_proposals(cycle.engine)]

    for reference in (date(1, 1, 1), date(9999, 12, 31)):
        with pytest.raises(InputError, match="out of range; a reference date lies"):
            services.create_proposals(cycle.engine, reference, cycle.operator)

    assert [p.customer_no for p in services.list_proposals(cycle.engine)] == before
