"""Demo data: made-up customers with a ledger and reminders, always the same for a seed.

`generate_demo` fills an empty store with customers whose payment behaviour ranges from
prompt payers to long arrears, disputes and payment arrangements, so that the default
setup gives every segment and a realistic mix of proposals. One `random.Random(seed)`
drives every choice and every date counts back from `today`, so the same seed and
reference date always give the same rows.

It is built for a million customers (ten million ledger entries in about two and a
half minutes on two cores): they are generated and written in chunks of plain tuples
through Core executemany, in one write transaction, so memory stays flat and a failed
load leaves the store empty. On SQLite the rows are handed to the driver in the
columns' storage form (see `_sqlite_storage_form`), which skips a per-value type
conversion that would cost more than generating the data. Switching off fsyncs,
enlarging SQLite's page cache and dropping the secondary indexes during the load were
measured and left out: none made a difference beyond the noise.
"""

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, insert, select
from sqlalchemy.engine import Dialect

from segment_tui.errors import InputError
from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.rules.setup import load_setup
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import Base, Customer, DunningCondition, Money

log = logging.getLogger(__name__)

DEFAULT_CONDITIONS: tuple[str, ...] = ("SOFT", "STANDARD", "STRICT", "INTENSIVE")
DEFAULT_SETUP_FILE = Path(__file__).parent / "data" / "segments.toml"

CHUNK_CUSTOMERS = 10_000
"""Customers generated and written at a time: big enough for fast executemany, small
enough that a chunk's rows (about 100,000 ledger entries) take a few tens of MB."""

SPAN_DAYS = 730
"""Invoices are spread over the two years before the reference date."""

REMINDER_DAYS = (7, 21, 35)
"""Days past the due date on which reminder levels 1, 2 and 3 go out, as in STANDARD."""

REMINDER_RUN_DAYS = 7
"""Reminders are issued in a run every this many days, on the weekday of `today`."""

PAYMENT_TERMS = (14, 30)
"""Days from posting to due date; a customer has one of these."""

ARREARS_AGE_DAYS = 90
"""Only invoices overdue longer than this stay unpaid for the customers in arrears."""

# --- Customers: who they are and how they pay ---------------------------------------


@dataclass(frozen=True)
class Profile:
    """A kind of payment behaviour, and how many in a hundred customers have it."""

    name: str
    weight: int
    late_chance: float = 0.0
    """The chance that an invoice is paid later than the due date plus three days."""
    late_days: tuple[int, int] = (0, 0)
    """The range of days past the due date of a late payment."""
    unpaid_chance: float = 0.0
    """The chance that an invoice long past due is still unpaid, wholly or partly."""
    disputes: bool = False
    """Whether the customer disputes some recent invoices (and leaves them unpaid)."""
    instalments: bool = False
    """Whether the customer pays monthly instalments on account."""
    flag: str | None = None
    """The customer flag that this kind of customer carries."""


PROFILES: tuple[Profile, ...] = (
    Profile("prompt", 45),
    Profile("occasionally_late", 25, 0.3, (5, 30)),
    Profile("chronically_late", 12, 0.7, (10, 90)),
    Profile("long_arrears", 6, 0.6, (15, 120), unpaid_chance=0.6),
    Profile("disputes", 4, 0.1, (5, 20), disputes=True),
    Profile(
        "payment_arrangement",
        3,
        0.5,
        (20, 90),
        unpaid_chance=0.5,
        instalments=True,
        flag="payment_arrangement",
    ),
    Profile(
        "debt_restructuring",
        2,
        0.8,
        (30, 150),
        unpaid_chance=0.7,
        flag="debt_restructuring",
    ),
    Profile("handed_over", 1, 0.8, (30, 150), unpaid_chance=0.8, flag="handed_over"),
    Profile("blocked", 1, 0.7, (10, 90), unpaid_chance=0.3, flag="blocked"),
    Profile(
        "segmentation_blocked",
        1,
        0.3,
        (5, 30),
        flag="segmentation_blocked",
    ),
)
"""The weights add up to 100: every hundred customers hold exactly these numbers."""

CONDITION_WEIGHTS: dict[str | None, int] = {
    "STANDARD": 60,
    "SOFT": 10,
    "STRICT": 8,
    "INTENSIVE": 4,
    None: 18,
}
"""How often a customer currently has each dunning condition (None: none at all).

Mostly STANDARD, so that prompt payers and those in arrears get a proposal and the
occasionally late ones mostly do not. A condition code not named here weighs 5."""

