"""Repeats in a ledger file: numbered by the writer from what the store holds.

The parser keeps nothing of earlier rows; the writer tells a repeated document
number or identical row from the store (`_LedgerWriter`). The law: whatever the
batches, and whether the customers are new or known, the keys stored are those of
numbering the file's rows in order, by a plain count of each key, the warnings
are those of that count, and importing the file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from segment_tui import importing
from segment_tui.importing import Mapping, SourceFormat
from segment_tui.store.engine import create_schema, make_engine, write_transaction
from segment_tui.store.models import Customer, LedgerEntry

HEADER = "Customer,Document,Posted,Due,Amount"
MAPPING = Mapping(
    kind="ledger",
    name="m.toml",
    source=SourceFormat(date_format="%Y-%m-%d"),
    columns={
        "customer_no": "Customer",
        "document_no": "Document",
        "posting_date": "Posted",
        "due_date": "Due",
        "amount": "Amount",
    },
)


@pytest.fixture
def any_store(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of four rows in chunks of three, parsed in this process."""
    monkeypatch.setattr(importing, "CHUNK_ROWS", 3)
    monkeypatch.setattr(importing, "BATCH_ROWS", 4)
    monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 1 << 60)
    monkeypatch.setattr(importing, "SPAWNED_FROM_BYTES", 1 << 60)


def write(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = [
        HEADER,
        *(f"{c},{d},2024-01-0{day},2024-02-01,{a}" for c, d, day, a in rows),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def numbered(rows: list[tuple[str, str, str, str]]) -> tuple[dict[Any, str], list[str]]:
    """The reference: each row's key, by a count of the keys met before it, and
    the warnings of the repeated document numbers."""
    counts: dict[tuple[str, str], int] = {}
    keys: dict[Any, str] = {}
    warnings = []
    for line, (customer, document, day, amount) in enumerate(rows, start=2):
        posted = date(2024, 1, int(day))
        if document:
            count = counts[customer, document] = counts.get((customer, document), 0) + 1
            key = f"doc:{document}" if count == 1 else f"dup:{document}#{count}"
            if count > 1:
                warnings.append(
                    f"line {line}: document {document} of customer {customer} "
                    f"appears {count} times; kept as separate entries"
                )
        else:
            cents = round(float(amount) * 100)
            base = importing._row_key(posted, date(2024, 2, 1), cents)[: -len("#1")]
            count = counts[customer, base] = counts.get((customer, base), 0) + 1
            key = f"{base}#{count}"
        keys[customer, key] = amount
    return keys, warnings


def stored(engine: Engine) -> dict[Any, str]:
    with Session(engine) as session:
        return {
            (e.customer_no, e.entry_key): f"{e.amount:.2f}"
            for e in session.scalars(select(LedgerEntry))
        }


def emptied(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        connection.execute(delete(LedgerEntry))
        connection.execute(delete(Customer))


ROW = st.tuples(
    st.sampled_from(["C1", "C2", "C3"]),
    st.sampled_from(["A", "B", "A#2", "dup:A#2", ""]),
    st.sampled_from(["1", "2"]),
    st.sampled_from(["1.00", "2.00"]),
)


@pytest.mark.parametrize("customer_cache", [importing.CUSTOMER_CACHE, 1])
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(ROW, max_size=14), known=st.integers(0, 14))
def test_the_writer_numbers_repeats_as_a_count_over_the_file_would(
    any_store: Engine,
    small_batches: None,
    tmp_path: Path,
    rows: list[tuple[str, str, str, str]],
    known: int,
    customer_cache: int,
) -> None:
    # The first `known` rows were imported before: their customers are known, and
    # their entries are stored under the keys they have in the whole file too.
    # With a cache of one customer, each batch forgets the customers before it.
    emptied(any_store)
    keys, warnings = numbered(rows)
    file = write(tmp_path / "ledger.csv", rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importing, "CUSTOMER_CACHE", customer_cache)
        if known:
            before_file = write(tmp_path / "before.csv", rows[:known])
            importing.import_ledger(any_store, before_file, MAPPING)
        before = stored(any_store)

        result = importing.import_ledger(any_store, file, MAPPING)
        again = importing.import_ledger(any_store, file, MAPPING)

    assert stored(any_store) == keys
    assert result.warnings == warnings
    assert (result.inserted, result.unchanged) == (len(keys) - len(before), len(before))
    assert (again.unchanged, again.inserted, again.updated) == (len(rows), 0, 0)


def test_a_repeat_batches_apart_is_numbered_for_new_and_known_customers(
    any_store: Engine, small_batches: None, tmp_path: Path
) -> None:
    # C1 is known, C2 new; each repeats A three batches after its first A, and
    # has two identical rows without a document number, in different batches.
    rows = [("C1", "A", "1", "1.00"), ("C2", "A", "1", "1.00"), ("C1", "", "1", "2.00")]
    rows += [("C1", f"X{i}", "1", "1.00") for i in range(9)]
    rows += [("C2", "A", "2", "2.00"), ("C1", "A", "2", "2.00")]
    rows += [("C1", "", "1", "2.00"), ("C2", "", "1", "2.00")]
    importing.import_ledger(any_store, write(tmp_path / "c1.csv", rows[:1]), MAPPING)

    result = importing.import_ledger(
        any_store, write(tmp_path / "l.csv", rows), MAPPING
    )

    keys = stored(any_store)
    assert keys[("C1", "dup:A#2")] == keys[("C2", "dup:A#2")] == "2.00"
    base = importing._row_key(date(2024, 1, 1), date(2024, 2, 1), 200)
    base = base.removesuffix("#1")
    assert sorted(k for c, k in keys if c == "C1" and k.startswith("row:")) == [
        f"{base}#1",
        f"{base}#2",
    ]
    assert result.warnings == [
        "line 14: document A of customer C2 appears 2 times; kept as separate entries",
        "line 15: document A of customer C1 appears 2 times; kept as separate entries",
    ]
    assert (result.inserted, result.unchanged) == (len(rows) - 1, 1)


def test_warnings_from_both_sides_list_the_lowest_lines_first() -> None:
    # The writer warns about repeats as it meets them, the parser about dates; the
    # parsing process sends its own at the end. The ones listed are the lowest.
    parser, writer = importing._Warnings(), importing._Warnings()
    for line in range(2, 200, 2):
        parser.add(line, f"date {line}")
    for line in range(151, 0, -30):
        writer.add(line, f"repeat {line}")

    writer.merge(*parser.state())

    listed = writer.as_list()
    assert listed[:4] == ["repeat 1", "date 2", "date 4", "date 6"]
    assert len(listed) == importing.WARNING_LIMIT + 1
    assert listed[-2] == "date 92"  # 50 listed: lines 1, 31, 61, 91 and 2 to 92
    assert listed[-1] == "and 55 more warnings like these"
