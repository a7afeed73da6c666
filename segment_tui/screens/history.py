"""History: every applied change of a dunning condition, newest first.

Each line is one customer's change from one apply: from which condition to which,
into which segment, when, by whom and from which proposal run, with the reason the
proposal gave. Enter opens the customer.
"""

from collections.abc import Collection, Hashable, Iterable
from datetime import date
from typing import ClassVar

from sqlalchemy import Engine
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from segment_tui.customer_detail import default_reference
from segment_tui.i18n import _
from segment_tui.screens.customer import CustomerScreen
from segment_tui.screens.error import show_error
from segment_tui.screens.formatting import condition_cell, moment, reason_text
from segment_tui.store.history_source import HistorySource
from segment_tui.widgets.virtual_table import Column, Row, VirtualTable

FIXED_WIDTH = 92
"""Cells taken by every column but the reason, with padding, mark and scroll bar."""


def history_columns(width: int) -> list[Column]:
    return [
        Column("applied_at", _("Applied at"), 16),
        Column("customer_no", _("Customer No."), 12),
        Column("from", _("From"), 9),
        Column("to", _("To"), 9),
        Column("segment", _("Segment"), 9),
        Column("by", _("By"), 12),
        Column("run", _("Run"), 5, justify="right"),
        Column("reason", _("Reason"), max(20, width - FIXED_WIDTH)),
    ]


class ChangeRows:
    """The history source as rows of the table, keyed by change id."""

    def __init__(self, source: HistorySource) -> None:
        self.source = source
        self.customers: dict[int, str] = {}
        """The customer of every change fetched so far, for Enter."""

    def count(self) -> int:
        return self.source.count()

    def fetch(self, offset: int, limit: int) -> list[Row[int]]:
        rows = []
        for change in self.source.fetch(offset, limit):
            self.customers[change.id] = change.customer_no
            rows.append(
                Row(
                    change.id,
                    (
                        moment(change.applied_at),
                        change.customer_no,
                        condition_cell(change.from_condition),
                        change.to_condition,
                        change.segment,
                        change.applied_by,
                        str(change.run_id),
                        reason_text(change.reason),
                    ),
                )
            )
        return rows

    # The history has no filter: one scope, every change, and since changes are
    # never removed, every id once shown is still there.

    def scope(self) -> Hashable:
        return None

    def count_in(self, scopes: Collection[Hashable]) -> int:
        return self.source.count() if scopes else 0

    def keys_in(
        self, scopes: Collection[Hashable], among: Collection[int] | None = None
    ) -> Iterable[int]:
        if not scopes:
            return ()
        return self.source.keys() if among is None else among


class HistoryTable(VirtualTable[int]):
    """The history list, with Enter shown as "Customer" in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "activate", _("Customer")),
    ]


class HistoryScreen(Screen[None]):
    """The applied changes, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back")),
    ]

    def __init__(self, engine: Engine, today: date) -> None:
        super().__init__(classes="history-page")
        self.engine = engine
        self.today = today
        self.rows = ChangeRows(HistorySource(engine))

    def compose(self) -> ComposeResult:
        yield Header()
        table = HistoryTable(
            history_columns(self.app.size.width),
            self.rows,
            empty_text=_("No proposals have been applied yet."),
            id="history",
        )
        yield table
        count = table.row_count
        status = (
            _("1 applied change")
            if count == 1
            else _("{count} applied changes", count=f"{count:,}")
        )
        yield Static(status, id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("History")
        self.query_one(HistoryTable).focus()

    def on_virtual_table_row_activated(
        self, event: VirtualTable.RowActivated[int]
    ) -> None:
        customer_no = self.rows.customers[event.key]
        try:
            reference = default_reference(self.engine, self.today)
            screen = CustomerScreen(self.engine, customer_no, reference)
        except Exception as error:  # shown to the operator, and logged there
            show_error(self.app, _("The customer cannot be shown"), error)
            return
        self.app.push_screen(screen)

    def action_back(self) -> None:
        self.dismiss()
