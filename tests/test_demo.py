"""The demo generator: deterministic, varied enough for the default setup, and stored
exactly as the rest of the store writes it."""

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from segment_tui.demo import DemoResult, generate_demo
from segment_tui.errors import InputError
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.metrics import Invoice, Metrics, Reminder, compute_metrics
from segment_tui.rules.segments import choose_segment
from segment_tui.rules.setup import load_setup
from segment_tui.store import models
from segment_tui.store.engine import create_schema, make_engine

TODAY = date(2026, 3, 15)
DEFAULT_SETUP = Path(__file__).resolve().parents[1] / "data" / "segments.toml"


def _store(url: str) -> Engine:
    engine = make_engine(url)
    create_schema(engine)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = _store(f"sqlite:///{tmp_path / 'demo.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def demo_400(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One store with the default 400 demo customers, shared by the read-only tests."""
    engine = _store(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    generate_demo(engine, today=TODAY)
    yield engine
    engine.dispose()


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every demo row, as the ORM reads it, in a stable order."""
    with Session(engine) as session:
        return {
            "dunning_condition": [
                (c.code, c.description)
                for c in session.scalars(
                    select(models.DunningCondition).order_by("code")
                )
            ],
            "customer": [
                (c.customer_no, c.name, c.dunning_condition)
                + tuple(getattr(c, flag) for flag in FLAG_NAMES)
                for c in session.scalars(
                    select(models.Customer).order_by("customer_no")
                )
            ],
            "ledger_entry": [
                (
                    e.customer_no,
                    e.entry_key,
                    e.document_no,
                    e.posting_date,
                    e.due_date,
                    e.amount,
                    e.remaining_amount,
                    e.closed_at,
                    e.disputed,
                    e.on_hold,
                )
                for e in session.scalars(
                    select(models.LedgerEntry).order_by("customer_no", "entry_key")
                )
            ],
            "reminder": [
                (r.customer_no, r.issued_on, r.level)
                for r in session.scalars(
                    select(models.Reminder).order_by("customer_no", "issued_on")
                )
            ],
        }


def _evaluate(engine: Engine) -> list[tuple[models.Customer, Metrics]]:
    """Every customer with its metrics as of TODAY under the default setup."""
    setup = load_setup(DEFAULT_SETUP)
    invoices: defaultdict[str, list[Invoice]] = defaultdict(list)
    reminders: defaultdict[str, list[Reminder]] = defaultdict(list)
    with Session(engine) as session:
        for entry in session.scalars(select(models.LedgerEntry)):
            invoices[entry.customer_no].append(
                Invoice(
                    posting_date=entry.posting_date,
                    due_date=entry.due_date,
                    amount=entry.amount,
                    remaining_amount=entry.remaining_amount,
                    closed_at=entry.closed_at,
                    disputed=entry.disputed,
                )
            )
        for reminder in session.scalars(select(models.Reminder)):
            reminders[reminder.customer_no].append(
                Reminder(issued_on=reminder.issued_on, level=reminder.level)
            )
        customers = list(session.scalars(select(models.Customer)))
    settings = setup.settings
    return [
        (
            customer,
            compute_metrics(
                invoices[customer.customer_no],
                reminders[customer.customer_no],
                TODAY,
                settings.lookback_months,
                settings.late_tolerance_days,
            ),
        )
        for customer in customers
    ]


def _flags(customer: models.Customer) -> dict[str, bool]:
    return {flag: getattr(customer, flag) for flag in FLAG_NAMES}


# --- Determinism --------------------------------------------------------------------


def test_same_seed_and_date_give_the_same_rows(tmp_path: Path) -> None:
    first = _store(f"sqlite:///{tmp_path / 'a.db'}")
    second = _store(f"sqlite:///{tmp_path / 'b.db'}")

    generate_demo(first, 250, seed=3, today=TODAY)
    generate_demo(second, 250, seed=3, today=TODAY)

    assert _dump(first) == _dump(second)
    first.dispose()
    second.dispose()


@pytest.mark.parametrize(("seed", "today"), [(4, TODAY), (3, date(2026, 3, 16))])
def test_another_seed_or_date_gives_other_rows(
    tmp_path: Path, seed: int, today: date
) -> None:
    first = _store(f"sqlite:///{tmp_path / 'a.db'}")
    second = _store(f"sqlite:///{tmp_path / 'b.db'}")

    generate_demo(first, 250, seed=3, today=TODAY)
    generate_demo(second, 250, seed=seed, today=today)

    one, other = _dump(first), _dump(second)
    assert (
        one["customer"] != other["customer"]
        or one["ledger_entry"] != (other["ledger_entry"])
    )
    first.dispose()
    second.dispose()


def test_chunks_do_not_change_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _store(f"sqlite:///{tmp_path / 'a.db'}")
    chunked = _store(f"sqlite:///{tmp_path / 'b.db'}")
    generate_demo(whole, 120, today=TODAY)

    monkeypatch.setattr("segment_tui.demo.CHUNK_CUSTOMERS", 7)
    generate_demo(chunked, 120, today=TODAY)

    assert _dump(whole) == _dump(chunked)
    whole.dispose()
    chunked.dispose()


# --- What is generated --------------------------------------------------------------


def test_the_result_counts_the_rows(engine: Engine) -> None:
    result = generate_demo(engine, 150, today=TODAY)

    with engine.connect() as conn:
        counted = DemoResult(
            customers=conn.scalar(select(func.count()).select_from(models.Customer))
            or 0,
            ledger_entries=conn.scalar(
                select(func.count()).select_from(models.LedgerEntry)
            )
            or 0,
            reminders=conn.scalar(select(func.count()).select_from(models.Reminder))
            or 0,
        )
    assert result == counted
    assert 8 * 150 <= result.ledger_entries <= 12 * 150


def test_customer_numbers_run_from_one(demo_400: Engine) -> None:
    numbers = [row[0] for row in _dump(demo_400)["customer"]]

    assert numbers == [f"C{n:06d}" for n in range(1, 401)]


def test_names_vary(demo_400: Engine) -> None:
    names = [row[1] for row in _dump(demo_400)["customer"]]

    assert len(set(names)) > 250


def test_names_include_markup_and_ampersands(demo_400: Engine) -> None:
    names = [row[1] for row in _dump(demo_400)["customer"]]

    assert any("[" in name and "]" in name for name in names)
    assert any("&" in name for name in names)
    assert any(name.startswith("Stichting ") for name in names)
    assert any(name.endswith(" B.V.") for name in names)
    assert any(name.startswith("VvE ") for name in names)
    assert any(" van " in name or " de " in name for name in names)


def test_dates_lie_in_the_two_years_up_to_today(demo_400: Engine) -> None:
    entries = _dump(demo_400)["ledger_entry"]
    earliest = TODAY - timedelta(days=731)

    for _, _, _, posted, due, _, _, closed, _, _ in entries:
        assert isinstance(posted, date) and isinstance(due, date)
        assert earliest <= posted <= TODAY
        assert due >= posted
        if closed is not None:
            assert isinstance(closed, date)
            assert posted <= closed <= TODAY
    for _, issued, level in _dump(demo_400)["reminder"]:
        assert isinstance(issued, date)
        assert earliest <= issued <= TODAY
        assert level in (1, 2, 3)


def test_amounts_are_decimals_to_the_cent(demo_400: Engine) -> None:
    with Session(demo_400) as session:
        entries = list(session.scalars(select(models.LedgerEntry)))

    for entry in entries:
        for amount in (entry.amount, entry.remaining_amount):
            assert isinstance(amount, Decimal)
            assert amount.as_tuple().exponent == -2
    assert any(entry.amount < 0 for entry in entries)  # credit memos and payments
    assert all(
        entry.remaining_amount == 0 for entry in entries if entry.closed_at is not None
    )


def test_ledger_has_open_partly_paid_and_disputed_invoices(demo_400: Engine) -> None:
    entries = _dump(demo_400)["ledger_entry"]
    invoices = [e for e in entries if isinstance(e[5], Decimal) and e[5] > 0]
    open_invoices = [e for e in invoices if e[7] is None]

    assert open_invoices
    assert any(
        Decimal(0) < Decimal(str(e[6])) < Decimal(str(e[5])) for e in open_invoices
    )
    assert any(e[8] for e in invoices)  # disputed
    assert any(e[9] for e in invoices)  # on hold
    assert {row[2] for row in _dump(demo_400)["reminder"]} == {1, 2, 3}


def test_every_flag_is_carried_by_a_few_customers(demo_400: Engine) -> None:
    customers = _dump(demo_400)["customer"]

    for position, flag in enumerate(FLAG_NAMES, start=3):
        carriers = sum(1 for row in customers if row[position])
        assert 1 <= carriers <= 20, flag
    flagged = sum(1 for row in customers if any(row[3:]))
    assert flagged == 400 * 8 // 100


def test_every_kind_of_payer_is_present(demo_400: Engine) -> None:
    unflagged = [
        metrics
        for customer, metrics in _evaluate(demo_400)
        if not any(_flags(customer).values())
    ]

    prompt = [m for m in unflagged if m.late_count == 0 and m.overdue_count == 0]
    sometimes_late = [m for m in unflagged if 0 < m.late_ratio < Decimal("0.5")]
    often_late = [m for m in unflagged if m.late_ratio >= Decimal("0.5")]
    in_arrears = [m for m in unflagged if m.max_days_overdue > 90]
    disputing = [m for m in unflagged if m.disputed_count > 0]

    assert len(prompt) >= 0.4 * 400
    assert len(sometimes_late) >= 0.1 * 400
    assert len(often_late) >= 0.08 * 400
    assert len(in_arrears) >= 0.05 * 400
    assert len(disputing) >= 0.03 * 400


def test_current_conditions_are_mostly_standard(demo_400: Engine) -> None:
    conditions = Counter(row[2] for row in _dump(demo_400)["customer"])

    assert conditions.most_common(1)[0][0] == "STANDARD"
    assert set(conditions) == {"SOFT", "STANDARD", "STRICT", "INTENSIVE", None}


def test_the_default_setup_finds_every_segment_and_a_mix_of_proposals(
    demo_400: Engine,
) -> None:
    setup = load_setup(DEFAULT_SETUP)
    segments: Counter[str | None] = Counter()
    proposals: Counter[tuple[str | None, str]] = Counter()
    excluded = 0

    for customer, metrics in _evaluate(demo_400):
        values = metrics.as_dict() | _flags(customer)
        choice = choose_segment(values, setup)
        excluded += choice.excluded
        segment = choice.segment
        segments[segment.code if segment else None] += 1
        if segment and segment.dunning_condition != customer.dunning_condition:
            proposals[(customer.dunning_condition, segment.dunning_condition)] += 1

    assert {"ARREARS", "POOR", "IRREGULAR", "PROMPT"} <= set(segments)
    assert all(segments[code] >= 10 for code in ("ARREARS", "POOR", "IRREGULAR"))
    assert excluded > 0
    proposal_count = sum(proposals.values())
    assert 0.4 * 400 <= proposal_count <= 0.9 * 400
    assert {proposed for _, proposed in proposals} == {
        "SOFT",
        "STANDARD",
        "STRICT",
        "INTENSIVE",
    }


# --- Consistency with the store -----------------------------------------------------


def test_an_import_of_the_demo_ledger_finds_every_entry(
    engine: Engine, tmp_path: Path
) -> None:
    # The demo keys its entries as an import keys a document: the same documents,
    # exported and imported again, change nothing and add nothing.
    from segment_tui.importing import Mapping, SourceFormat, import_ledger

    generate_demo(engine, today=TODAY, customers=20)
    with Session(engine) as session:
        stored = session.scalars(select(models.LedgerEntry)).all()
        lines = ["Customer,Document,Posted,Due,Amount,Remaining,Closed,Disputed,Hold"]
        lines += [
            f"{e.customer_no},{e.document_no},{e.posting_date},{e.due_date},"
            f"{e.amount},{'' if e.remaining_amount is None else e.remaining_amount},"
            f"{e.closed_at or ''},{'Yes' if e.disputed else ''},"
            f"{'Yes' if e.on_hold else ''}"
            for e in stored
        ]
    file = tmp_path / "ledger.csv"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = Mapping(
        kind="ledger",
        name="m.toml",
        source=SourceFormat(),
        columns={
            "customer_no": "Customer",
            "document_no": "Document",
            "posting_date": "Posted",
            "due_date": "Due",
            "amount": "Amount",
            "remaining_amount": "Remaining",
            "closed_at": "Closed",
            "disputed": "Disputed",
            "on_hold": "Hold",
        },
    )

    result = import_ledger(engine, file, mapping)

    assert (result.unchanged, result.inserted, result.updated) == (len(stored), 0, 0)


def test_foreign_keys_hold(demo_400: Engine) -> None:
    with demo_400.connect() as conn:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        codes = set(conn.scalars(select(models.DunningCondition.code)))
        used = set(conn.scalars(select(models.Customer.dunning_condition)))

    assert broken == []
    assert used - {None} <= codes


def test_conditions_are_stored_with_their_descriptions(demo_400: Engine) -> None:
    stored = _dump(demo_400)["dunning_condition"]
    defaults = load_setup(DEFAULT_SETUP).dunning_condition

    assert stored == sorted((c.code, c.description) for c in defaults)


def test_existing_conditions_are_kept_and_others_used(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(models.DunningCondition(code="MILD", description="Our own"))
        session.commit()

    generate_demo(engine, 100, today=TODAY, conditions=("MILD", "HARSH"))

    rows = _dump(engine)
    assert rows["dunning_condition"] == [
        ("HARSH", "Demo condition"),
        ("MILD", "Our own"),
    ]
    assert {row[2] for row in rows["customer"]} == {"MILD", "HARSH", None}


def test_no_conditions_leaves_every_customer_without_one(engine: Engine) -> None:
    generate_demo(engine, 50, today=TODAY, conditions=())

    rows = _dump(engine)
    assert rows["dunning_condition"] == []
    assert {row[2] for row in rows["customer"]} == {None}


def test_sqlite_rows_are_stored_as_the_column_types_store_them(engine: Engine) -> None:
    generate_demo(engine, 30, today=TODAY)
    with Session(engine) as session:
        demo_entry = session.scalars(
            select(models.LedgerEntry).where(models.LedgerEntry.closed_at.is_not(None))
        ).first()
        demo_reminder = session.scalars(select(models.Reminder)).first()
        assert demo_entry is not None and demo_reminder is not None
        session.add(models.Customer(customer_no="ORM", name="Written by the ORM"))
        session.add(
            models.LedgerEntry(
                customer_no="ORM",
                entry_key="copy",
                posting_date=demo_entry.posting_date,
                due_date=demo_entry.due_date,
                amount=demo_entry.amount,
                remaining_amount=demo_entry.remaining_amount,
                closed_at=demo_entry.closed_at,
                disputed=True,
                on_hold=False,
            )
        )
        session.add(
            models.Reminder(
                customer_no="ORM",
                issued_on=demo_reminder.issued_on,
                level=demo_reminder.level,
            )
        )
        session.commit()
        demo_ids = demo_entry.id, demo_reminder.id

    stored_entry = text(
        "SELECT typeof(posting_date), posting_date, typeof(due_date), due_date, "
        "typeof(amount), amount, typeof(remaining_amount), remaining_amount, "
        "typeof(closed_at), closed_at, typeof(on_hold), on_hold "
        "FROM ledger_entry WHERE id = :id OR customer_no = 'ORM' ORDER BY id"
    )
    stored_reminder = text(
        "SELECT typeof(issued_on), issued_on, typeof(level), level FROM reminder "
        "WHERE id = :id OR customer_no = 'ORM' ORDER BY id"
    )
    stored_flags = text(
        "SELECT typeof(blocked), blocked FROM customer "
        "WHERE customer_no IN ('C000001', 'ORM')"
    )
    with engine.connect() as conn:
        demo_row, orm_row = conn.execute(stored_entry, {"id": demo_ids[0]}).all()
        demo_rem, orm_rem = conn.execute(stored_reminder, {"id": demo_ids[1]}).all()
        flag_rows = conn.execute(stored_flags).all()

    assert demo_row == orm_row
    assert demo_rem == orm_rem
    assert flag_rows[0] == flag_rows[1]


# --- Refusals -----------------------------------------------------------------------


def test_a_store_with_customers_is_refused_and_left_alone(engine: Engine) -> None:
    generate_demo(engine, 20, today=TODAY)
    before = _dump(engine)

    with pytest.raises(InputError, match="already holds customers"):
        generate_demo(engine, 20, seed=8, today=TODAY)

    assert _dump(engine) == before


@pytest.mark.parametrize(
    ("customers", "conditions"),
    [(-1, ("STANDARD",)), (10, ("",)), (10, ("A", "A")), (10, ("X" * 21,))],
)
def test_bad_arguments_are_refused(
    engine: Engine, customers: int, conditions: tuple[str, ...]
) -> None:
    with pytest.raises(InputError, match="demo"):
        generate_demo(engine, customers, today=TODAY, conditions=conditions)

    assert _dump(engine)["customer"] == []


def test_no_customers_writes_nothing(engine: Engine) -> None:
    assert generate_demo(engine, 0, today=TODAY) == DemoResult(0, 0, 0)
    assert _dump(engine)["customer"] == []


# --- Both databases -----------------------------------------------------------------


def test_every_database_stores_the_same_demo(db_url: str, tmp_path: Path) -> None:
    reference = _store(f"sqlite:///{tmp_path / 'reference.db'}")
    store = _store(db_url)

    generate_demo(reference, 60, today=TODAY)
    generate_demo(store, 60, today=TODAY)

    assert _dump(store) == _dump(reference)
    reference.dispose()
    store.dispose()
