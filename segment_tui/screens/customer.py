"""Customer: why a customer gets the segment it gets, as of the reference date.

The page puts the customer's metrics over the behaviour window next to every
condition of every segment of the setup, each with the customer's value, the
threshold and whether it holds, so that an operator can check a proposal against
the rules without a calculator. Below are the invoices behind the metrics (open at
the reference date, paid in the window), the reminders, and the changes applied
to this customer so far.

The figures are read by `segment_tui.customer_detail`, from the same functions as
the proposals; this module only lays them out.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from sqlalchemy import Engine
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from segment_tui.customer_detail import (
    CustomerDetail,
    LedgerLine,
    load_customer,
)
from segment_tui.i18n import _
from segment_tui.screens.error import show_error
from segment_tui.screens.formatting import (
    amount,
    comparison,
    condition_cell,
    day,
    metric_value,
    moment,
    reason_text,
    threshold,
    transition,
)
from segment_tui.widgets.text_table import TextTable

HOLDS = "✓"
FAILS = "✗"


class CustomerScreen(Screen[None]):
    """One customer's metrics, the setup's conditions, invoices, reminders, history.

    The figures are read in a thread, since computing one customer's metrics can
    take a while on a large store; the page says so meanwhile.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back")),
    ]

    def __init__(self, engine: Engine, customer_no: str, reference: date) -> None:
        super().__init__(classes="customer-page")
        self.engine = engine
        self.customer_no = customer_no
        self.reference = reference
        self.detail: CustomerDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            _("Reading customer {number}…", number=self.customer_no),
            id="customer-loading",
            classes="page-empty",
            markup=False,
        )
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Customer")
        self.sub_title = self.customer_no
        self._load()

    @work(thread=True, exclusive=True, group="customer")
    def _load(self) -> None:
        try:
            detail = load_customer(self.engine, self.customer_no, self.reference)
        except Exception as error:  # shown to the operator, and logged there
            self.app.call_from_thread(self._failed, error)
        else:
            self.app.call_from_thread(self._show, detail)

    def _show(self, detail: CustomerDetail | None) -> None:
        loading = self.query_one("#customer-loading", Static)
        if detail is None:
            loading.update(_("There is no customer {number}.", number=self.customer_no))
            return
        self.detail = detail
        loading.remove()
        self.mount(CustomerView(detail), before=self.query_one(Footer))

    def _failed(self, error: Exception) -> None:
        self.dismiss()
        show_error(self.app, _("The customer cannot be shown"), error)

    def action_back(self) -> None:
        self.dismiss()


