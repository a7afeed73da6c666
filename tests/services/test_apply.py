"""Applying and deleting proposals: selections, skipped proposals, all or nothing.

On SQLite and PostgreSQL. A proposal whose customer changed since it was made is
skipped with its reason and stays open; the others apply. A refused or failed apply
leaves the store exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from segment_tui import services
from segment_tui.errors import InputError
from segment_tui.services import Selection
from segment_tui.store.models import ApplyBatch, SegmentChange

if TYPE_CHECKING:
    from tests.services.conftest import CycleStore


def _proposal_ids(cycle: CycleStore) -> dict[str, int]:
    return {p.customer_no: p.id for p in services.list_proposals(cycle.engine)}


def test_a_stale_proposal_is_skipped_and_stays_open(cycle: CycleStore) -> None:
    cycle.propose()
    cycle.set_customer("C002", dunning_condition="STANDARD")

    result = services.apply_proposals(cycle.engine, Selection.everything(), "bob")

    assert sorted(result.applied) == ["C001", "C003", "C004", "C007"]
    (skipped,) = result.skipped
    assert skipped.customer_no == "C002"
    assert "changed from SOFT to STANDARD" in skipped.why
    assert cycle.open_customers() == ["C002"]
    assert cycle.customer("C002").dunning_condition == "STANDARD"
    assert "C002" not in {c.customer_no for c in services.history(cycle.engine)}
    (batch,) = cycle.rows(ApplyBatch)
    assert (batch.applied_count, batch.skipped_count) == (4, 1)


def test_a_customer_handed_over_after_proposing_is_skipped(cycle: CycleStore) -> None:
    cycle.propose()
    cycle.set_customer("C003", handed_over=True)

    result = services.apply_proposals(cycle.engine, Selection.everything(), "bob")

    assert "C003" not in result.applied
    assert [(s.customer_no, s.why) for s in result.skipped] == [
        ("C003", "the customer is now handed over")
    ]
    assert cycle.open_customers() == ["C003"]
    assert cycle.customer("C003").dunning_condition is None


def test_select_by_customer_numbers(cycle: CycleStore) -> None:
    cycle.propose()

    result = services.apply_proposals(
        cycle.engine, Selection(customer_nos=["C003", "C001"]), "bob"
    )

    assert sorted(result.applied) == ["C001", "C003"]
    assert result.skipped == []
    assert cycle.open_customers() == ["C002", "C004", "C007"]
    assert cycle.customer("C001").dunning_condition == "INTENSIVE"
    assert cycle.customer("C002").dunning_condition == "SOFT"


def test_select_by_proposal_ids(cycle: CycleStore) -> None:
    cycle.propose()
    ids = _proposal_ids(cycle)

    result = services.apply_proposals(
        cycle.engine, Selection(proposal_ids=[ids["C002"], ids["C007"]]), "bob"
    )

    assert sorted(result.applied) == ["C002", "C007"]
    assert cycle.open_customers() == ["C001", "C003", "C004"]


def test_a_proposal_selected_twice_is_applied_once(cycle: CycleStore) -> None:
    cycle.propose()
    ids = _proposal_ids(cycle)

    result = services.apply_proposals(
        cycle.engine,
        Selection(customer_nos=["C001", "C001"], proposal_ids=[ids["C001"]]),
        "bob",
    )

    assert result.applied == ["C001"]
    assert cycle.count(SegmentChange) == 1


def test_a_customer_without_an_open_proposal_is_reported(cycle: CycleStore) -> None:
    cycle.propose()

    result = services.apply_proposals(
        cycle.engine, Selection(customer_nos=["C005", "C001"]), "bob"
    )

    assert result.applied == ["C001"]
    assert [(s.customer_no, s.why) for s in result.skipped] == [
        ("C005", "no open proposal for this customer")
    ]


def test_an_unknown_proposal_id_is_reported(cycle: CycleStore) -> None:
    cycle.propose()

    result = services.apply_proposals(
        cycle.engine, Selection(proposal_ids=[999_999]), "bob"
    )

    assert result.batch_id is None
    assert [s.customer_no for s in result.skipped] == ["#999999"]
    assert cycle.count(ApplyBatch) == 0


def test_an_unknown_customer_is_refused_and_nothing_changes(cycle: CycleStore) -> None:
    cycle.propose()
    before = cycle.snapshot()

    with pytest.raises(InputError, match="unknown customer NOPE"):
        services.apply_proposals(
            cycle.engine, Selection(customer_nos=["C001", "NOPE"]), "bob"
        )

    assert cycle.snapshot() == before


def test_a_failure_midway_leaves_the_store_exactly_as_before(
    cycle: CycleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle.propose()
    # A first batch, so that "as before" includes history and a batch.
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C004"]), "bob")
    before = cycle.snapshot()
    assert before["segment_change"] and before["apply_batch"]
    update_customers = services._update_customers

    def update_then_fail(*arguments: Any) -> None:
        # The history rows are in, and the customers changed, when this raises.
        update_customers(*arguments)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "_update_customers", update_then_fail)

    with pytest.raises(RuntimeError, match="disk is full"):
        services.apply_proposals(cycle.engine, Selection.everything(), "bob")

    assert cycle.snapshot() == before
    assert len(before["proposal"]) == 4


def test_applying_nothing_returns_no_batch(cycle: CycleStore) -> None:
    result = services.apply_proposals(cycle.engine, Selection.everything(), "bob")

    assert result.batch_id is None
    assert (result.applied, result.skipped) == ([], [])
    assert cycle.count(ApplyBatch) == 0
    assert services.history(cycle.engine) == []


def test_applying_only_stale_proposals_returns_no_batch(cycle: CycleStore) -> None:
    cycle.propose()
    cycle.set_customer("C001", dunning_condition="SOFT")

    result = services.apply_proposals(
        cycle.engine, Selection(customer_nos=["C001"]), "bob"
    )

    assert result.batch_id is None
    assert [s.customer_no for s in result.skipped] == ["C001"]
    assert cycle.count(ApplyBatch) == 0


def test_an_applied_proposal_applied_again_is_skipped(cycle: CycleStore) -> None:
    cycle.propose()
    services.apply_proposals(cycle.engine, Selection(customer_nos=["C001"]), "bob")

    result = services.apply_proposals(
        cycle.engine, Selection(customer_nos=["C001"]), "bob"
    )

    assert result.applied == []
    assert [s.customer_no for s in result.skipped] == ["C001"]
    assert cycle.count(SegmentChange) == 1


# ---------------------------------------------------------------------------
# Deleting


def test_delete_all(cycle: CycleStore) -> None:
    cycle.propose()

    assert services.delete_proposals(cycle.engine, Selection.everything()) == 5
    assert cycle.open_customers() == []
    assert services.delete_proposals(cycle.engine, Selection.everything()) == 0


def test_delete_by_customer_and_by_id(cycle: CycleStore) -> None:
    cycle.propose()
    ids = _proposal_ids(cycle)

    deleted = services.delete_proposals(
        cycle.engine, Selection(customer_nos=["C001", "C005"])
    )
    assert deleted == 1
    deleted = services.delete_proposals(
        cycle.engine, Selection(proposal_ids=[ids["C002"]])
    )
    assert deleted == 1

    assert cycle.open_customers() == ["C003", "C004", "C007"]
    # Deleting writes no history and changes no customer.
    assert cycle.count(SegmentChange) == 0
    assert cycle.customer("C001").dunning_condition == "STANDARD"


def test_delete_of_an_unknown_customer_is_refused(cycle: CycleStore) -> None:
    cycle.propose()
    before = cycle.snapshot()

    with pytest.raises(InputError, match="unknown customer NOPE"):
        services.delete_proposals(
            cycle.engine, Selection(customer_nos=["C001", "NOPE"])
        )

    assert cycle.snapshot() == before
