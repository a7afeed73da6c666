"""Imports that are refused: one test per kind of bad file or bad mapping.

Every refusal is an `InputError` whose message names the file, the line, the column,
the value and what was expected (or, for a mapping, the key and the valid ones). A
good file is imported first, so that each test can check that the refused import
changed nothing at all, also when the bad row comes after batches already written.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from segment_tui import importing
from segment_tui.errors import InputError
from segment_tui.importing import Mapping, load_mapping
from segment_tui.store.engine import create_schema, make_engine
from segment_tui.store.models import Customer, DunningCondition, LedgerEntry, Reminder

MAPPINGS = Path(str(files("segment_tui") / "data" / "mappings"))
IBM_HEADER = (
    "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,"
    "InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate"
)
GOOD_ROWS = [
    "391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0",
    "406,8976-AMJEO,3/3/2012,0007900770,1/26/2013,2/25/2013,61.74,Yes,3/3/2013,"
    "Electronic,36,6",
]
NEW_ROW = "391,9999-ABCDE,4/6/2013,0000000001,1/2/2013,2/1/2013,{amount},No,,Paper,0,0"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite store that already holds a good IBM-layout import."""
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    create_schema(engine)
    good = write(tmp_path, "good.csv", [IBM_HEADER, *GOOD_ROWS])
    importing.import_ledger(engine, good, ibm_mapping(), condition="START")
    try:
        yield engine
    finally:
        engine.dispose()


