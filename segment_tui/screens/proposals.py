"""Segmentation Proposals: the main page, where proposals are reviewed and acted on.

One line per open proposal: whose, from which dunning condition to which, and why.
The operator marks proposals (Space, ctrl+a), deletes those that must not happen
("not this time") and applies the rest; with nothing marked, the row under the
cursor is the one acted on. The list is a `VirtualTable` over the store, so a
million proposals open as fast as ten: sorting and filtering happen in SQL.

Marks are kept by proposal id and by filter ("every proposal under this filter,
but for these"), so they survive sorting and filtering, and marking a million costs
no more than marking ten. Apply and delete receive the marks as that description,
which the store turns into a condition in SQL: no list of ids is built. Every
change to the store happens in a thread worker; the page hears the outcome back
through `call_from_thread` or a dialog's result.
"""

import logging
from collections.abc import Collection, Hashable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.text import Text
from sqlalchemy import Engine
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from segment_tui import services
from segment_tui.customer_detail import default_reference
from segment_tui.i18n import _
from segment_tui.screens.apply_proposals import ApplyProposalsDialog, SkippedProposals
from segment_tui.screens.confirm_delete import ConfirmDelete
from segment_tui.screens.create_proposals import CreateProposalsDialog
from segment_tui.screens.customer import CustomerScreen
from segment_tui.screens.error import show_error
from segment_tui.screens.formatting import (
    amount,
    condition_cell,
    ratio,
    reason_summary,
)
from segment_tui.services import ApplyResult, RunInfo, RunSummary, Selection
from segment_tui.store.proposal_source import ProposalRecord, ProposalSource
from segment_tui.widgets.filter_bar import FilterBar
from segment_tui.widgets.proposal_table import ProposalTable
from segment_tui.widgets.virtual_table import Cell, Column, Row, VirtualTable

log = logging.getLogger(__name__)

FIXED_WIDTH = 98
"""Cells taken by every column but the name, with padding, mark and scroll bar."""


def proposal_columns(width: int) -> list[Column]:
    """The columns of the list; the name takes what a wide terminal has to spare."""
    return [
        Column("customer_no", _("Customer"), 10),
        Column("name", _("Name"), max(16, width - FIXED_WIDTH)),
        Column("current_condition", _("Current"), 9),
        Column("segment", _("Segment"), 9),
        Column("proposed_condition", _("Proposed"), 9),
        Column("reason", _("Reason"), 24),
        Column("overdue_amount", _("Overdue"), 12, justify="right"),
        Column("late_ratio", _("Late"), 5, justify="right"),
    ]


def proposal_cells(record: ProposalRecord) -> tuple[Cell, ...]:
    return (
        record.customer_no,
        record.customer_name,
        condition_cell(record.current_condition),
        record.segment,
        Text(record.proposed_condition, style="bold"),
        reason_summary(record.reason),
        amount(record.overdue_amount),
        ratio(record.late_ratio),
    )


class ProposalRows:
    """The proposal source as rows of the table: cells formatted, keyed by id."""

    def __init__(self, source: ProposalSource) -> None:
        self.source = source

    def count(self) -> int:
        return self.source.count()

    def fetch(self, offset: int, limit: int) -> list[Row[int]]:
        return [
            Row(record.id, proposal_cells(record))
            for record in self.source.fetch(offset, limit)
        ]

    def scope(self) -> Hashable:
        return self.source.filter_text

    def count_in(self, scopes: Collection[Hashable]) -> int:
        return self.source.count_in([str(scope) for scope in scopes])

    def keys_in(
        self, scopes: Collection[Hashable], among: Collection[int] | None = None
    ) -> Iterator[int]:
        return self.source.keys_in([str(scope) for scope in scopes], among)


@dataclass(frozen=True)
class Targets:
    """The proposals an action on the page applies to."""

    selection: Selection
    """For the store: the marks as a description, or the proposal under the cursor."""

    count: int
    """How many the page counts, to show in the dialogs."""

    marked_ids: frozenset[int] = frozenset()
    """The proposals marked one by one, to unmark once they are applied or gone."""


