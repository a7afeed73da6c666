"""Importing ledger entries, customers and reminders: what gets stored, and re-imports.

The IBM sample from `../shared/data/real` goes in through the shipped mapping; the
other cases use small files written by the test, in the layouts of the shipped
mappings. The central law: importing the same file again changes nothing, and an
updated export updates what it has in common with the store.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from segment_tui import importing
from segment_tui.errors import InputError
from segment_tui.importing import Mapping, load_mapping
from segment_tui.store.engine import create_schema, make_engine
from segment_tui.store.models import Customer, DunningCondition, LedgerEntry, Reminder

REAL = Path(__file__).parents[1] / ".." / "shared" / "data" / "real"
IBM_FILE = REAL / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"
MAPPINGS = Path(str(files("segment_tui") / "data" / "mappings"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store with the schema."""
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def shipped(name: str, kind: importing.Kind) -> Mapping:
    return load_mapping(MAPPINGS / name, kind)


def write_mapping(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(
    tmp_path: Path,
    lines: list[str],
    name: str = "ledger.csv",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    path = tmp_path / name
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


def entries(engine: Engine) -> list[LedgerEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(LedgerEntry).order_by(LedgerEntry.customer_no, LedgerEntry.id)
            )
        )


# A ledger layout without document numbers, as in the contract's example.
PLAIN_MAPPING = """
[source]
date_format = "%Y-%m-%d"

[columns]
customer_no = "Customer"
posting_date = "Posted"
due_date = "Due"
amount = "Amount"
closed_at = "Closed"
remaining_amount = "Remaining"
"""
PLAIN_HEADER = "Customer,Posted,Due,Amount,Closed,Remaining"
# The header of the IBM sample's layout (ibm-accounts-receivable.toml).
IBM_HEADER = (
    "customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate"
)


# --- The IBM sample ---------------------------------------------------------------


@pytest.mark.skipif(not IBM_FILE.exists(), reason="shared real data not present")
def test_the_ibm_sample_imports_and_a_second_import_changes_nothing(
    any_store: Engine,
) -> None:
    mapping = shipped("ibm-accounts-receivable.toml", "ledger")

    first = importing.import_ledger(any_store, IBM_FILE, mapping)
    again = importing.import_ledger(any_store, IBM_FILE, mapping)

    assert (first.rows, first.inserted, first.customers_created) == (2466, 2466, 100)
    assert first.warnings == []
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (
        2466,
        0,
        0,
        2466,
    )
    assert again.customers_created == 0
    assert count(any_store, LedgerEntry) == 2466
    assert count(any_store, Customer) == 100


@pytest.mark.skipif(not IBM_FILE.exists(), reason="shared real data not present")
def test_an_ibm_invoice_is_stored_as_the_file_says(store: Engine) -> None:
    # First data line: 391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,55.94,
    # No,1/15/2013,Paper,13,0
    importing.import_ledger(
        store, IBM_FILE, shipped("ibm-accounts-receivable.toml", "ledger")
    )

    with Session(store) as session:
        entry = session.scalars(
            select(LedgerEntry).where(LedgerEntry.document_no == "0000611365")
        ).one()
        disputed = session.scalar(
            select(func.count()).where(LedgerEntry.disputed.is_(True))
        )
    assert entry.customer_no == "0379-NEVHP"
    assert entry.entry_key == "doc:0000611365"
    assert entry.posting_date == date(2013, 1, 2)
    assert entry.due_date == date(2013, 2, 1)
    assert entry.amount == Decimal("55.94")
    assert entry.remaining_amount is None
    assert entry.closed_at == date(2013, 1, 15)
    assert entry.disputed is False
    assert disputed == 561


# --- Identity of entries ----------------------------------------------------------


def test_two_identical_rows_without_document_number_are_two_entries(
    any_store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(
        tmp_path,
        [
            PLAIN_HEADER,
            "C1,2024-01-05,2024-02-04,100.00,,",
            "C1,2024-01-05,2024-02-04,100.00,,",
        ],
    )

    first = importing.import_ledger(any_store, file, mapping)
    again = importing.import_ledger(any_store, file, mapping)

    assert (first.inserted, again.inserted, again.unchanged) == (2, 0, 2)
    stored = entries(any_store)
    assert len(stored) == 2
    assert len({entry.entry_key for entry in stored}) == 2
    assert all(entry.document_no is None for entry in stored)
    assert [e.entry_key.rsplit("#", 1)[1] for e in stored] == ["1", "2"]


def test_an_updated_export_updates_the_entry_it_has_in_common(
    any_store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("bc-customer-ledger-entries.toml", "ledger")
    header = (
        "Customer No.,Customer Name,Document No.,Posting Date,Due Date,Amount,"
        "Remaining Amount,Closed at Date,On Hold,Dispute Status"
    )
    before = write_csv(
        tmp_path,
        [
            header,
            "10000,Adatum,103001,01/10/2024,02/09/2024,250.00,250.00,,,",
            "10000,Adatum,103002,01/20/2024,02/19/2024,80.00,80.00,,,",
        ],
        name="before.csv",
    )
    after = write_csv(
        tmp_path,
        [
            header,
            "10000,Adatum,103001,01/10/2024,02/09/2024,250.00,0.00,02/15/2024,,",
            "10000,Adatum,103002,01/20/2024,02/19/2024,80.00,80.00,,,",
            "10000,Adatum,103003,02/01/2024,03/02/2024,40.00,40.00,,,",
        ],
        name="after.csv",
    )

    importing.import_ledger(any_store, before, mapping)
    result = importing.import_ledger(any_store, after, mapping)

    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    stored = {entry.document_no: entry for entry in entries(any_store)}
    assert len(stored) == 3
    assert stored["103001"].closed_at == date(2024, 2, 15)
    assert stored["103001"].remaining_amount == Decimal("0.00")
    assert stored["103002"].closed_at is None


def test_an_updated_export_without_document_numbers_updates_too(
    store: Engine, tmp_path: Path
) -> None:
    # The entry's identity is its dates and amount: paying it does not make it new.
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    row = "C1,2024-01-05,2024-02-04,100.00"
    before = write_csv(tmp_path, [PLAIN_HEADER, f"{row},,100.00"], name="a.csv")
    after = write_csv(tmp_path, [PLAIN_HEADER, f"{row},2024-02-20,0"], name="b.csv")

    importing.import_ledger(store, before, mapping)
    result = importing.import_ledger(store, after, mapping)

    assert (result.inserted, result.updated) == (0, 1)
    (entry,) = entries(store)
    assert entry.closed_at == date(2024, 2, 20)
    assert entry.remaining_amount == Decimal("0.00")


def test_a_repeated_document_number_is_kept_as_a_second_entry_with_a_warning(
    store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("ibm-accounts-receivable.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            IBM_HEADER,
            "C1,0001,1/2/2013,2/1/2013,10.00,No,",
            "C1,0001,1/2/2013,2/1/2013,10.00,No,",
            "C2,0001,1/2/2013,2/1/2013,10.00,No,",
        ],
    )

    first = importing.import_ledger(store, file, mapping)
    again = importing.import_ledger(store, file, mapping)

    assert first.inserted == 3
    assert again.unchanged == 3
    assert [e.entry_key for e in entries(store)] == [
        "doc:0001",
        "dup:0001#2",
        "doc:0001",
    ]
    assert first.warnings == [
        "line 3: document 0001 of customer C1 appears 2 times; kept as separate entries"
    ]


def test_a_document_number_that_reads_like_a_repeat_is_kept_apart(
    any_store: Engine, tmp_path: Path
) -> None:
    # A repeat of A is kept as "dup:A#2": a document "A#2" of the same customer,
    # before or after it, is an entry of its own, found again as such.
    mapping = shipped("ibm-accounts-receivable.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            IBM_HEADER,
            "C1,A#3,1/2/2013,2/1/2013,10.00,No,",
            "C1,A,1/2/2013,2/1/2013,11.00,No,",
            "C1,A,1/2/2013,2/1/2013,12.00,No,",
            "C1,A,1/2/2013,2/1/2013,13.00,No,",
            "C1,A#2,1/2/2013,2/1/2013,14.00,No,",
        ],
    )

    first = importing.import_ledger(any_store, file, mapping)
    again = importing.import_ledger(any_store, file, mapping)

    assert first.inserted == 5
    assert again.unchanged == 5
    assert sorted((e.entry_key, e.amount) for e in entries(any_store)) == [
        ("doc:A", Decimal("11.00")),
        ("doc:A#2", Decimal("14.00")),
        ("doc:A#3", Decimal("10.00")),
        ("dup:A#2", Decimal("12.00")),
        ("dup:A#3", Decimal("13.00")),
    ]
    assert first.warnings == [
        "line 4: document A of customer C1 appears 2 times; kept as separate entries",
        "line 5: document A of customer C1 appears 3 times; kept as separate entries",
    ]


def test_a_later_export_updates_the_document_that_reads_like_a_repeat(
    any_store: Engine, tmp_path: Path
) -> None:
    # The first export repeats A; the next has A once and A#2 closed. A#2 is the
    # entry that changes, whatever else the files hold: not A's repeat.
    mapping = shipped("ibm-accounts-receivable.toml", "ledger")
    rows = [
        "C1,A,1/2/2013,2/1/2013,1.00,No,",
        "C1,A,1/2/2013,2/1/2013,2.00,No,",
        "C1,A#2,1/3/2013,2/2/2013,3.00,No,",
    ]
    importing.import_ledger(
        any_store, write_csv(tmp_path, [IBM_HEADER, *rows]), mapping
    )
    later = write_csv(
        tmp_path,
        [IBM_HEADER, rows[0], "C1,A#2,1/3/2013,2/2/2013,3.00,No,2/5/2013"],
        name="later.csv",
    )

    result = importing.import_ledger(any_store, later, mapping)

    assert (result.updated, result.unchanged, result.inserted) == (1, 1, 0)
    stored = {e.entry_key: (e.amount, e.closed_at) for e in entries(any_store)}
    assert stored == {
        "doc:A": (Decimal("1.00"), None),
        "dup:A#2": (Decimal("2.00"), None),
        "doc:A#2": (Decimal("3.00"), date(2013, 2, 5)),
    }


# --- Customers made by the ledger import --------------------------------------------


def test_the_ledger_creates_customers_with_the_given_dunning_condition(
    any_store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("nl-grootboekposten.toml", "ledger")
    header = (
        "Klantnummer;Naam;Documentnummer;Boekingsdatum;Vervaldatum;Bedrag;"
        "Openstaand bedrag;Vereffend op;Betwist"
    )
    file = write_csv(
        tmp_path,
        [header, "K1;Jansen;F1;01-03-2024;31-03-2024;10,00;10,00;;Nee"],
        encoding="cp1252",
    )

    result = importing.import_ledger(any_store, file, mapping, condition="NEW")

    assert result.customers_created == 1
    with Session(any_store) as session:
        customer = session.scalars(select(Customer)).one()
        conditions = session.scalars(select(DunningCondition.code)).all()
    assert (customer.customer_no, customer.name) == ("K1", "Jansen")
    assert customer.dunning_condition == "NEW"
    assert customer.blocked is False
    assert conditions == ["NEW"]


def test_known_customers_keep_their_condition_and_take_a_new_name(
    store: Engine, tmp_path: Path
) -> None:
    customers = write_csv(
        tmp_path,
        ["No.,Name,Reminder Terms Code,Blocked", "K1,Old Name,DOMESTIC,"],
        name="customers.csv",
    )
    importing.import_customers(
        store, customers, shipped("bc-customers.toml", "customers")
    )
    mapping = shipped("nl-grootboekposten.toml", "ledger")
    header = (
        "Klantnummer;Naam;Documentnummer;Boekingsdatum;Vervaldatum;Bedrag;"
        "Openstaand bedrag;Vereffend op;Betwist"
    )
    ledger = write_csv(
        tmp_path,
        [
            header,
            "K1;;F1;01-03-2024;31-03-2024;10,00;;;",
            "K1;New Name;F2;01-03-2024;31-03-2024;10,00;;;",
        ],
        encoding="cp1252",
    )

    result = importing.import_ledger(store, ledger, mapping, condition="OTHER")

    assert result.customers_created == 0
    with Session(store) as session:
        customer = session.scalars(select(Customer)).one()
    assert (customer.name, customer.dunning_condition) == ("New Name", "DOMESTIC")


# --- Number, date and text formats ------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom"), [("cp1252", b""), ("utf-8-sig", b"\xef\xbb\xbf")]
)
def test_a_dutch_export_with_crlf_reads_amounts_dates_and_names(
    store: Engine, tmp_path: Path, encoding: str, bom: bytes
) -> None:
    mapping_text = (MAPPINGS / "nl-grootboekposten.toml").read_text(encoding="utf-8")
    mapping_text = mapping_text.replace(
        'encoding = "cp1252"', f'encoding = "{encoding}"'
    )
    mapping = load_mapping(write_mapping(tmp_path, mapping_text), "ledger")
    lines = [
        "Klantnummer;Naam;Documentnummer;Boekingsdatum;Vervaldatum;Bedrag;"
        "Openstaand bedrag;Vereffend op;Betwist",
        "K1;Café Zoë Müller;F1;31-12-2013;30-01-2014;1.234,56;1.234,56;;Ja",
        "K1;Café Zoë Müller;F2;01-12-2013;31-12-2013;-12,5;0;15-12-2013;Nee",
        "K2;Ærø Bouw;F3;02-12-2013;01-01-2014;1.000.000,00;;;",
    ]
    file = tmp_path / "grootboek.csv"
    file.write_bytes(
        bom + "\r\n".join(lines).encode(encoding.removesuffix("-sig")) + b"\r\n"
    )

    result = importing.import_ledger(store, file, mapping)

    assert (result.rows, result.inserted, result.customers_created) == (3, 3, 2)
    stored = {entry.document_no: entry for entry in entries(store)}
    assert stored["F1"].amount == Decimal("1234.56")
    assert stored["F1"].posting_date == date(2013, 12, 31)
    assert stored["F1"].disputed is True
    assert stored["F2"].amount == Decimal("-12.50")
    assert stored["F2"].closed_at == date(2013, 12, 15)
    assert stored["F3"].amount == Decimal("1000000.00")
    assert stored["F3"].remaining_amount is None
    with store.connect() as connection:
        names = {
            row.customer_no: row.name
            for row in connection.execute(select(Customer.customer_no, Customer.name))
        }
    assert names == {"K1": "Café Zoë Müller", "K2": "Ærø Bouw"}


def test_negative_amounts_and_trailing_zero_decimals_are_stored(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(
        tmp_path,
        [
            PLAIN_HEADER,
            "C1,2024-01-05,2024-02-04,-40.5,,",
            "C1,2024-01-06,2024-02-05,12.3400,,",
            "C1,2024-01-07,2024-02-06,+7,,",
            "C1,2024-01-08,2024-02-07,.25,,",
        ],
    )

    importing.import_ledger(store, file, mapping)

    amounts = sorted(entry.amount for entry in entries(store))
    assert amounts == [
        Decimal("-40.50"),
        Decimal("0.25"),
        Decimal("7.00"),
        Decimal("12.34"),
    ]


# Texts near amounts: digits, signs, both separators, spaces, other digits.
AMOUNT_CHARACTERS = "0123456789-+.,' \u00a0\u0663"
AMOUNT_FORMATS = [(".", ","), (",", "."), (".", ""), (",", " "), (".", "'")]


@st.composite
def amount_texts(draw: st.DrawFn) -> str:
    """Well-formed amounts in every grouping, and texts that almost are."""
    if draw(st.booleans()):
        return draw(st.text(AMOUNT_CHARACTERS, max_size=24))
    cents = draw(st.integers(-(10**19), 10**19))
    whole, fraction = divmod(abs(cents), 100)
    grouped = draw(st.booleans())
    separator = draw(st.sampled_from([",", ".", " ", "'"]))
    digits = f"{whole:,}".replace(",", separator) if grouped else str(whole)
    decimal = draw(st.sampled_from([".", ","]))
    tail = draw(st.sampled_from(["", f"{fraction:02d}", f"{fraction:02d}0", "5"]))
    sign = "-" if cents < 0 else draw(st.sampled_from(["", "+"]))
    return f"{sign}{digits}{decimal if tail else ''}{tail}"


@pytest.mark.parametrize(("decimal", "thousands"), AMOUNT_FORMATS)
@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
@settings(max_examples=300, deadline=None, database=None)
@given(text=amount_texts())
def test_an_amount_read_the_fast_way_is_the_amount_read_the_long_way(
    decimal: str, thousands: str, dialect: Any, text: str
) -> None:
    # The common form of an amount skips the general reading; whatever the text,
    # both must agree on the cents and the stored form, or both refuse it.
    mapping = Mapping(
        kind="ledger",
        name="m.toml",
        source=importing.SourceFormat(
            decimal_separator=decimal, thousands_separator=thousands
        ),
        columns={
            "customer_no": "C",
            "posting_date": "P",
            "due_date": "D",
            "amount": "A",
        },
    )
    file = importing._File(Path("f.csv"), mapping, io.StringIO("C,P,D,A\n"))
    cells = importing._Cells(file, dialect)

    try:
        long_way = cells.checked_cents(text, 2, "amount")
    except InputError:
        with pytest.raises(InputError):
            cells.amount(text, 2, "amount")
        return
    cents, stored = cells.amount(text, 2, "amount")
    assert cents == long_way
    assert stored == (cents if dialect.name == "sqlite" else Decimal(cents).scaleb(-2))


def test_a_due_date_before_the_posting_date_is_imported_with_a_warning(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(
        tmp_path,
        [
            PLAIN_HEADER,
            "C1,2024-01-05,2024-02-04,10.00,,",
            "C1,2024-03-05,2024-03-01,10.00,,",
        ],
    )

    result = importing.import_ledger(store, file, mapping)

    assert result.inserted == 2
    assert result.warnings == [
        "line 3: due date 2024-03-01 is before posting date 2024-03-05; imported "
        "as it is"
    ]


def test_a_file_with_only_a_header_imports_nothing(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(tmp_path, [PLAIN_HEADER, "", ",,,,,"])

    result = importing.import_ledger(store, file, mapping)

    assert (result.rows, result.inserted, result.customers_created) == (0, 0, 0)
    assert count(store, LedgerEntry) == 0


def test_quoted_fields_may_hold_the_delimiter_and_line_breaks(
    store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("bc-customer-ledger-entries.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            "Customer No.,Customer Name,Document No.,Posting Date,Due Date,Amount,"
            "Remaining Amount,Closed at Date,On Hold,Dispute Status",
            '10000,"Adatum, Inc.\nSales",D1,01/10/2024,02/09/2024,"1,250.00",,,,',
            "10000,,D2,01/10/2024,02/09/2024,x,,,,",
        ],
    )

    with pytest.raises(InputError) as refused:
        importing.import_ledger(store, file, mapping)

    # The first row spans lines 2 and 3, so the bad one starts on line 4.
    assert "line 4," in str(refused.value)
    file = write_csv(tmp_path, file.read_text().splitlines()[:3])
    importing.import_ledger(store, file, mapping)
    (entry,) = entries(store)
    assert entry.amount == Decimal("1250.00")


# --- Booleans -------------------------------------------------------------------


def test_any_code_means_yes_where_true_values_has_a_star(
    store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("bc-customer-ledger-entries.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            "Customer No.,Customer Name,Document No.,Posting Date,Due Date,Amount,"
            "Remaining Amount,Closed at Date,On Hold,Dispute Status",
            "10000,,D1,01/10/2024,02/09/2024,10.00,10.00,,JOH,PENDING",
            "10000,,D2,01/10/2024,02/09/2024,10.00,10.00,,,",
            "10000,,D3,01/10/2024,02/09/2024,10.00,10.00,,No,No",
        ],
    )

    importing.import_ledger(store, file, mapping)

    flags = {e.document_no: (e.on_hold, e.disputed) for e in entries(store)}
    assert flags == {
        "D1": (True, True),
        "D2": (False, False),
        "D3": (False, False),
    }


def test_true_and_false_values_match_whatever_the_case(
    store: Engine, tmp_path: Path
) -> None:
    # With "*" a text that is not a false value is true: "no" must be the "No" of
    # false_values, not a code meaning yes.
    mapping = shipped("bc-customer-ledger-entries.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            "Customer No.,Customer Name,Document No.,Posting Date,Due Date,Amount,"
            "Remaining Amount,Closed at Date,On Hold,Dispute Status",
            "10000,,D1,01/10/2024,02/09/2024,10.00,10.00,,no,NO",
            "10000,,D2,01/10/2024,02/09/2024,10.00,10.00,, nO ,Pending",
        ],
    )

    importing.import_ledger(store, file, mapping)

    flags = {e.document_no: (e.on_hold, e.disputed) for e in entries(store)}
    assert flags == {"D1": (False, False), "D2": (False, True)}


def test_without_false_values_any_other_text_is_false(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(
        write_mapping(tmp_path, PLAIN_MAPPING + 'disputed = "Disputed"\n'), "ledger"
    )
    file = write_csv(
        tmp_path,
        [
            PLAIN_HEADER + ",Disputed",
            "C1,2024-01-05,2024-02-04,1.00,,,Ja",
            "C1,2024-01-06,2024-02-04,1.00,,,maybe",
            "C1,2024-01-07,2024-02-04,1.00,,,",
        ],
    )

    importing.import_ledger(store, file, mapping)

    stored = sorted(entries(store), key=lambda entry: entry.posting_date)
    assert [entry.disputed for entry in stored] == [True, False, False]


# --- Customers and reminders ---------------------------------------------------------


def test_customers_are_upserted_and_unmapped_fields_are_left_alone(
    any_store: Engine, tmp_path: Path
) -> None:
    mapping = shipped("bc-customers.toml", "customers")
    header = "No.,Name,Reminder Terms Code,Blocked"
    first = write_csv(
        tmp_path,
        [header, "10000,Adatum,DOMESTIC,", "20000,Trey,FOREIGN,All"],
        name="first.csv",
    )
    with_handed_over = load_mapping(
        write_mapping(
            tmp_path,
            '[columns]\ncustomer_no = "No."\nname = "Name"\n'
            'handed_over = "Handed Over"\n',
        ),
        "customers",
    )
    flags = write_csv(
        tmp_path, ["No.,Name,Handed Over", "10000,Adatum,Yes"], name="flags.csv"
    )
    second = write_csv(
        tmp_path,
        [header, "10000,Adatum Corp.,DOMESTIC,", "20000,Trey,FOREIGN,All"],
        name="second.csv",
    )

    created = importing.import_customers(any_store, first, mapping)
    importing.import_customers(any_store, flags, with_handed_over)
    updated = importing.import_customers(any_store, second, mapping)
    again = importing.import_customers(any_store, second, mapping)

    assert (created.inserted, created.updated) == (2, 0)
    assert (updated.updated, updated.unchanged) == (1, 1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    with Session(any_store) as session:
        stored = {c.customer_no: c for c in session.scalars(select(Customer))}
        conditions = sorted(session.scalars(select(DunningCondition.code)))
    assert stored["10000"].name == "Adatum Corp."
    assert stored["10000"].handed_over is True  # not in bc-customers.toml: kept
    assert stored["10000"].blocked is False
    assert stored["20000"].blocked is True
    assert stored["20000"].dunning_condition == "FOREIGN"
    assert conditions == ["DOMESTIC", "FOREIGN"]


def test_reminders_import_once(any_store: Engine, tmp_path: Path) -> None:
    customers = write_csv(
        tmp_path, ["No.,Name,Reminder Terms Code,Blocked", "10000,Adatum,,"], "c.csv"
    )
    importing.import_customers(
        any_store, customers, shipped("bc-customers.toml", "customers")
    )
    mapping = shipped("reminders.toml", "reminders")
    file = write_csv(
        tmp_path,
        [
            "Customer No.,Issued On,Level",
            "10000,2024-02-10,1",
            "10000,2024-02-24,2",
            "10000,2024-02-24,2",
        ],
        name="reminders.csv",
    )

    first = importing.import_reminders(any_store, file, mapping)
    again = importing.import_reminders(any_store, file, mapping)

    assert (first.rows, first.inserted, first.unchanged) == (3, 2, 1)
    assert (again.inserted, again.unchanged) == (0, 3)
    with any_store.connect() as connection:
        stored = connection.execute(
            select(Reminder.issued_on, Reminder.level).order_by(Reminder.issued_on)
        ).all()
    assert [tuple(row) for row in stored] == [
        (date(2024, 2, 10), 1),
        (date(2024, 2, 24), 2),
    ]


def test_batches_do_not_change_the_result(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches: customers met again in a later batch, identical rows split
    # over batches, and entries looked up across batches on the second import.
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    rows = [f"C{i % 3},2024-01-0{1 + i % 2},2024-02-01,5.00,," for i in range(9)]
    file = write_csv(tmp_path, [PLAIN_HEADER, *rows])

    first = importing.import_ledger(store, file, mapping)
    again = importing.import_ledger(store, file, mapping)

    assert (first.inserted, first.customers_created) == (9, 3)
    assert (again.inserted, again.unchanged) == (0, 9)
    assert count(store, LedgerEntry) == 9


def test_entries_of_new_and_known_customers_are_stored_alike(
    any_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entries of a customer this import creates are inserted without a
    # lookup; those of a customer the store had are looked up and upserted. Both
    # in one batch must be stored the same way and be found again the same way.
    monkeypatch.setattr(importing, "BATCH_ROWS", 4)
    customers = write_csv(
        tmp_path,
        ["No.,Name,Reminder Terms Code,Blocked", "KNOWN,Known Ltd,,"],
        name="customers.csv",
    )
    importing.import_customers(
        any_store, customers, shipped("bc-customers.toml", "customers")
    )
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    rows = [
        f"{customer},2024-01-0{day},2024-02-0{day},{day}.50,{closed},{remaining}"
        for day in (1, 2, 3)
        for customer, closed, remaining in (
            ("KNOWN", "", "1.25"),
            ("NEW", "2024-02-10", "0"),
        )
    ]
    first = write_csv(tmp_path, [PLAIN_HEADER, *rows], name="first.csv")
    paid = [row.replace(",,1.25", ",2024-02-20,0") for row in rows]
    second = write_csv(tmp_path, [PLAIN_HEADER, *paid], name="second.csv")

    result = importing.import_ledger(any_store, first, mapping)
    stored = {
        customer: [
            (e.entry_key, e.posting_date, e.amount, e.remaining_amount, e.closed_at)
            for e in entries(any_store)
            if e.customer_no == customer
        ]
        for customer in ("KNOWN", "NEW")
    }
    again = importing.import_ledger(any_store, first, mapping)
    updated = importing.import_ledger(any_store, second, mapping)

    assert (result.inserted, result.customers_created) == (6, 1)
    assert [entry[1:3] for entry in stored["KNOWN"]] == [
        entry[1:3] for entry in stored["NEW"]
    ]
    assert [entry[0][:4] for entry in stored["NEW"]] == ["row:"] * 3
    assert stored["KNOWN"][0][3:] == (Decimal("1.25"), None)
    assert stored["NEW"][0][3:] == (Decimal("0.00"), date(2024, 2, 10))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    assert (updated.inserted, updated.updated, updated.unchanged) == (0, 3, 3)
    assert count(any_store, LedgerEntry) == 6


def test_rows_beyond_a_statement_of_many_rows_are_all_stored(
    any_store: Engine, tmp_path: Path
) -> None:
    # The writer puts many rows into one statement and the rest into single ones;
    # 123 rows fill two statements on SQLite and leave some over, on both paths:
    # the entries of new customers first, then an update of known ones.
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    rows = [
        f"C{i % 7},2024-01-{1 + i % 28:02d},2024-03-01,{i}.{i % 100:02d},,{i}.00"
        for i in range(123)
    ]
    first = write_csv(tmp_path, [PLAIN_HEADER, *rows], name="first.csv")
    paid = [row.replace(f",,{i}.00", ",2024-04-01,0") for i, row in enumerate(rows)]
    second = write_csv(tmp_path, [PLAIN_HEADER, *paid], name="second.csv")

    created = importing.import_ledger(any_store, first, mapping)
    updated = importing.import_ledger(any_store, second, mapping)

    assert (created.inserted, created.customers_created) == (123, 7)
    assert (updated.inserted, updated.updated) == (0, 123)
    stored = sorted(
        (e.amount, e.remaining_amount, e.closed_at) for e in entries(any_store)
    )
    assert stored == [
        (Decimal(f"{i}.{i % 100:02d}"), Decimal("0.00"), date(2024, 4, 1))
        for i in range(123)
    ]


def test_shipped_mappings_load() -> None:
    kinds: dict[str, importing.Kind] = {
        "ibm-accounts-receivable.toml": "ledger",
        "bc-customer-ledger-entries.toml": "ledger",
        "nl-grootboekposten.toml": "ledger",
        "bc-customers.toml": "customers",
        "reminders.toml": "reminders",
    }

    for name, kind in kinds.items():
        assert shipped(name, kind).kind == kind
    assert sorted(p.name for p in MAPPINGS.glob("*.toml")) == sorted(kinds)


# --- Large files: parsed in a second process --------------------------------------


@pytest.fixture(params=["forked", "spawned"])
def in_a_second_process(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Parse every ledger file in a second process, as for a large file: forked,
    and started as a new interpreter, as where the system cannot fork."""
    monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(importing, "SPAWNED_FROM_BYTES", 0)
    monkeypatch.setattr(importing, "FORK_PARSER", request.param == "forked")


@pytest.mark.skipif(not IBM_FILE.exists(), reason="shared real data not present")
def test_a_second_process_stores_the_same_as_one(
    tmp_path: Path, in_a_second_process: None
) -> None:
    mapping = shipped("ibm-accounts-receivable.toml", "ledger")
    stored = []
    for name in ("one", "two"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        create_schema(engine)
        if name == "one":
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(importing, "PARALLEL_FROM_BYTES", 1 << 60)
                patch.setattr(importing, "SPAWNED_FROM_BYTES", 1 << 60)
                importing.import_ledger(engine, IBM_FILE, mapping)
        else:
            result = importing.import_ledger(engine, IBM_FILE, mapping)
            assert (result.rows, result.inserted) == (2466, 2466)
        stored.append(
            sorted(
                (e.customer_no, e.entry_key, e.amount, e.closed_at, e.disputed)
                for e in entries(engine)
            )
        )
        engine.dispose()

    assert stored[0] == stored[1]


def test_a_second_process_sends_the_stored_forms_of_both_databases(
    any_store: Engine, tmp_path: Path, in_a_second_process: None
) -> None:
    # SQLite stores texts and whole numbers, which travel by marshal; PostgreSQL
    # takes dates and decimals, which need pickle. Either way the same is stored.
    mapping = shipped("bc-customer-ledger-entries.toml", "ledger")
    header = (
        "Customer No.,Customer Name,Document No.,Posting Date,Due Date,Amount,"
        "Remaining Amount,Closed at Date,On Hold,Dispute Status"
    )
    file = write_csv(
        tmp_path,
        [
            header,
            '10000,Adatum,103001,01/10/2024,02/09/2024,"1,250.00",0.00,02/15/2024,,',
            "10000,Adatum,103002,01/20/2024,02/19/2024,-80.10,,,No,DISPUTE",
        ],
    )

    result = importing.import_ledger(any_store, file, mapping)

    assert (result.rows, result.inserted) == (2, 2)
    stored = [
        (
            e.document_no,
            e.posting_date,
            e.due_date,
            e.amount,
            e.remaining_amount,
            e.closed_at,
            e.disputed,
            e.on_hold,
        )
        for e in entries(any_store)
    ]
    assert stored == [
        (
            "103001",
            date(2024, 1, 10),
            date(2024, 2, 9),
            Decimal("1250.00"),
            Decimal("0.00"),
            date(2024, 2, 15),
            False,
            False,
        ),
        (
            "103002",
            date(2024, 1, 20),
            date(2024, 2, 19),
            Decimal("-80.10"),
            None,
            None,
            True,
            False,
        ),
    ]


def test_a_second_process_sends_back_refusals_and_warnings(
    store: Engine, tmp_path: Path, in_a_second_process: None
) -> None:
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    good = write_csv(
        tmp_path,
        [PLAIN_HEADER, "C1,2024-03-05,2024-03-01,10.00,,"],
        name="good.csv",
    )
    bad = write_csv(
        tmp_path,
        [PLAIN_HEADER, "C2,2024-03-05,2024-04-01,10.00,,", "C2,2024-13-05,x,1,,"],
        name="bad.csv",
    )

    result = importing.import_ledger(store, good, mapping)
    with pytest.raises(InputError) as refused:
        importing.import_ledger(store, bad, mapping)

    assert result.warnings == [
        "line 2: due date 2024-03-01 is before posting date 2024-03-05; imported "
        "as it is"
    ]
    assert str(refused.value) == (
        f"{bad} line 3, column 'Posted': '2024-13-05' is not a date in the format "
        "%Y-%m-%d"
    )
    assert count(store, LedgerEntry) == 1
    assert count(store, Customer) == 1


def test_a_second_process_that_cannot_start_leaves_the_parsing_to_this_one(
    store: Engine,
    tmp_path: Path,
    in_a_second_process: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fork_fails() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(importing.os, "fork", fork_fails)
    monkeypatch.setattr(importing, "_CHILD_COMMAND", "raise SystemExit(3)")
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(tmp_path, [PLAIN_HEADER, "C1,2024-01-05,2024-02-04,10.00,,"])

    result = importing.import_ledger(store, file, mapping)

    assert (result.rows, result.inserted) == (1, 1)


def test_a_forked_parser_that_fails_is_reported_and_leaves_by_itself(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The forked child has this test's patch; its failure comes back as a message,
    # and it leaves without running anything of the caller (pytest here) again.
    monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(importing, "FORK_PARSER", True)

    def broken(*arguments: Any) -> Iterator[Any]:
        raise ValueError("broken on purpose")
        yield

    monkeypatch.setattr(importing, "_ledger_batches", broken)
    mapping = load_mapping(write_mapping(tmp_path, PLAIN_MAPPING), "ledger")
    file = write_csv(tmp_path, [PLAIN_HEADER, "C1,2024-01-05,2024-02-04,10.00,,"])

    with pytest.raises(RuntimeError, match="broken on purpose"):
        importing.import_ledger(store, file, mapping)

    assert count(store, LedgerEntry) == 0


def test_an_excel_sep_line_above_the_header_is_skipped(
    store: Engine, tmp_path: Path
) -> None:
    mapping = load_mapping(MAPPINGS / "nl-grootboekposten.toml", "ledger")
    file = write_csv(
        tmp_path,
        [
            "sep=;",
            "Klantnummer;Naam;Documentnummer;Boekingsdatum;Vervaldatum;Bedrag;"
            "Openstaand bedrag;Vereffend op;Betwist",
            "K1;;F1;01-03-2024;31-03-2024;10,00;;;",
            "K1;;F2;01-03-2024;31-03-2024;x;;;",
        ],
        encoding="cp1252",
    )

    with pytest.raises(InputError) as refused:
        importing.import_ledger(store, file, mapping)

    assert f"{file} line 4, column 'Bedrag': 'x'" in str(refused.value)
