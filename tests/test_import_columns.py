"""The ledger importer's two ways of converting rows give the same result.

A chunk of rows in the common run is converted column by column; any other chunk
row by row, which decides what is refused and warned about. The law: for any file,
the rows, names, warnings and refusal are those of converting every row the long
way. Chunks of three rows here, so that a small file has several, and the cases
that send a chunk the long way fall in the first, a middle or the last one.
"""

from __future__ import annotations

import csv
import io
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from segment_tui import importing
from segment_tui.errors import InputError
from segment_tui.importing import Mapping, SourceFormat

COLUMNS = {
    "customer_no": "Customer",
    "customer_name": "Name",
    "document_no": "Document",
    "posting_date": "Posted",
    "due_date": "Due",
    "amount": "Amount",
    "remaining_amount": "Remaining",
    "closed_at": "Closed",
    "disputed": "Disputed",
    "on_hold": "On hold",
}
HEADER = list(COLUMNS.values())
LEFT_OUT = ("document_no", "on_hold")  # optional columns a mapping may leave out
FILES = count()


def mapping_for(columns: dict[str, str], **source: Any) -> Mapping:
    return Mapping(
        kind="ledger",
        name="m.toml",
        source=SourceFormat(date_format="%d-%m-%Y", thousands_separator=",", **source),
        columns=columns,
    )


def parse(
    path: Path, mapping: Mapping, dialect: Any, *, by_columns: bool
) -> tuple[Any, ...]:
    """What `_ledger_batches` makes of `path`: its batches as rows, with names and
    warnings, or the refusal."""
    warnings = importing._Warnings()
    batches = []
    try:
        with (
            pytest.MonkeyPatch.context() as patch,
            importing._open(path, mapping) as source,
        ):
            patch.setattr(importing, "CHUNK_ROWS", 3)
            patch.setattr(importing, "BATCH_ROWS", 7)
            if not by_columns:
                patch.setattr(
                    importing._LedgerRows, "by_columns", lambda *arguments: False
                )
            cells = importing._Cells(source, dialect)
            for columns, names in importing._ledger_batches(source, cells, warnings):
                batches.append((list(zip(*columns, strict=True)), names))
    except InputError as refusal:
        return ("refused", str(refusal))
    return ("read", batches, warnings.as_list())


# Cells of each kind: the forms read as they are, then forms to refuse or that the
# long way reads (a sign, spaces, a repeated or "#2" document number).
CUSTOMERS = (["C1", "C2", " C3 ", "C-ü"], ["", "  ", "C\x00", "C" * 41])
NAMES = (["Adatum", "", " Fabrikam ", "[b]Name[/b]", "A\nB"], ["N" * 201])
DOCUMENTS = (["D1", "D2", "D1#2", "D3", "", " D4 "], ["D" * 41, "D\x00"])
DATES = (["01-02-2024", "15-03-2024", "31-12-2023", "1-2-2024"], ["", "32-01-2024"])
OPTIONAL_DATES = (["", "", " ", "20-02-2024"], ["30-02-2024"])
AMOUNTS = (
    ["1,250.00", "10.00", "-80.10", "0.00", "007.50", "+1.00", " 5.00 ", "1.5"],
    ["1,2,3.00", "1.005", "", "x", "12345678901234567.00", "1\n2.00", "1.000"],
)
OPTIONAL_AMOUNTS = (["", "0.00", "1,000.00", " ", "0.10"], ["0.001", "x"])
FLAGS = (["", "No", "Yes", " No "], ["Other"])


def cell(draw: st.DrawFn, kinds: tuple[list[str], list[str]]) -> str:
    """A cell that is read, or one time in twenty one that is refused."""
    readable, refused = kinds
    return draw(st.sampled_from(refused if draw(st.integers(0, 19)) == 0 else readable))


@st.composite
def ledger_rows(draw: st.DrawFn) -> list[list[str]]:
    row = [
        cell(draw, CUSTOMERS),
        cell(draw, NAMES),
        cell(draw, DOCUMENTS),
        cell(draw, DATES),
        cell(draw, DATES),
        cell(draw, AMOUNTS),
        cell(draw, OPTIONAL_AMOUNTS),
        cell(draw, OPTIONAL_DATES),
        cell(draw, FLAGS),
        cell(draw, FLAGS),
    ]
    shape = draw(st.integers(0, 39))
    if shape == 0:
        return [[]]  # a blank line
    if shape == 1:
        return [row[:-1]]  # a field short
    if shape == 2:
        return [[""] * len(row)]  # a line of empty fields
    return [row]


@st.composite
def ledger_files(draw: st.DrawFn) -> list[list[str]]:
    """Rows that mostly convert column by column: many of one common row, with
    now and then a cell of any kind."""
    common = st.tuples(
        st.sampled_from(["C1", "C2", "C3"]),
        st.sampled_from(["D", "E"]),
        st.sampled_from(["01-02-2024", "15-03-2024"]),
        st.sampled_from(["10.00", "1,250.00", "-3.10"]),
    )
    rows = []
    for _ in range(draw(st.integers(0, 14))):
        if draw(st.integers(0, 5)) == 0:
            rows += draw(ledger_rows())
            continue
        customer, prefix, day, amount = draw(common)
        rows.append(
            [
                customer,
                "Adatum",
                f"{prefix}{draw(st.integers(1, 30))}",  # now and then a repeat
                day,
                "15-04-2024",
                amount,
                "0.00",
                cell(draw, OPTIONAL_DATES),
                "No",
                "",
            ]
        )
    return rows