class ProposalsScreen(Screen[None]):
    """The open proposals of the latest run, to review, delete and apply."""

    class Written(Message):
        """An apply or a delete has ended, and the page shows its outcome."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", _("Mark")),
        Binding("ctrl+a", "mark_all", _("Mark all")),
        Binding("escape", "clear_marks", _("Clear marks")),
        Binding("a", "apply", _("Apply")),
        Binding("d,delete", "delete", _("Delete")),
        # Priority bindings run as the key arrives, before the keys typed after it
        # are handed out: those then reach the create dialog's date field or the
        # filter box (FilterBar.open), not the list. In the filter box both are
        # text (check_action).
        Binding("c", "create", _("Create"), priority=True),
        Binding("slash", "filter", _("Filter"), priority=True),
        Binding("s", "sort", _("Sort")),
        Binding("q", "app.quit", _("Quit")),
    ]

    def __init__(self, engine: Engine, operator: str, today: date) -> None:
        super().__init__(classes="proposals-page")
        self.engine = engine
        self.operator = operator
        self.today = today
        self.source = ProposalSource(engine)
        self.run: RunInfo | None = None
        self.open_count = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterBar(
            _("customer number, name or segment; Enter filters, Escape clears"),
            id="filter",
        )
        yield ProposalTable(
            proposal_columns(self.app.size.width),
            ProposalRows(self.source),
            empty_text=self._empty_text(),
            id="proposals",
        )
        yield Static("", id="status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = _("Segmentation Proposals")
        self.sub_title = self.operator
        self._read_run()
        self.table.focus()

    @property
    def table(self) -> ProposalTable:
        return self.query_one(ProposalTable)

    # What the page shows around the table

    def _read_run(self) -> None:
        """Read which run the proposals come from and how many are open."""
        with self.engine.connect() as connection:
            self.run = services.latest_run(connection)
        # Through the source, which remembers the count of the whole list: on a
        # first paint the table has just counted it, and a million open proposals
        # take a third of the paint to count again.
        self.open_count = self.source.count_in([""])
        self._show_status()

    def _empty_text(self) -> str:
        if self.source.filter_text:
            return _(
                "No proposals match {text}. Press / to change the filter, Escape "
                "in it to clear it.",
                text=repr(self.source.filter_text),
            )
        return _("There are no proposals. Press c to create proposals.")

    def _show_status(self) -> None:
        table = self.table
        parts: list[str] = []
        shown = table.row_count
        if self.source.filter_text:
            parts.append(
                _(
                    "{shown} of {total} proposals match {text}",
                    shown=f"{shown:,}",
                    total=f"{self.open_count:,}",
                    text=repr(self.source.filter_text),
                )
            )
        elif shown == 1:
            parts.append(_("1 proposal"))
        else:
            parts.append(_("{count} proposals", count=f"{shown:,}"))
        parts.append(_("{count} marked", count=f"{table.mark_count:,}"))
        if self.run is None:
            parts.append(_("no proposal run yet"))
        else:
            parts.append(
                _(
                    "run {run} as of {date}",
                    run=self.run.run_id,
                    date=self.run.reference_date.isoformat(),
                )
            )
        self.query_one("#status", Static).update(" · ".join(parts))
        table.empty_text = self._empty_text()

    def reload(self) -> None:
        """Show the store as it is now, after proposals were created or removed.

        When a new run has replaced the proposals (made here or by another
        operator) the marks are cleared: the store may give the new proposals the
        ids of the old ones.
        """
        table = self.table
        shown_run = self.run.run_id if self.run else None
        cursor_key = table.cursor_key
        self.source.reload()
        self._read_run()
        if self.run is not None and self.run.run_id != shown_run:
            table.clear_marks()
            cursor_key = None
        table.refresh_rows()
        if cursor_key is not None:
            self._follow(cursor_key, table.cursor_row)
        self._show_status()
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="cursor")
    def _follow(self, proposal_id: int, row: int) -> None:
        """Put the cursor back on its proposal, which rows above it may have left.

        In a thread: finding a row's place counts the rows before it, which on
        a large list sorted by name takes a few seconds.
        """
        position = self.source.position(proposal_id)
        if position is not None and position != row:
            self.app.call_from_thread(self._move_cursor, row, position)

    def _move_cursor(self, expected: int, position: int) -> None:
        # Only if the operator has not moved it meanwhile.
        if self.table.cursor_row == expected:
            self.table.move_cursor(row=position)

    # Which keys apply now

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("create", "filter") and isinstance(self.focused, Input):
            return False  # typed into the filter box: text
        try:
            table = self.table
        except NoMatches:  # asked before the table is composed
            return True
        has_rows = table.row_count > 0
        if action in ("toggle_mark", "mark_all", "sort"):
            return has_rows
        if action in ("apply", "delete"):
            return has_rows or table.mark_count > 0
        if action == "clear_marks":
            return table.mark_count > 0
        if action == "filter":
            return self.open_count > 0 or bool(self.source.filter_text)
        return True

    def on_virtual_table_marks_changed(self, event: VirtualTable.MarksChanged) -> None:
        self._show_status()
        self.refresh_bindings()

    def on_virtual_table_cursor_moved(
        self, event: VirtualTable.CursorMoved[int]
    ) -> None:
        self.refresh_bindings()

    def targets(self) -> Targets | None:
        """The proposals an action applies to: the marked ones, else the cursor's."""
        table = self.table
        if table.mark_count > 0:
            # Limitation: proposals marked by their filter are those the filter
            # shows when the store acts, not when the operator pressed ctrl+a: a
            # customer renamed by an import in between can enter or leave them.
            # Those of them that another operator deleted meanwhile are counted
            # as gone in the dialog but, unlike proposals marked one by one, not
            # named in the report.
            marks = table.marks
            selection = Selection(
                proposal_ids=sorted(marks.added),
                filters=sorted(str(scope) for scope in marks.scopes),
                except_ids=sorted(marks.removed),
            )
            return Targets(selection, table.mark_count, marks.added)
        key = table.cursor_key
        if key is None:
            return None
        return Targets(Selection(proposal_ids=[key]), 1)

    # Marking

    def action_toggle_mark(self) -> None:
        self.table.action_toggle_mark()

    def action_mark_all(self) -> None:
        self.table.mark_all()

    def action_clear_marks(self) -> None:
        self.table.clear_marks()

    # Filtering and sorting

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_applied(self, event: FilterBar.Applied) -> None:
        self._filter(event.text)

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        self._filter("")

    def _filter(self, text: str) -> None:
        self.source.set_filter(text)
        table = self.table
        table.refresh_rows()
        table.move_cursor(row=0)
        table.focus()
        self._show_status()
        self.refresh_bindings()

    def action_sort(self) -> None:
        self.table.action_sort()

    def on_virtual_table_sort_requested(
        self, event: VirtualTable.SortRequested
    ) -> None:
        if not self.source.can_sort_by(event.column_key):
            label = next(
                c.label for c in self.table.columns if c.key == event.column_key
            )
            self.notify(
                _("The list cannot be sorted by {column}.", column=label),
                severity="warning",
                markup=False,
            )
            return
        self.source.set_sort(event.column_key, event.reverse)
        table = self.table
        table.show_sort(event.column_key, event.reverse)
        table.refresh_rows()
        table.move_cursor(row=0)

    # The customer

    def on_virtual_table_row_activated(
        self, event: VirtualTable.RowActivated[int]
    ) -> None:
        self.open_customer(event.key)

    def open_customer(self, proposal_id: int | None = None) -> None:
        """Open the customer of a proposal (by default the one under the cursor)."""
        if proposal_id is None:
            proposal_id = self.table.cursor_key
        if proposal_id is None:
            self.notify(
                _("There is no proposal under the cursor."),
                severity="warning",
                markup=False,
            )
            return
        try:
            customer_no = self.source.customer_no(proposal_id)
            if customer_no is None:
                self.notify(
                    _("This proposal is no longer open."),
                    severity="warning",
                    markup=False,
                )
                self.reload()
                return
            reference = default_reference(self.engine, self.today)
            screen = CustomerScreen(self.engine, customer_no, reference)
        except Exception as error:  # shown to the operator, and logged there
            show_error(self.app, _("The customer cannot be shown"), error)
            return
        self.app.push_screen(screen)

    # Creating

    def action_create(self) -> None:
        self.app.push_screen(
            CreateProposalsDialog(self.engine, self.operator, self.today),
            self._created,
        )

    def _created(self, summary: RunSummary | None) -> None:
        if summary is None:
            return
        self.reload()
        self._tidy()
        self.table.move_cursor(row=0)
        if summary.proposal_count == 1:
            made = _("1 proposal created")
        else:
            made = _("{count} proposals created", count=f"{summary.proposal_count:,}")
        self.notify(
            _(
                "{made} as of {date}, from {customers} customers.",
                made=made,
                date=summary.reference_date.isoformat(),
                customers=f"{summary.customer_count:,}",
            ),
            title=_("Create proposals"),
            markup=False,
        )

    # Deleting

    def action_delete(self) -> None:
        targets = self.targets()
        if targets is None:
            return

        run_id = self.run.run_id if self.run else None

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._delete(targets, run_id)

        self.app.push_screen(
            ConfirmDelete(
                targets.count,
                self.engine,
                targets.selection,
                self.source.filter_text,
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="store")
    def _delete(self, targets: Targets, run_id: int | None) -> None:
        # The run id makes the store refuse when another operator has made a new
        # run since this page was read: these ids would then name nothing.
        try:
            deleted = services.delete_proposals(
                self.engine,
                targets.selection,
                expected_run_id=run_id,
                checkpoint_now=False,
            )
        except Exception as error:  # shown to the operator, and logged there
            self.app.call_from_thread(
                self._failed, _("Proposals were not deleted"), error
            )
        else:
            self.app.call_from_thread(self._deleted, deleted, targets)

    def _deleted(self, count: int, targets: Targets) -> None:
        self.app.post_message(self.Written())
        # Every one of them is gone now: deleted, or no longer open before. Those
        # marked under a filter leave the marks with their rows.
        self.table.unmark(targets.marked_ids)
        self.reload()
        self._tidy()
        if count == 1:
            self.notify(_("1 proposal deleted."), markup=False)
        else:
            self.notify(
                _("{count} proposals deleted.", count=f"{count:,}"), markup=False
            )

    def _failed(self, title: str, error: Exception) -> None:
        self.app.post_message(self.Written())
        show_error(self.app, title, error)
        self.reload()

    @work(thread=True, exclusive=True, group="tidy")
    def _tidy(self) -> None:
        # What the run, delete or apply left for later, so that the list came back
        # sooner (services.tidy_store). Should it fail, the next write does it.
        try:
            services.tidy_store(self.engine)
        except Exception:
            log.warning("tidying the store after a write failed", exc_info=True)

    # Applying

    def action_apply(self) -> None:
        targets = self.targets()
        if targets is None:
            return
        run_id = self.run.run_id if self.run else None
        dialog = ApplyProposalsDialog(
            self.engine,
            self.operator,
            targets.selection,
            targets.count,
            run_id,
            self.source.filter_text,
        )
        self.app.push_screen(dialog, lambda result: self._applied(result, targets))

    def _applied(self, result: ApplyResult | None, targets: Targets) -> None:
        # The app reads this after the outcome is shown, a dialog of it included.
        self.app.post_message(self.Written())
        if result is None:
            # Cancelled or failed; the dialog may have found the list out of date
            # (another operator's run or apply).
            self.reload()
            return
        self._tidy()
        # The applied proposals are gone, and with them their marks under a
        # filter; the skipped ones stay open and marked, so that the operator
        # finds them again.
        if targets.marked_ids:
            skipped = self.source.ids_for_customers(
                s.customer_no for s in result.skipped
            )
            self.table.unmark(targets.marked_ids - skipped)
        self.reload()
        applied = result.applied_count
        if applied == 1:
            text = _("1 proposal applied.")
        else:
            text = _("{count} proposals applied.", count=f"{applied:,}")
        if result.skipped:
            text += " " + _("{count} skipped.", count=f"{len(result.skipped):,}")
        self.notify(
            text,
            title=_("Apply proposals"),
            severity="warning" if result.skipped else "information",
            markup=False,
        )
        if result.skipped:
            self.app.push_screen(SkippedProposals(result))