# --- Names: small lists combined, Dutch-looking and international -------------------

FIRST_NAMES = (
    "Jan", "Piet", "Kees", "Henk", "Sanne", "Anouk", "Femke", "Lotte", "Daan", "Sem",
    "Lucas", "Emma", "Julia", "Noor", "Bram", "Thijs", "Ingrid", "Marieke", "Wim",
    "Gerrit", "Joke", "Ria", "Ruud", "Esther", "Mohamed", "Fatima", "Ayşe", "Mehmet",
    "Priya", "Wei", "Anna", "Piotr", "Agnieszka", "João", "Maria", "Sven", "Chloé",
    "Oğuz", "Nadia", "Youssef",
)  # fmt: skip
DUTCH_SURNAMES = (
    "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters",
    "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok", "Jacobs", "Vermeulen",
)  # fmt: skip
PREFIXED_SURNAMES = (
    ("de", "Vries"), ("van", "Dijk"), ("van der", "Linden"), ("van den", "Berg"),
    ("de", "Boer"), ("de", "Graaf"), ("van der", "Wal"), ("de", "Haan"),
    ("van", "Leeuwen"), ("van der", "Veen"), ("van", "Wijk"), ("van den", "Heuvel"),
    ("ter", "Horst"), ("van 't", "Hof"), ("van de", "Kamp"), ("de", "Jong"),
)  # fmt: skip
"""Surnames with their prefix (tussenvoegsel), written lower case after a first name."""
INTERNATIONAL_SURNAMES = (
    "Yılmaz", "El Amrani", "Kowalski", "Nguyen", "Santos", "Müller", "García",
    "O'Brien", "Öztürk", "Chen", "Kumar", "Bouzid", "Novák", "Ferreira", "Ødegaard",
)  # fmt: skip
FOUNDATIONS = (
    "Buurtwerk Oost", "Het Anker", "De Regenboog", "Sportpark Noord",
    "Zorg en Welzijn", "Muziekschool De Toon", "Voedselbank Centrum",
)  # fmt: skip
STREETS = ("Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsplein", "Lindelaan")
AWKWARD_NAMES = (
    "[Test] Jansen",
    "Jansen [oud]",
    "[bold]Visser[/bold]",
    "Mulder [/]",
    "De Vries & Zn [NL]",
    "Bakker & Bakker",
    "[red]Smit",
    r"Kok \[escaped]",
)
"""Names that a markup parser would mangle or choke on: they prove the UI shows user
data as plain text."""


# --- The generator ------------------------------------------------------------------


@dataclass
class DemoResult:
    """How much demo data was written."""

    customers: int
    ledger_entries: int
    reminders: int


@dataclass
class _Chunk:
    """The rows of a chunk of customers, as tuples in the order of `_COLUMNS`."""

    customers: list[tuple[object, ...]] = field(default_factory=list)
    ledger: list[tuple[object, ...]] = field(default_factory=list)
    reminders: list[tuple[object, ...]] = field(default_factory=list)


_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("customer_no", "name", "dunning_condition", "segment", *FLAG_NAMES),
    "ledger_entry": (
        "customer_no",
        "entry_key",
        "document_no",
        "posting_date",
        "due_date",
        "amount",
        "remaining_amount",
        "closed_at",
        "disputed",
        "on_hold",
    ),
    "reminder": ("customer_no", "issued_on", "level"),
}


