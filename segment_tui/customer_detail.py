"""One customer in detail: what the customer page shows, read in one go.

The customer's metrics and segment choice come from the same functions as the
proposals; the invoices behind them are listed with what they count for as of the
reference date (`open_amount_at`, `Window` from the rules). Nothing here imports
Textual: the screen only lays this out.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from segment_tui import services
from segment_tui.rules.metrics import Invoice, open_amount_at
from segment_tui.rules.setup import Setup
from segment_tui.rules.window import Window
from segment_tui.services import Change, Evaluation
from segment_tui.store.metrics_sql import FLAG_COLUMNS
from segment_tui.store.models import Customer, LedgerEntry, Proposal, Reminder


@dataclass(frozen=True)
class LedgerLine:
    """An invoice as the page lists it, with what it counts for as of R."""

    document_no: str
    posting_date: date
    due_date: date
    amount: Decimal
    open_amount: Decimal
    closed_at: date | None
    disputed: bool


@dataclass(frozen=True)
class CustomerDetail:
    """Everything the page shows about one customer, read in one go."""

    customer_no: str
    name: str
    dunning_condition: str | None
    segment: str | None
    flags: dict[str, bool]
    reference: date
    window: Window
    tolerance: int
    setup_version: int | None
    setup: Setup | None
    evaluation: Evaluation | None
    invoices: list[LedgerLine]
    reminders: list[tuple[date, int]]
    changes: list[Change]
    proposal: tuple[str | None, str, str] | None
    """The open proposal: current condition, proposed segment, proposed condition."""

    def open_invoices(self) -> list[LedgerLine]:
        return [line for line in self.invoices if line.open_amount > 0]

    def paid_invoices(self) -> list[LedgerLine]:
        return [line for line in self.invoices if line.closed_at in self.window]


def load_customer(
    engine: Engine, customer_no: str, reference: date
) -> CustomerDetail | None:
    """Read one customer's page as of `reference`; None for an unknown customer."""
    # The ledger and reminder lists are plain reads of the customer's own rows;
    # what they count for is decided by the rules (`open_amount_at`, `Window`).
    with engine.connect() as connection:
        customer = connection.execute(
            select(Customer.__table__).where(Customer.customer_no == customer_no)
        ).first()
        if customer is None:
            return None
        stored = services.current_setup(connection)
        setup = stored[1] if stored else None
        lookback = setup.settings.lookback_months if setup else 12
        tolerance = setup.settings.late_tolerance_days if setup else 0
        evaluation = None
        if setup is not None:
            evaluation = next(
                services.iter_evaluations(
                    connection, setup, reference, customer_nos=[customer_no]
                ),
                None,
            )
        entries = connection.execute(
            select(LedgerEntry.__table__)
            .where(
                LedgerEntry.customer_no == customer_no,
                LedgerEntry.amount > 0,
                LedgerEntry.posting_date <= reference,
            )
            .order_by(LedgerEntry.due_date, LedgerEntry.id)
        )
        invoices = [_ledger_line(entry, reference) for entry in entries]
        reminders = [
            (row.issued_on, row.level)
            for row in connection.execute(
                select(Reminder.issued_on, Reminder.level)
                .where(Reminder.customer_no == customer_no)
                .order_by(Reminder.issued_on.desc(), Reminder.level.desc())
            )
        ]
        proposal_row = connection.execute(
            select(
                Proposal.current_condition,
                Proposal.segment,
                Proposal.proposed_condition,
            ).where(Proposal.customer_no == customer_no)
        ).first()
        flags = {flag: bool(getattr(customer, flag)) for flag in FLAG_COLUMNS}
        proposal = None
        if proposal_row is not None:
            proposal = (proposal_row[0], proposal_row[1], proposal_row[2])
        return CustomerDetail(
            customer_no=customer.customer_no,
            name=customer.name,
            dunning_condition=customer.dunning_condition,
            segment=customer.segment,
            flags=flags,
            reference=reference,
            window=Window.before(reference, lookback),
            tolerance=tolerance,
            setup_version=stored[0] if stored else None,
            setup=setup,
            evaluation=evaluation,
            invoices=invoices,
            reminders=reminders,
            changes=services.history(engine, customer_no=customer_no),
            proposal=proposal,
        )


def _ledger_line(entry: Any, reference: date) -> LedgerLine:
    """A row of `ledger_entry` with its open amount as of the reference date."""
    invoice = Invoice(
        posting_date=entry.posting_date,
        due_date=entry.due_date,
        amount=entry.amount,
        remaining_amount=entry.remaining_amount,
        closed_at=entry.closed_at,
        disputed=entry.disputed,
    )
    return LedgerLine(
        document_no=entry.document_no or "",
        posting_date=entry.posting_date,
        due_date=entry.due_date,
        amount=entry.amount,
        open_amount=open_amount_at(invoice, reference),
        closed_at=entry.closed_at,
        disputed=entry.disputed,
    )


def default_reference(engine: Engine, today: date) -> date:
    """The date a customer is shown as of: that of the latest run, else today.

    The open proposals were made as of the latest run's reference date, so the
    page then shows the figures they were made from.
    """
    with engine.connect() as connection:
        run = services.latest_run(connection)
    return today if run is None else run.reference_date
