"""The history source: newest first, page after page equal to one fetch."""

from __future__ import annotations

from screen_support import OPERATOR, Store

from segment_tui import services
from segment_tui.store.history_source import HistorySource


def test_pages_are_newest_first_and_add_up(any_store: Store) -> None:
    services.apply_proposals(any_store.engine, services.Selection(all=True), OPERATOR)
    expected = [change.customer_no for change in services.history(any_store.engine)]
    source = HistorySource(any_store.engine)
    assert source.count() == len(expected) > 10

    paged: list[str] = []
    offset = 0
    while page := source.fetch(offset, 4):
        paged += [record.customer_no for record in page]
        offset += len(page)
    assert paged == expected

    fresh = HistorySource(any_store.engine)
    assert [r.customer_no for r in fresh.fetch(5, 3)] == expected[5:8]
    ids = list(fresh.keys())
    assert ids == sorted(ids, reverse=True)
    record = fresh.fetch(0, 1)[0]
    assert record.applied_by == OPERATOR
    assert record.applied_at.tzinfo is not None