def ibm_mapping() -> Mapping:
    return load_mapping(MAPPINGS / "ibm-accounts-receivable.toml", "ledger")


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, to compare before and after."""
    tables = {
        "customer": Customer,
        "dunning_condition": DunningCondition,
        "ledger_entry": LedgerEntry,
        "reminder": Reminder,
    }
    with engine.connect() as connection:
        return {
            name: sorted(
                tuple(row) for row in connection.execute(select(model.__table__))
            )
            for name, model in tables.items()
        }


def refused_ledger(
    store: Engine, file: Path, mapping: Mapping | None = None, **options: Any
) -> str:
    """Import `file`, expect a refusal, check nothing changed; the message."""
    before = snapshot(store)
    with pytest.raises(InputError) as refused:
        importing.import_ledger(store, file, mapping or ibm_mapping(), **options)
    assert snapshot(store) == before
    return str(refused.value)


# --- Bad cells ----------------------------------------------------------------------


def test_a_bad_date_names_file_line_column_value_and_format(
    store: Engine, tmp_path: Path
) -> None:
    bad = GOOD_ROWS[1].replace("2/25/2013", "13/45/2013")
    file = write(
        tmp_path,
        "ibm.csv",
        [IBM_HEADER, GOOD_ROWS[0], NEW_ROW.format(amount="1.00"), bad],
    )

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 4, column 'DueDate': '13/45/2013' is not a date in the "
        "format %m/%d/%Y"
    )


def test_a_bad_amount_is_refused(store: Engine, tmp_path: Path) -> None:
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, NEW_ROW.format(amount="$12.50")])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'InvoiceAmount': '$12.50' is not an amount with "
        "decimal separator '.'"
    )


@pytest.mark.parametrize("amount", ["1e3", "NaN", "1_000", "--5", "5-", "1.2.3", "."])
def test_texts_that_python_would_read_as_numbers_are_no_amounts(
    store: Engine, tmp_path: Path, amount: str
) -> None:
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, NEW_ROW.format(amount=amount)])

    message = refused_ledger(store, file)

    assert "line 2, column 'InvoiceAmount'" in message


def test_more_than_two_decimals_are_refused(store: Engine, tmp_path: Path) -> None:
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, NEW_ROW.format(amount="12.345")])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'InvoiceAmount': '12.345' has more than 2 decimals"
    )


def test_misplaced_thousands_separators_are_refused(
    store: Engine, tmp_path: Path
) -> None:
    # A file with "." before the cents read with the Dutch mapping: 1234.56 must
    # not become 123456.
    mapping = load_mapping(MAPPINGS / "nl-grootboekposten.toml", "ledger")
    header = (
        "Klantnummer;Naam;Documentnummer;Boekingsdatum;Vervaldatum;Bedrag;"
        "Openstaand bedrag;Vereffend op;Betwist"
    )
    file = write(
        tmp_path, "nl.csv", [header, "K1;;F1;01-03-2024;31-03-2024;1234.56;;;"]
    )

    message = refused_ledger(store, file, mapping)

    assert message == (
        f"{file} line 2, column 'Bedrag': '1234.56' is not an amount with decimal "
        "separator ',' and thousands separator '.' (e.g. -1.234,56)"
    )


def test_an_empty_required_cell_is_refused(store: Engine, tmp_path: Path) -> None:
    row = NEW_ROW.format(amount="1.00").replace("9999-ABCDE", "")
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, row])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'customerID': '' is empty; a value is required"
    )


def test_an_empty_required_date_is_refused(store: Engine, tmp_path: Path) -> None:
    row = NEW_ROW.format(amount="1.00").replace("2/1/2013", "")
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, row])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'DueDate': '' is empty; a date is required"
    )


def test_a_boolean_in_neither_list_is_refused(store: Engine, tmp_path: Path) -> None:
    row = NEW_ROW.format(amount="1.00").replace(",No,", ",Maybe,")
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, row])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'Disputed': 'Maybe' is not one of the true values "
        "(Yes) or false values (No)"
    )


def test_a_customer_number_longer_than_the_store_allows_is_refused(
    store: Engine, tmp_path: Path
) -> None:
    row = NEW_ROW.format(amount="1.00").replace("9999-ABCDE", "X" * 41)
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, row])

    message = refused_ledger(store, file)

    assert message.endswith("is longer than 40 characters")
    assert "line 2, column 'customerID'" in message


def test_a_row_with_too_many_fields_is_refused(store: Engine, tmp_path: Path) -> None:
    row = NEW_ROW.format(amount="1.00") + ",extra"
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, row])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2 has 13 fields where the header line has 12; check the "
        f"delimiter (',' in {MAPPINGS / 'ibm-accounts-receivable.toml'}) and the "
        "quotes around texts that contain it"
    )


def test_a_bad_row_after_written_batches_leaves_nothing_behind(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    rows = [
        NEW_ROW.format(amount="1.00").replace("0000000001", f"{i:010d}")
        for i in range(2, 9)
    ]
    bad = NEW_ROW.format(amount="oops")
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, *rows, bad])

    message = refused_ledger(store, file, condition="LATER")

    assert "line 9, column 'InvoiceAmount': 'oops'" in message


# --- Bad files ----------------------------------------------------------------------


def test_a_mapped_header_missing_from_the_file_is_refused(
    store: Engine, tmp_path: Path
) -> None:
    file = write(
        tmp_path,
        "ibm.csv",
        [IBM_HEADER.replace("DueDate", "Due"), NEW_ROW.format(amount="1.00")],
    )

    message = refused_ledger(store, file)

    assert message.startswith(
        f"{file}: column 'DueDate' (due_date in "
        f"{MAPPINGS / 'ibm-accounts-receivable.toml'}) is not in the file; its "
        "header line has: 'countryCode', 'customerID', 'PaperlessDate', "
    )
    assert "'Due'" in message


def test_undecodable_bytes_are_refused_with_their_line(
    store: Engine, tmp_path: Path
) -> None:
    file = tmp_path / "ibm.csv"
    text = "\n".join([IBM_HEADER, *GOOD_ROWS, NEW_ROW.format(amount="1.00")]) + "\n"
    file.write_bytes(text.replace("9999-ABCDE", "9999-ÄBCDE").encode("cp1252"))

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 4 cannot be read as utf-8-sig (bytes c4); set the file's "
        f"encoding in [source] of {MAPPINGS / 'ibm-accounts-receivable.toml'}, "
        'e.g. "cp1252"'
    )


def test_a_completely_empty_file_is_refused(store: Engine, tmp_path: Path) -> None:
    file = tmp_path / "empty.csv"
    file.write_bytes(b"")

    message = refused_ledger(store, file)

    assert message == f"{file} has no header line; the first line must name the columns"


def test_a_missing_file_is_refused(store: Engine, tmp_path: Path) -> None:
    message = refused_ledger(store, tmp_path / "nowhere.csv")

    assert message == f"{tmp_path / 'nowhere.csv'}: no such file"


def test_a_reminder_of_an_unknown_customer_is_refused(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(MAPPINGS / "reminders.toml", "reminders")
    good = write(
        tmp_path, "r1.csv", ["Customer No.,Issued On,Level", "0379-NEVHP,2013-03-01,1"]
    )
    importing.import_reminders(store, good, mapping)
    file = write(
        tmp_path,
        "r2.csv",
        [
            "Customer No.,Issued On,Level",
            "0379-NEVHP,2013-04-01,2",
            "NOBODY,2013-04-01,1",
        ],
    )
    before = snapshot(store)

    with pytest.raises(InputError) as refused:
        importing.import_reminders(store, file, mapping)

    assert snapshot(store) == before
    assert str(refused.value) == (
        f"{file} line 3, column 'Customer No.': 'NOBODY' is not a customer in the "
        "store; import the customers or the ledger first"
    )


def test_a_customer_twice_in_a_customers_file_is_refused(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(MAPPINGS / "bc-customers.toml", "customers")
    file = write(
        tmp_path,
        "c.csv",
        ["No.,Name,Reminder Terms Code,Blocked", "K1,A,NEW,", "K1,B,NEW,"],
    )
    before = snapshot(store)

    with pytest.raises(InputError) as refused:
        importing.import_customers(store, file, mapping)

    assert snapshot(store) == before
    assert str(refused.value) == (
        f"{file} line 3, column 'No.': 'K1' is on line 2 already; a customer may "
        "appear once in the file"
    )


def test_a_mapping_of_another_kind_is_refused(store: Engine, tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "reminders.toml", "reminders")
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, *GOOD_ROWS])

    message = refused_ledger(store, file, mapping)

    assert message == (
        f"{MAPPINGS / 'reminders.toml'} is a mapping for reminders files, not for "
        "ledger files"
    )


# --- Bad mappings -----------------------------------------------------------------


def mapping_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


COLUMNS = """
[columns]
customer_no = "Customer"
posting_date = "Posted"
due_date = "Due"
amount = "Amount"
"""


def test_an_unknown_source_key_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[source]\ndelimter = ";"\n' + COLUMNS)

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value) == (
        f"{path}: [source] unknown key 'delimter'; valid keys: delimiter, encoding, "
        "date_format, decimal_separator, thousands_separator, true_values, "
        "false_values"
    )


def test_an_unknown_column_field_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, COLUMNS + 'invoice_no = "Invoice"\n')

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value) == (
        f"{path}: [columns] unknown field 'invoice_no' for a ledger file; valid "
        "fields: customer_no, posting_date, due_date, amount, document_no, "
        "customer_name, remaining_amount, closed_at, disputed, on_hold"
    )


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, COLUMNS + '[options]\nx = "y"\n')

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value) == (
        f"{path}: unknown section 'options'; valid sections: source, columns"
    )


def test_a_missing_required_field_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, COLUMNS.replace('amount = "Amount"\n', ""))

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value) == (
        f"{path}: [columns] the required field 'amount' is missing; required: "
        "customer_no, posting_date, due_date, amount; optional: document_no, "
        "customer_name, remaining_amount, closed_at, disputed, on_hold"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('delimiter = ";;"', "[source] delimiter: ';;' must be one character"),
        ('encoding = "utf9"', "[source] encoding: 'utf9' is not a known encoding"),
        ('date_format = "%m/%Y"', "[source] date_format: '%m/%Y' does not read"),
        ('decimal_separator = ";"', "[source] decimal_separator: Input should be"),
        (
            'decimal_separator = ","\nthousands_separator = ","',
            "[source] thousands_separator: must differ",
        ),
        ('thousands_separator = "_"', "[source] thousands_separator: '_' is not"),
        (
            'true_values = ["J"]\nfalse_values = ["J"]',
            "[source] 'J' is in both true_values and false_values",
        ),
        (
            'true_values = ["Yes"]\nfalse_values = ["YES"]',
            "[source] 'Yes' is in both true_values and false_values, which match "
            "whatever the case",
        ),
    ],
)
def test_a_bad_source_setting_is_refused(
    tmp_path: Path, source: str, expected: str
) -> None:
    path = mapping_file(tmp_path, f"[source]\n{source}\n" + COLUMNS)

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value).startswith(f"{path}: {expected}")


def test_a_mapping_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, "[columns\n")

    with pytest.raises(InputError) as refused:
        load_mapping(path, "ledger")

    assert str(refused.value).startswith(f"{path}: not valid TOML: ")


def test_a_mapping_without_columns_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[source]\ndelimiter = ";"\n')

    with pytest.raises(InputError) as refused:
        load_mapping(path, "reminders")

    assert str(refused.value) == (
        f"{path}: the [columns] table is missing; it names the file's column of "
        "each field: customer_no, issued_on, level are required"
    )


def test_a_long_condition_code_is_refused(store: Engine, tmp_path: Path) -> None:
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, NEW_ROW.format(amount="1.00")])

    message = refused_ledger(store, file, condition="X" * 21)

    assert message == f"dunning condition {'X' * 21!r} is longer than 20 characters"


def test_an_empty_amount_is_refused(store: Engine, tmp_path: Path) -> None:
    file = write(tmp_path, "ibm.csv", [IBM_HEADER, NEW_ROW.format(amount=" ")])

    message = refused_ledger(store, file)

    assert message == (
        f"{file} line 2, column 'InvoiceAmount': ' ' is empty; an amount is required"
    )