class CustomerView(Vertical):
    """The page's content for one customer, once it has been read."""

    def __init__(self, detail: CustomerDetail) -> None:
        super().__init__(id="customer-view")
        self.detail = detail

    def compose(self) -> ComposeResult:
        detail = self.detail
        yield Static(
            Text.assemble((detail.customer_no, "bold"), "  ", (detail.name, "bold")),
            id="customer-title",
        )
        yield Static(self._facts(detail), id="customer-facts")
        yield Static(self._window_line(detail), id="customer-window", markup=False)
        with Horizontal(id="customer-rules"):
            with Vertical(id="metrics-panel", classes="panel") as panel:
                panel.border_title = _("Metrics")
                yield self._metrics_table(detail)
            with Vertical(id="conditions-panel", classes="panel") as panel:
                panel.border_title = _("Segment conditions")
                yield self._conditions_table(detail)
        open_invoices = detail.open_invoices()
        paid = detail.paid_invoices()
        # Open on the first list that has something in it.
        counts = {
            "open-tab": len(open_invoices),
            "paid-tab": len(paid),
            "reminders-tab": len(detail.reminders),
            "history-tab": len(detail.changes),
        }
        first = next((tab for tab, count in counts.items() if count), "open-tab")
        with TabbedContent(id="customer-lists", initial=first):
            with TabPane(
                _(
                    "Open at {date} ({count})",
                    date=day(detail.reference),
                    count=len(open_invoices),
                ),
                id="open-tab",
            ):
                yield self._open_table(detail, open_invoices)
            with TabPane(_("Paid in window ({count})", count=len(paid)), id="paid-tab"):
                yield self._paid_table(detail, paid)
            with TabPane(
                _("Reminders ({count})", count=len(detail.reminders)),
                id="reminders-tab",
            ):
                yield self._reminders_table(detail)
            with TabPane(
                _("History ({count})", count=len(detail.changes)), id="history-tab"
            ):
                yield self._history_table(detail)

    # The lines at the top

    def _facts(self, detail: CustomerDetail) -> Text:
        facts = Text()
        facts.append(_("Dunning condition") + ": ")
        facts.append_text(condition_cell(detail.dunning_condition))
        facts.append("   " + _("Segment") + ": ")
        facts.append_text(condition_cell(detail.segment))
        if detail.proposal is not None:
            current, segment, proposed = detail.proposal
            facts.append("   " + _("Proposal") + ": ")
            facts.append(f"{segment}, {transition(current, proposed)}", "bold")
        raised = [flag for flag, on in detail.flags.items() if on]
        facts.append("   " + _("Flags") + ": ")
        if raised:
            facts.append(", ".join(raised), "bold")
        else:
            facts.append(_("none"), "dim italic")
        return facts

    def _window_line(self, detail: CustomerDetail) -> str:
        first_day = detail.window.start + timedelta(days=1)
        line = _(
            "As of {reference}: behaviour window {start} to {end}, late after "
            "{days} days past due.",
            reference=day(detail.reference),
            start=day(first_day),
            end=day(detail.window.end),
            days=detail.tolerance,
        )
        evaluation = detail.evaluation
        if evaluation is None:
            return line + " " + _("No setup is stored, so no segment is chosen.")
        choice = evaluation.choice
        if choice.excluded:
            outcome = _(
                "Left out of segmentation by: {flags}.",
                flags=", ".join(choice.excluded_by),
            )
        elif choice.segment is None:
            outcome = _("No segment matches.")
        else:
            outcome = _(
                "The setup puts the customer in {segment} ({condition}).",
                segment=choice.segment.code,
                condition=choice.segment.dunning_condition,
            )
        return f"{line} {outcome}"

    # The tables

    def _metrics_table(self, detail: CustomerDetail) -> TextTable:
        table = TextTable([_("Metric"), _("Value")], right=[1], id="metrics")
        if detail.evaluation is None:
            return table
        for name, value in detail.evaluation.metrics.as_dict().items():
            table.add_plain_row(name, metric_value(name, value), key=name)
        return table

    def _conditions_table(self, detail: CustomerDetail) -> TextTable:
        table = TextTable(
            [
                _("Segment"),
                _("Match"),
                _("Condition"),
                _("Value"),
                _("Threshold"),
                _("Holds"),
            ],
            right=[3, 4],
            id="conditions",
        )
        if detail.setup is None or detail.evaluation is None:
            return table
        values = detail.evaluation.values
        chosen = detail.evaluation.choice.segment
        for segment in detail.setup.segment:
            is_chosen = chosen is not None and chosen.code == segment.code
            label = Text(segment.code, style="bold" if is_chosen else "")
            if is_chosen:
                label.append(" ◀", style="bold")
            match = _("all") if segment.match == "all" else _("any")
            conditions = segment.parsed
            if not conditions:
                table.add_plain_row(
                    label,
                    "",
                    Text(_("no conditions: everyone"), "dim italic"),
                    "",
                    "",
                    HOLDS,
                )
                continue
            for position, condition in enumerate(conditions):
                value = values[condition.subject]
                holds = condition.holds(values)
                table.add_plain_row(
                    label if position == 0 else "",
                    match if position == 0 else "",
                    comparison(condition.subject, condition.op, condition.threshold),
                    metric_value(condition.subject, value),
                    "" if condition.is_flag else threshold(condition.threshold),
                    Text(HOLDS, "green") if holds else Text(FAILS, "red"),
                )
        return table

    def _open_table(
        self, detail: CustomerDetail, lines: Sequence[LedgerLine]
    ) -> TextTable:
        table = TextTable(
            [
                _("Document"),
                _("Posted"),
                _("Due"),
                _("Amount"),
                _("Open amount"),
                _("Days overdue"),
                _("Disputed"),
            ],
            right=[3, 4, 5],
            id="open-invoices",
        )
        for line in lines:
            overdue = (detail.reference - line.due_date).days
            late = overdue > detail.tolerance
            table.add_plain_row(
                line.document_no,
                day(line.posting_date),
                day(line.due_date),
                amount(line.amount),
                amount(line.open_amount),
                Text(str(overdue), "bold" if late else "") if overdue > 0 else "",
                _("yes") if line.disputed else "",
            )
        return table

    def _paid_table(
        self, detail: CustomerDetail, lines: Sequence[LedgerLine]
    ) -> TextTable:
        table = TextTable(
            [
                _("Document"),
                _("Posted"),
                _("Due"),
                _("Paid on"),
                _("Amount"),
                _("Days late"),
                _("Late"),
            ],
            right=[4, 5],
            id="paid-invoices",
        )
        for line in lines:
            assert line.closed_at is not None  # paid in the window
            past_due = (line.closed_at - line.due_date).days
            table.add_plain_row(
                line.document_no,
                day(line.posting_date),
                day(line.due_date),
                day(line.closed_at),
                amount(line.amount),
                str(max(0, past_due)),
                _("yes") if past_due > detail.tolerance else "",
            )
        return table

    def _reminders_table(self, detail: CustomerDetail) -> TextTable:
        table = TextTable(
            [_("Issued on"), _("Level"), _("In window")], right=[1], id="reminders"
        )
        for issued_on, level in detail.reminders:
            table.add_plain_row(
                day(issued_on),
                str(level),
                _("yes") if issued_on in detail.window else "",
            )
        return table

    def _history_table(self, detail: CustomerDetail) -> TextTable:
        table = TextTable(
            [
                _("Applied at"),
                _("From"),
                _("To"),
                _("Segment"),
                _("By"),
                _("Run"),
                _("Reason"),
            ],
            right=[5],
            id="changes",
        )
        for change in detail.changes:
            table.add_plain_row(
                moment(change.applied_at),
                condition_cell(change.from_condition),
                change.to_condition,
                change.segment,
                change.applied_by,
                str(change.run_id),
                reason_text(change.reason),
            )
        return table