def write(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / f"ledger-{next(FILES)}.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for row in rows:
            if row:
                writer.writerow(row)
            else:
                file.write("\r\n")
    return path


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
@pytest.mark.parametrize(
    "columns",
    [
        COLUMNS,
        {k: v for k, v in COLUMNS.items() if k not in ("document_no", "on_hold")},
    ],
    ids=["all columns", "without documents and on hold"],
)
@settings(max_examples=150, deadline=None, database=None)
@given(rows=ledger_files())
def test_both_ways_give_the_same_rows_warnings_and_refusals(
    tmp_path_factory: pytest.TempPathFactory,
    dialect: Any,
    columns: dict[str, str],
    rows: list[list[str]],
) -> None:
    path = write(tmp_path_factory.mktemp("files"), rows)
    mapping = mapping_for(columns, true_values=["Yes"], false_values=["No"])

    fast = parse(path, mapping, dialect, by_columns=True)
    long_way = parse(path, mapping, dialect, by_columns=False)

    assert fast == long_way


def test_a_common_export_goes_column_by_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        ["C1", "Adatum", f"D{i}", "01-02-2024", "03-03-2024", "1,250.00", "0.00"]
        + ["", "No", ""]
        for i in range(10)
    ]
    path = write(tmp_path, rows)
    long_way: list[int] = []
    original = importing._LedgerRows.one_by_one

    def counted(self: Any, chunk: list[list[str]], *arguments: Any) -> None:
        long_way.append(len(chunk))
        original(self, chunk, *arguments)

    monkeypatch.setattr(importing._LedgerRows, "one_by_one", counted)
    mapping = mapping_for(COLUMNS, true_values=["Yes"], false_values=["No"])

    result = parse(path, mapping, sqlite.dialect(), by_columns=True)

    assert result[0] == "read"
    assert sum(len(batch) for batch, _ in result[1]) == 10
    assert long_way == []


def test_a_repeated_document_keeps_its_first_key_and_the_line_it_starts_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parser keeps nothing of earlier rows: the repeat in the third chunk goes
    # column by column with the key of a first occurrence, and its line, for the
    # writer to number and warn about (tests/test_import_repeats.py).
    rows = [
        ["C1", "", f"D{i}", "01-02-2024", "03-03-2024", "1.00", "", "", "", ""]
        for i in range(6)
    ]
    rows.append(["C1", "", "D0", "01-02-2024", "03-03-2024", "2.00", "", "", "", ""])
    path = write(tmp_path, rows)
    monkeypatch.setattr(
        importing._LedgerRows, "one_by_one", lambda *arguments: pytest.fail()
    )

    kind, batches, warnings = parse(
        path, mapping_for(COLUMNS), sqlite.dialect(), by_columns=True
    )

    keys = [row[1] for batch, _ in batches for row in batch]
    assert keys == [f"doc:D{i}" for i in range(6)] + ["doc:D0"]
    assert [row[-1] for batch, _ in batches for row in batch] == list(range(2, 9))
    assert warnings == []


def test_a_line_break_in_an_amount_is_refused_on_its_line(tmp_path: Path) -> None:
    # A quoted amount holding a line break splits the joined column in one more
    # part than it has cells; the long way refuses it, naming the line it starts on.
    rows = [
        ["C1", "", f"D{i}", "01-02-2024", "03-03-2024", "1.00", "", "", "", ""]
        for i in range(4)
    ]
    rows[2][5] = "1.00\n2.00"
    path = write(tmp_path, rows)

    result = parse(path, mapping_for(COLUMNS), sqlite.dialect(), by_columns=True)

    assert result[0] == "refused"
    assert "line 4, column 'Amount': '1.00\\n2.00' is not an amount" in result[1]


def test_a_batch_carries_the_last_name_its_rows_give(tmp_path: Path) -> None:
    # The last name a batch gives a customer is the one it keeps; an empty name
    # does not clear it. The first batch here is one chunk, the next one up to 7.
    rows = [
        ["C1", name, f"D{i}", "01-02-2024", "03-03-2024", "1.00", "", "", "", ""]
        for i, name in enumerate(["Old", "New", "", "Newest", ""])
    ]
    path = write(tmp_path, rows)

    kind, batches, _ = parse(
        path, mapping_for(COLUMNS), sqlite.dialect(), by_columns=True
    )

    assert [names for _, names in batches] == [{"C1": "New"}, {"C1": "Newest"}]


def test_a_name_with_a_line_break_reads_the_same_both_ways(tmp_path: Path) -> None:
    # A record over two lines: the chunk's rows and lines no longer match one to one.
    path = tmp_path / "by-hand.csv"
    content = io.StringIO()
    content.write(",".join(HEADER) + "\n")
    content.write('C1,"Adatum\nSales",D1,01-02-2024,03-03-2024,1.00,,,,\n')
    content.write("C1,,D2,01-02-2024,03-03-2024,2.00,,,,\n")
    path.write_text(content.getvalue(), encoding="utf-8")
    mapping = mapping_for(COLUMNS)

    fast = parse(path, mapping, sqlite.dialect(), by_columns=True)

    assert fast == parse(path, mapping, sqlite.dialect(), by_columns=False)
    assert fast[0] == "read"
    assert fast[1][0][1] == {"C1": "Adatum\nSales"}
    assert [row[-1] for row in fast[1][0][0]] == [2, 4]  # the lines they start on