class _Generator:
    """Makes the rows of one customer after another from a single random stream.

    Dates are day offsets from the reference date (0 is `today`, negative is
    earlier), turned into stored values by looking them up in `days`, so that no date
    arithmetic happens per row. Amounts are whole cents. Each entry is keyed
    "doc:" and its document number, as an import of that document keys it.
    """

    def __init__(
        self,
        seed: int,
        days: Sequence[object],
        back: int,
        conditions: Sequence[str],
        number_width: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.days = days
        self.back = back
        self.number_width = number_width
        self.condition_slots = _weighted_slots(conditions)
        self.profile_block: list[Profile] = []
        self.invoice_no = self.credit_memo_no = self.payment_no = 0

    def chunk(self, first: int, count: int) -> _Chunk:
        """The rows of customers number `first` to `first + count - 1`."""
        chunk = _Chunk()
        for number in range(first, first + count):
            self._customer(number, chunk)
        return chunk

    def _next_profile(self) -> Profile:
        # Profiles are dealt from shuffled blocks of a hundred, so that even a small
        # demo holds every kind of customer in exactly the intended proportions.
        if not self.profile_block:
            self.profile_block = [p for p in PROFILES for _ in range(p.weight)]
            self.rng.shuffle(self.profile_block)
        return self.profile_block.pop()

    def _customer(self, number: int, chunk: _Chunk) -> None:
        rnd = self.random
        profile = self._next_profile()
        customer_no = f"C{number:0{self.number_width}d}"
        name, organisation = self._name()
        condition = self.condition_slots[int(rnd() * len(self.condition_slots))]
        chunk.customers.append(
            (
                customer_no,
                name,
                condition,
                None,
                *(profile.flag == flag for flag in FLAG_NAMES),
            )
        )

        # Organisations get larger bills; a customer's invoices vary around its base.
        if organisation:
            base = 20_000 + int(rnd() * 280_000)
        else:
            base = 2_000 + int(rnd() * 38_000)
        self._invoices(customer_no, profile, base, chunk)
        self._credits(customer_no, profile, base, chunk)

    def _name(self) -> tuple[str, bool]:
        """A made-up name, and whether it is an organisation's."""
        rnd = self.random
        pick = self._pick
        roll = rnd()
        if roll < 0.02:
            return pick(AWKWARD_NAMES), False
        if roll < 0.14:
            kind = rnd()
            surname = pick(DUTCH_SURNAMES)
            if kind < 0.3:
                return f"Stichting {pick(FOUNDATIONS)}", True
            if kind < 0.65:
                return f"{surname} B.V.", True
            if kind < 0.85:
                return f"VvE {pick(STREETS)} {1 + int(rnd() * 120)}", True
            return f"{surname} & {pick(DUTCH_SURNAMES)}", True
        first = pick(FIRST_NAMES)
        roll = rnd()
        if roll < 0.2:
            return f"{first} {pick(INTERNATIONAL_SURNAMES)}", False
        if roll < 0.55:
            prefix, surname = PREFIXED_SURNAMES[int(rnd() * len(PREFIXED_SURNAMES))]
            return f"{first} {prefix} {surname}", False
        return f"{first} {pick(DUTCH_SURNAMES)}", False

    def _pick(self, items: Sequence[str]) -> str:
        return items[int(self.random() * len(items))]

    def _invoices(
        self, customer_no: str, profile: Profile, base: int, chunk: _Chunk
    ) -> None:
        """About ten invoices over the last two years, paid as the profile pays."""
        rnd = self.random
        days = self.days
        back = self.back
        ledger = chunk.ledger
        count = 6 + int(rnd() * 9)
        gap = SPAN_DAYS / count
        term = PAYMENT_TERMS[int(rnd() * len(PAYMENT_TERMS))]
        late_from, late_to = profile.late_days
        late_range = late_to - late_from + 1
        reminders: dict[int, int] = {}

        for index in range(count):
            posted = int(index * gap + rnd() * gap) - SPAN_DAYS
            due = posted + term
            cents = int(base * (0.75 + 0.5 * rnd()))

            # paid: the day offset of the payment, None when it never comes. On time
            # means up to three days late, inside the default setup's tolerance.
            paid: int | None
            if rnd() < profile.late_chance:
                paid = due + late_from + int(rnd() * late_range)
            else:
                paid = posted + 1 + int(rnd() * (term + 3))
            long_overdue = -due > ARREARS_AGE_DAYS
            if profile.unpaid_chance and long_overdue and rnd() < profile.unpaid_chance:
                paid = None
            disputed = profile.disputes and (
                index == count - 2 or (posted > -300 and rnd() < 0.25)
            )
            if disputed and rnd() < 0.7:
                paid = None

            if paid is None or paid > 0:
                closed_at = None
                remaining = cents
                if paid is None and not disputed and rnd() < 0.3:
                    remaining = int(cents * (0.2 + 0.6 * rnd()))
                reminded_until = 1
            else:
                closed_at = days[paid + back]
                remaining = 0
                reminded_until = paid

            on_hold = disputed and closed_at is None and rnd() < 0.5
            self.invoice_no += 1
            document_no = f"INV{self.invoice_no:08d}"
            ledger.append(
                (
                    customer_no,
                    "doc:" + document_no,
                    document_no,
                    days[posted + back],
                    days[due + back],
                    cents,
                    remaining,
                    closed_at,
                    disputed,
                    on_hold,
                )
            )
            if on_hold:
                continue

            # Reminders go out in a weekly run, one per customer at the highest level
            # due, while an invoice is unpaid (one on hold gets none).
            for level, after in enumerate(REMINDER_DAYS, start=1):
                run = due + after
                run += -run % REMINDER_RUN_DAYS
                if run >= reminded_until:
                    break
                if reminders.get(run, 0) < level:
                    reminders[run] = level

        for day in sorted(reminders):
            chunk.reminders.append((customer_no, days[day + back], reminders[day]))

    def _credits(
        self, customer_no: str, profile: Profile, base: int, chunk: _Chunk
    ) -> None:
        """Negative entries: a few credit memos, payments on account, instalments."""
        rnd = self.random
        days = self.days
        back = self.back
        ledger = chunk.ledger

        if rnd() < 0.06:
            day = days[-int(rnd() * SPAN_DAYS) + back]
            self.credit_memo_no += 1
            document_no = f"CRM{self.credit_memo_no:08d}"
            cents = -int(base * (0.1 + 0.5 * rnd()))
            ledger.append(
                (
                    customer_no,
                    "doc:" + document_no,
                    document_no,
                    day,
                    day,
                    cents,
                    0,
                    day,
                    False,
                    False,
                )
            )

        instalments = 3 + int(rnd() * 6) if profile.instalments else 0
        if rnd() < 0.02:
            instalments += 1
        for month in range(instalments):
            day = days[-month * 30 - int(rnd() * 5) + back]
            self.payment_no += 1
            document_no = f"PMT{self.payment_no:08d}"
            cents = -(base // 2)
            # An instalment is applied at once; a lone payment on account stays open.
            remaining = 0 if profile.instalments else cents
            closed_at = day if profile.instalments else None
            ledger.append(
                (
                    customer_no,
                    "doc:" + document_no,
                    document_no,
                    day,
                    day,
                    cents,
                    remaining,
                    closed_at,
                    False,
                    False,
                )
            )


def _weighted_slots(conditions: Sequence[str]) -> list[str | None]:
    """A hundred-odd slots to draw a current dunning condition from, by weight."""
    slots: list[str | None] = []
    for code in (None, *conditions):
        slots.extend([code] * CONDITION_WEIGHTS.get(code, 5))
    return slots


def _calendar(today: date, back: int, forward: int) -> list[date]:
    """Every day from `back` days before `today` to `forward` days after it."""
    first = today - timedelta(days=back)
    return [first + timedelta(days=offset) for offset in range(back + forward + 1)]


# --- Writing: Core executemany, in the storage form on SQLite -----------------------


def _bind(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What the column's type does to a value before it goes to the database."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return lambda value: value
    return processor


def _sqlite_storage_form(dialect: Dialect, days: list[date]) -> list[object]:
    """The stored value of each day, after checking the storage form of the rest.

    On SQLite the generated rows are handed to the driver as they will be stored,
    because converting ten million rows value by value through the column types
    takes longer than generating them. Dates are converted here, once per day of the
    calendar, by the columns' own types; amounts are written as whole cents and
    flags as Python booleans (0 and 1 to SQLite), which this checks the types still
    store. A change of storage form in the models therefore stops the demo with a
    clear error instead of writing rows the store would misread.
    """
    tables = Base.metadata.tables
    ledger, reminder = tables["ledger_entry"], tables["reminder"]
    date_columns = [ledger.c[n] for n in ("posting_date", "due_date", "closed_at")]
    date_columns.append(reminder.c.issued_on)
    stores = [_bind(column, dialect) for column in date_columns]
    sample = days[0]
    if len({repr(store(sample)) for store in stores}) != 1:
        raise RuntimeError("demo: the date columns no longer share one storage form")
    for name in ("amount", "remaining_amount"):
        if _bind(ledger.c[name], dialect)(Decimal("-12.34")) != -1234:
            raise RuntimeError(f"demo: ledger_entry.{name} is no longer whole cents")
    flags = [tables["customer"].c[flag] for flag in FLAG_NAMES]
    for column in (*flags, ledger.c.disputed, ledger.c.on_hold):
        store = _bind(column, dialect)
        if store(True) != 1 or store(False) != 0:
            raise RuntimeError(f"demo: {column} is no longer stored as 0 or 1")
    return [stores[0](day) for day in days]


class _Writer:
    """Writes the rows of a chunk, each table through one executemany."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.storage_form = conn.dialect.name == "sqlite"
        self.tables = {name: Base.metadata.tables[name] for name in _COLUMNS}
        if self.storage_form:
            self.statements = {
                name: self._storage_form_statement(table)
                for name, table in self.tables.items()
            }

    def _storage_form_statement(self, table: Table) -> str:
        """The INSERT of `_COLUMNS`, as SQL text for the driver's executemany."""
        columns = _COLUMNS[table.name]
        compiled = insert(table).compile(
            dialect=self.conn.dialect, column_keys=list(columns)
        )
        # The driver binds by position, so the compiled order must be ours.
        if tuple(compiled.positiontup or ()) != columns:
            raise RuntimeError(f"demo: {table.name} binds its columns in another order")
        return str(compiled)

    def write(self, name: str, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        if self.storage_form:
            self.conn.exec_driver_sql(self.statements[name], rows)
            return
        # Elsewhere the rows go through the column types, the amounts as Decimals.
        # Limitation: on PostgreSQL this writes 1,000 to 1,500 customers a second on
        # two cores, so a million take 10 to 20 minutes; the server's upkeep of
        # indexes and foreign keys dominates, and COPY measured only 1.6 times faster.
        table = self.tables[name]
        columns = _COLUMNS[name]
        money = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, Money)]
        records = []
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            for position in money:
                cents = row[position]
                if isinstance(cents, int):
                    record[columns[position]] = Decimal(cents).scaleb(-2)
            records.append(record)
        self.conn.execute(insert(table), records)


def _ensure_conditions(conn: Connection, conditions: Sequence[str]) -> None:
    """Store the dunning conditions the customers will refer to, if missing."""
    stored = set(conn.execute(select(DunningCondition.code)).scalars())
    missing = [code for code in conditions if code not in stored]
    if not missing:
        return
    descriptions = {
        condition.code: condition.description
        for condition in load_setup(DEFAULT_SETUP_FILE).dunning_condition
    }
    conn.execute(
        insert(DunningCondition),
        [
            {"code": code, "description": descriptions.get(code, "Demo condition")}
            for code in missing
        ],
    )


def generate_demo(
    engine: Engine,
    customers: int = 400,
    *,
    seed: int = 7,
    today: date | None = None,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
) -> DemoResult:
    """Fill an empty store with `customers` made-up customers and their history.

    The schema must exist and the store must hold no customers yet; otherwise an
    `InputError` is raised and nothing is written. Dates lie in the two years up to
    `today` (default: the current date). The dunning conditions in `conditions` are
    stored if missing; customers currently carry one of them, or none.
    """
    if customers < 0:
        raise InputError(f"demo: {customers} customers; give a number of 0 or more")
    for code in conditions:
        if not 0 < len(code) <= 20 or list(conditions).count(code) > 1:
            raise InputError(
                f"demo: dunning condition {code!r} is empty, too long (over 20 "
                "characters) or named twice; give distinct codes"
            )
    reference = today if today is not None else date.today()
    started = time.monotonic()
    result = DemoResult(customers=customers, ledger_entries=0, reminders=0)

    with write_transaction(engine) as conn:
        if conn.execute(select(Customer.customer_no).limit(1)).first() is not None:
            raise InputError(
                "demo: the store already holds customers; generate demo data into "
                "an empty store (a new database file)"
            )
        _ensure_conditions(conn, conditions)

        writer = _Writer(conn)
        back, forward = SPAN_DAYS, max(PAYMENT_TERMS)
        calendar = _calendar(reference, back, forward)
        days: list[object] = list(calendar)
        if writer.storage_form:
            days = _sqlite_storage_form(conn.dialect, calendar)
        generator = _Generator(
            seed, days, back, conditions, number_width=max(6, len(str(customers)))
        )
        for first in range(1, customers + 1, CHUNK_CUSTOMERS):
            count = min(CHUNK_CUSTOMERS, customers + 1 - first)
            chunk = generator.chunk(first, count)
            writer.write("customer", chunk.customers)
            writer.write("ledger_entry", chunk.ledger)
            writer.write("reminder", chunk.reminders)
            result.ledger_entries += len(chunk.ledger)
            result.reminders += len(chunk.reminders)

    log.info(
        "demo data: %d customers, %d ledger entries, %d reminders in %.1f s",
        result.customers,
        result.ledger_entries,
        result.reminders,
        time.monotonic() - started,
    )
    return result
