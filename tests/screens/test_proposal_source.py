"""The proposal source: counting, paging, sorting and filtering in SQL.

Pages fetched one after the other (keyset) must give exactly the rows of one big
fetch; the filter takes the operator's text literally, wildcards and quotes too.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from screen_support import Store
from sqlalchemy import func, select

from segment_tui.store.models import Proposal
from segment_tui.store.proposal_source import (
    SORT_COLUMNS,
    ProposalRecord,
    ProposalSource,
    like_pattern,
)


def all_rows(source: ProposalSource) -> list[int]:
    return [record.id for record in source.fetch(0, 10_000)]


def paged(source: ProposalSource, size: int) -> list[int]:
    ids: list[int] = []
    offset = 0
    while page := source.fetch(offset, size):
        ids.extend(record.id for record in page)
        offset += len(page)
    return ids


def test_count_matches_the_store(any_store: Store) -> None:
    with any_store.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Proposal))
        expected = stored.scalar_one()
    assert ProposalSource(any_store.engine).count() == expected > 10


def test_default_order_is_customer_number(any_store: Store) -> None:
    records = ProposalSource(any_store.engine).fetch(0, 100)
    numbers = [record.customer_no for record in records]
    assert numbers == sorted(numbers)


@pytest.mark.parametrize("column", sorted(SORT_COLUMNS))
@pytest.mark.parametrize("reverse", [False, True])
def test_pages_one_after_another_equal_one_fetch(
    any_store: Store, column: str, reverse: bool
) -> None:
    source = ProposalSource(any_store.engine)
    source.set_sort(column, reverse)
    whole = all_rows(source)
    source.reload()
    assert paged(source, 4) == whole
    # The second pass goes by the boundaries learnt in the first.
    assert paged(source, 4) == whole


@pytest.mark.parametrize("column", sorted(SORT_COLUMNS))
@pytest.mark.parametrize("reverse", [False, True])
def test_pages_from_the_end_upwards_equal_one_fetch(
    any_store: Store, column: str, reverse: bool
) -> None:
    source = ProposalSource(any_store.engine)
    source.set_sort(column, reverse)
    whole = all_rows(source)
    source.reload()
    size = 4
    ids: list[int] = []
    start = (len(whole) - 1) // size * size
    for offset in range(start, -1, -size):  # End, then page up to the top
        ids[:0] = [record.id for record in source.fetch(offset, size)]
    assert ids == whole


@pytest.mark.parametrize("column", ["name", "overdue_amount"])
def test_any_page_equals_its_slice(any_store: Store, column: str) -> None:
    source = ProposalSource(any_store.engine)
    source.set_sort(column)
    whole = all_rows(source)
    for offset in (0, 1, 7, len(whole) // 2, len(whole) - 5, len(whole) - 1):
        source.reload()
        assert [r.id for r in source.fetch(offset, 6)] == whole[offset : offset + 6]


def test_sort_by_amount_is_numeric_not_textual(any_store: Store) -> None:
    source = ProposalSource(any_store.engine)
    source.set_sort("overdue_amount", reverse=True)
    amounts = [record.overdue_amount for record in source.fetch(0, 100)]
    assert amounts == sorted(amounts, reverse=True)
    assert all(isinstance(value, Decimal) for value in amounts)


@pytest.mark.parametrize("reverse", [False, True])
def test_sort_by_proposed_condition_ties_by_current_condition(
    any_store: Store, reverse: bool
) -> None:
    # Customers without a condition come where the database sorts NULL, first on
    # SQLite and last on PostgreSQL, so that the index gives the order.
    source = ProposalSource(any_store.engine)
    source.set_sort("proposed_condition", reverse)
    records = source.fetch(0, 10_000)
    nulls_first = any_store.engine.dialect.name == "sqlite"

    def key(record: ProposalRecord) -> tuple[str, bool, str, int]:
        current = record.current_condition
        placed = (current is None) != nulls_first
        return (record.proposed_condition, placed, current or "", record.id)

    assert [r.id for r in records] == [
        r.id for r in sorted(records, key=key, reverse=reverse)
    ]
    assert any(r.current_condition is None for r in records)
    assert len({r.current_condition for r in records}) > 2
    # Every row an edge of a page, those without a condition too.
    source.reload()
    assert paged(source, 1) == [r.id for r in records]


def test_unknown_sort_column_is_refused(any_store: Store) -> None:
    with pytest.raises(ValueError, match="cannot sort by 'reason'"):
        ProposalSource(any_store.engine).set_sort("reason")


def test_jump_past_the_end_and_back(any_store: Store) -> None:
    source = ProposalSource(any_store.engine)
    total = source.count()
    assert source.fetch(total, 10) == []
    assert [r.id for r in source.fetch(total - 2, 10)] == all_rows(source)[-2:]


def test_filter_by_name_number_and_segment_ignores_case(any_store: Store) -> None:
    source = ProposalSource(any_store.engine)
    source.set_filter("[test]")
    assert [r.customer_no for r in source.fetch(0, 10)] == ["C00003"]
    source.set_filter("c00003")
    assert source.count() == 1
    source.set_filter("arrears")
    assert source.count() > 1
    assert {r.segment for r in source.fetch(0, 100)} == {"ARREARS"}
    source.set_filter("   ")
    assert source.count() == ProposalSource(any_store.engine).count()


@pytest.mark.parametrize("text", ["%", "_", "/", "100%", "'; DROP TABLE proposal; --"])
def test_filter_takes_wildcards_and_quotes_literally(
    any_store: Store, text: str
) -> None:
    source = ProposalSource(any_store.engine)
    total = source.count()
    source.set_filter(text)
    assert source.count() == 0
    assert list(source.keys()) == []
    assert ProposalSource(any_store.engine).count() == total


def test_like_pattern_escapes_its_wildcards() -> None:
    assert like_pattern("a%b_c/d") == "%a/%b/_c//d%"


def test_keys_are_the_filtered_ids(any_store: Store) -> None:
    source = ProposalSource(any_store.engine)
    source.set_filter("poor")
    assert sorted(source.keys()) == sorted(all_rows(source))


def test_transitions_and_ids(any_store: Store) -> None:
    source = ProposalSource(any_store.engine)
    records = source.fetch(0, 5)
    ids = [r.id for r in records]
    counts = source.transitions([*ids, 999_999])
    assert sum(counts.values()) == 5
    for record in records:
        assert counts[(record.current_condition, record.proposed_condition)] >= 1
    customers = [r.customer_no for r in records]
    assert source.ids_for_customers([*customers, "nobody"]) == set(ids)
    assert source.customer_no(ids[0]) == records[0].customer_no
    assert source.customer_no(999_999) is None


@pytest.mark.parametrize(
    "column", ["customer_no", "current_condition", "name", "proposed_condition"]
)
@pytest.mark.parametrize("reverse", [False, True])
def test_position_of_a_proposal(any_store: Store, column: str, reverse: bool) -> None:
    source = ProposalSource(any_store.engine)
    source.set_sort(column, reverse)
    whole = all_rows(source)
    for index in (0, 3, len(whole) - 1):
        assert source.position(whole[index]) == index
    assert source.position(999_999) is None
    source.set_filter("[test]")
    assert source.position(all_rows(source)[0]) == 0
    assert source.position(whole[0]) in (None, 0)
