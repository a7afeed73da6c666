"""Repeats in a ledger file: numbered by the writer from what the store holds.

The parser keeps nothing of earlier rows; the writer tells a repeated document
number or identical row from the store (`_LedgerWriter`). The law: whatever the
batches, and whether the customers are new or known, the keys stored are those of
numbering the file's rows in order, by a plain count of each key, the warnings
are those of that count, and importing the file again changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from segment_tui import importing
from segment_tui.importing import Mapping, SourceFormat
from segment_tui.store.engine import create_schema, make_engine, write_transaction
from segment_tui.store.models import Customer, LedgerEntry

HEADER = "Customer,Document,Posted,Due,Amount,Closed,Remaining"
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
        "closed_at": "Closed",
        "remaining_amount": "Remaining",
    },
)
# A row: customer, document number, day of posting, amount, and whether it is
# paid: closed with nothing remaining, where an open one has neither, so that two
# rows of one key may hold a value where the other holds none.
Row = tuple[str, str, str, str, bool]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of four rows in chunks of three, parsed in this process."""
    monkeypatch.setattr(importing, "CHUNK_ROWS", 3)
    monkeypatch.setattr(importing, "BATCH_ROWS", 4)
    monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 1 << 60)
    monkeypatch.setattr(importing, "SPAWNED_FROM_BYTES", 1 << 60)


def write(path: Path, rows: list[Row]) -> Path:
    lines = [HEADER]
    for customer, document, day, amount, paid in rows:
        settled = "2024-03-01,0.00" if paid else ","
        lines.append(
            f"{customer},{document},2024-01-0{day},2024-02-01,{amount},{settled}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def numbered(rows: list[Row]) -> tuple[dict[Any, str], list[str]]:
    """The reference: each row's key, by a count of the rows of its first key met
    before it, and the warnings of the repeated document numbers."""
    counts: dict[tuple[str, str], int] = {}
    keys: dict[Any, str] = {}
    warnings = []
    for line, (customer, document, day, amount, _paid) in enumerate(rows, start=2):
        if document:
            first = f"doc:{document}"
        else:
            cents = round(Decimal(amount) * 100)
            posted = date(2024, 1, int(day))
            first = importing._row_key(posted, date(2024, 2, 1), cents)
        count = counts[customer, first] = counts.get((customer, first), 0) + 1
        if count == 1:
            key = first
        elif document:
            key = f"dup:{document}#{count}"
            warnings.append(
                f"line {line}: document {document} of customer {customer} "
                f"appears {count} times; kept as separate entries"
            )
        else:
            key = f"{first.removesuffix('#1')}#{count}"
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


# The key of the rows without a document number posted on the 1st for 1.00,
# less its "#1": a document number that reads so is counted apart from them.
IDENTITY = importing._row_key(date(2024, 1, 1), date(2024, 2, 1), 100)[:-2]
ROW = st.tuples(
    st.sampled_from(["C1", "C2", "C3"]),
    st.sampled_from(["A", "B", "A#2", "dup:A#2", "", "", IDENTITY]),
    st.sampled_from(["1", "2"]),
    st.sampled_from(["1.00", "2.00"]),
    st.booleans(),
)


@pytest.mark.parametrize("customer_cache", [importing.CUSTOMER_CACHE, 1])
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(ROW, max_size=14), known=st.integers(0, 14))
# A repeat, one paid and one open: the rows of one key hold None and a value.
@example(
    rows=[("C1", "A", "1", "1.00", True), ("C1", "A", "1", "1.00", False)], known=0
)
# Identical rows and a document number that reads like their key.
@example(
    rows=[("C1", "", "1", "1.00", False)] * 2
    + [("C1", IDENTITY, "2", "2.00", False)] * 2,
    known=0,
)
@example(
    rows=[("C1", IDENTITY, "2", "2.00", False)] * 2
    + [("C1", "", "1", "1.00", True)] * 2,
    known=1,
)
def test_the_writer_numbers_repeats_as_a_count_over_the_file_would(
    any_store: Engine,
    small_batches: None,
    tmp_path: Path,
    rows: list[Row],
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
    rows: list[Row] = [
        ("C1", "A", "1", "1.00", False),
        ("C2", "A", "1", "1.00", True),
        ("C1", "", "1", "2.00", True),
    ]
    rows += [("C1", f"X{i}", "1", "1.00", False) for i in range(9)]
    rows += [("C2", "A", "2", "2.00", False), ("C1", "A", "2", "2.00", False)]
    rows += [("C1", "", "1", "2.00", False), ("C2", "", "1", "2.00", False)]
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
        parser.add(line, f"date {line}", importing.DATE_WARNING)
    for line in range(151, 0, -30):
        writer.add(line, f"repeat {line}", importing.REPEAT_WARNING)

    writer.merge(*parser.state())

    listed = writer.as_list()
    assert listed[:4] == ["repeat 1", "date 2", "date 4", "date 6"]
    assert len(listed) == importing.WARNING_LIMIT + 1
    assert listed[-2] == "date 92"  # 50 listed: lines 1, 31, 61, 91 and 2 to 92
    assert listed[-1] == "and 55 more warnings like these"


@pytest.mark.parametrize("process", ["this", "forked", "spawned"])
def test_two_warnings_about_a_line_come_in_one_order_whoever_found_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: str
) -> None:
    # The writer finds the repeat, the parser the due date, here or in a second
    # process: the repeat is listed first either way.
    if process != "this":
        monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 0)
        monkeypatch.setattr(importing, "SPAWNED_FROM_BYTES", 0)
        monkeypatch.setattr(importing, "FORK_PARSER", process == "forked")
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    create_schema(engine)
    file = tmp_path / "ledger.csv"
    file.write_text(
        HEADER + "\n"
        "C1,INV1,2024-01-05,2024-02-01,1.00,,\n"
        "C1,INV1,2024-01-05,2024-01-01,1.00,,\n",
        encoding="utf-8",
    )

    result = importing.import_ledger(engine, file, MAPPING)
    engine.dispose()

    assert result.warnings == [
        "line 3: document INV1 of customer C1 appears 2 times; kept as separate "
        "entries",
        "line 3: due date 2024-01-01 is before posting date 2024-01-05; imported "
        "as it is",
    ]
