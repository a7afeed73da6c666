"""What the screen tests share: a small store with proposals, always the same.

The customers and their ledgers come from a seeded random generator, so that every
run (and every SVG snapshot) sees the same proposals. The reference date, the
operator and "today" are fixed for the same reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from segment_tui import services
from segment_tui.app import SegmentApp
from segment_tui.store.engine import make_engine
from segment_tui.store.models import Customer, LedgerEntry, Reminder

REFERENCE = date(2024, 6, 30)
TODAY = date(2024, 7, 1)
OPERATOR = "tester"
SIZE = (120, 40)
SEED = 7

CONDITIONS = ["SOFT", "STANDARD", "STRICT", "INTENSIVE", None]
FIRST = ["Anna", "Bram", "Cas", "Daan", "Eva", "Fleur", "Gijs", "Hanna", "Ivo", "Jet"]
LAST = ["Bakker", "de Vries", "Jansen", "Visser", "Smit", "Mulder", "Bos", "Dekker"]


@dataclass
class Store:
    """A store on disk with its engine, as the app under test opens it."""

    url: str
    engine: Engine

    def app(self, **options: Any) -> SegmentApp:
        return SegmentApp(self.url, operator=OPERATOR, today=TODAY, **options)


def fill(engine: Engine, customers: int = 40, seed: int = SEED) -> None:
    """Customers with a year of invoices of every kind, and some reminders."""
    rng = random.Random(seed)
    customer_rows: list[dict[str, Any]] = []
    ledger_rows: list[dict[str, Any]] = []
    reminder_rows: list[dict[str, Any]] = []
    for number in range(1, customers + 1):
        customer_no = f"C{number:05d}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if number == 3:
            name = "[Test] Bakker & Zn [bold]"
        customer_rows.append(
            {
                "customer_no": customer_no,
                "name": name,
                "dunning_condition": rng.choice(CONDITIONS),
                "handed_over": number % 17 == 0,
            }
        )
        lateness = rng.choice([0, 0, 2, 10, 30, 80])
        for invoice in range(rng.randint(2, 9)):
            posted = REFERENCE - timedelta(days=rng.randint(5, 380))
            due = posted + timedelta(days=14)
            closed: date | None = due + timedelta(days=rng.randint(-5, 5) + lateness)
            if closed is not None and (closed > REFERENCE or rng.random() < 0.15):
                closed = None
            ledger_rows.append(
                {
                    "customer_no": customer_no,
                    "entry_key": f"INV-{number}-{invoice}",
                    "document_no": f"INV-{number}-{invoice}",
                    "posting_date": posted,
                    "due_date": due,
                    "amount": Decimal(rng.randint(2000, 90000)) / 100,
                    "closed_at": closed,
                    "disputed": rng.random() < 0.05,
                }
            )
        for level in range(1, rng.choice([0, 0, 1, 2, 3]) + 1):
            reminder_rows.append(
                {
                    "customer_no": customer_no,
                    "issued_on": REFERENCE - timedelta(days=20 * level),
                    "level": level,
                }
            )
    with engine.begin() as connection:
        connection.execute(insert(Customer), customer_rows)
        connection.execute(insert(LedgerEntry), ledger_rows)
        if reminder_rows:
            connection.execute(insert(Reminder), reminder_rows)


def open_store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'segment.db'}"
    engine = make_engine(url)
    services.initialise(engine, OPERATOR)
    return Store(url, engine)


async def settle(pilot: Any, pause: float = 0.05) -> None:
    """Wait until the app's workers are done and their messages handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(pause)


class Notes:
    """Records the notifications an app shows, so that tests can read them."""

    def __init__(self, app: SegmentApp) -> None:
        self.messages: list[str] = []
        original = app.notify

        def notify(message: str, **options: Any) -> None:
            self.messages.append(message)
            original(message, **options)

        app.notify = notify  # type: ignore[method-assign]

    def __contains__(self, text: str) -> bool:
        return any(text in message for message in self.messages)


def open_proposals(engine: Engine) -> list[tuple[int, str]]:
    """The ids and customers of the open proposals, from the store itself."""
    from sqlalchemy import select

    from segment_tui.store.models import Proposal

    with engine.connect() as connection:
        rows = connection.execute(
            select(Proposal.id, Proposal.customer_no).order_by(Proposal.customer_no)
        )
        return [(int(i), str(c)) for i, c in rows]
