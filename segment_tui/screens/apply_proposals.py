"""Apply proposals: the dialog that sets dunning conditions, and its report.

Before anything changes the dialog says how many proposals will be applied and
what they change, grouped from current to proposed condition, so that a surprise
("why 300 customers to INTENSIVE?") shows before OK. Applying runs in a thread, in
one transaction. Proposals that could not be applied (the customer changed since
the proposal was made) are listed afterwards with the reason, in a second dialog.
"""

from collections import Counter

from sqlalchemy import Engine
from textual import work
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from segment_tui import services
from segment_tui.i18n import _
from segment_tui.screens.error import show_error
from segment_tui.screens.formatting import transition
from segment_tui.services import ApplyResult, Selection
from segment_tui.widgets.dialog import Dialog
from segment_tui.widgets.text_table import TextTable

Breakdown = Counter[tuple[str | None, str]]

MAX_BREAKDOWN_LINES = 8
"""Transitions listed one by one; the rest are summed up in one line."""

PROGRESS_AFTER = 0.5
"""Seconds an apply runs before the dialog shows a moving progress bar. Most
applies are done before then; the bar, redrawn fifteen times a second, took the
interpreter from the apply's thread often enough to make 100,000 proposals take a
fifth longer."""


def breakdown_lines(counts: Breakdown) -> list[tuple[str, int]]:
    """The transitions, largest first, as (text, count); the tail summed in one."""
    ordered = sorted(
        counts.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1])
    )
    lines = [(transition(c, p), n) for (c, p), n in ordered[:MAX_BREAKDOWN_LINES]]
    rest = ordered[MAX_BREAKDOWN_LINES:]
    if rest:
        lines.append((_("other changes"), sum(n for _key, n in rest)))
    return lines


class ApplyProposalsDialog(Dialog[ApplyResult | None]):
    """Applies the selected proposals after showing what they change.

    `selected` is how many the page counted as selected; those of them that are
    no longer open when the dialog counts are mentioned, and so are those that
    the list's filter (`filter_text`) hides: marks stay when the filter changes,
    and an apply takes them all. The result is what the apply did, or None when
    the operator cancelled. With `run_id` (the run the proposals were shown from)
    the store refuses the apply when a newer run has replaced them meanwhile.
    """

    def __init__(
        self,
        engine: Engine,
        operator: str,
        selection: Selection,
        selected: int,
        run_id: int | None,
        filter_text: str = "",
    ) -> None:
        super().__init__(_("Apply proposals"), ok_label=_("Apply"))
        self.engine = engine
        self.operator = operator
        self.selection = selection
        self.selected = selected
        self.run_id = run_id
        self.filter_text = filter_text
        self._applying = False

    def compose_body(self) -> ComposeResult:
        yield Static(_("Counting the proposals…"), id="summary", markup=False)
        yield Static("", id="breakdown", markup=False)
        yield Static(
            _(
                "Each customer's dunning condition becomes the proposed one, with a "
                "line in the history; the applied proposals leave the list."
            ),
            classes="dialog-note",
            markup=False,
        )

    def on_mount(self) -> None:
        self.ok_button.disabled = True
        self._count()

    @work(thread=True, exclusive=True, group="apply-count")
    def _count(self) -> None:
        try:
            counted = services.count_selection(
                self.engine, self.selection, self.filter_text
            )
        except Exception as error:  # shown to the operator, and logged there
            self.app.call_from_thread(self._failed, error)
        else:
            self.app.call_from_thread(
                self._show_breakdown, counted.transitions, counted.hidden
            )

    def _show_breakdown(self, counts: Breakdown, hidden: int = 0) -> None:
        total = sum(counts.values())
        if total == 0:
            summary = _("None of these proposals is open any more.")
        elif total == 1:
            summary = _("1 proposal will be applied:")
        else:
            summary = _("{count} proposals will be applied:", count=f"{total:,}")
        gone = self.selected - total
        if gone > 0:
            summary += " " + _(
                "({count} selected are no longer open.)", count=f"{gone:,}"
            )
        if hidden > 0 and total > 0:
            # The delete question's sentence, in brackets as the note above.
            hidden_text = _(
                "{count} of them are hidden by the filter {text}.",
                count=f"{hidden:,}",
                text=repr(self.filter_text.strip()),
            )
            summary += f" ({hidden_text})"
        self.query_one("#summary", Static).update(summary)

        lines = breakdown_lines(counts)
        width = max((len(text) for text, _n in lines), default=0)
        digits = max((len(f"{n:,}") for _text, n in lines), default=0)
        self.query_one("#breakdown", Static).update(
            "\n".join(f"  {text:<{width}}  {n:>{digits},}" for text, n in lines)
        )
        self.ok_button.disabled = total == 0
        if total:
            # OK was disabled while counting, so the dialog could not focus it yet.
            self.ok_button.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm" and self.is_mounted:
            return not self.ok_button.disabled
        if action == "cancel":
            return not self._applying
        return True

    def confirm(self) -> None:
        if self._applying:
            return
        self._applying = True
        self.ok_button.disabled = True
        if self.cancel_button is not None:
            self.cancel_button.disabled = True
        self.query_one("#summary", Static).update(_("Applying…"))
        self.refresh_bindings()
        self.set_timer(PROGRESS_AFTER, self._show_progress)
        self._apply()

    def _show_progress(self) -> None:
        note = self.query_one(".dialog-note")
        if isinstance(note.parent, Widget):
            note.parent.mount(
                ProgressBar(show_eta=False, show_percentage=False, id="progress"),
                after=note,
            )

    def cancel(self) -> None:
        if not self._applying:
            self.dismiss(None)

    @work(thread=True, exclusive=True, group="apply")
    def _apply(self) -> None:
        # The page needs how many were applied, not who: naming a hundred
        # thousand customers would cost a fifth of the apply.
        try:
            result = services.apply_proposals(
                self.engine,
                self.selection,
                self.operator,
                expected_run_id=self.run_id,
                name_applied=False,
                # The page tidies the store once it shows the result.
                checkpoint_now=False,
            )
        except Exception as error:  # shown to the operator, and logged there
            self.app.call_from_thread(self._failed, error)
        else:
            self.app.call_from_thread(self.dismiss, result)

    def _failed(self, error: Exception) -> None:
        self.dismiss(None)
        show_error(self.app, _("Proposals were not applied"), error)


class SkippedProposals(Dialog[None]):
    """The report of an apply that skipped proposals: who, and why."""

    AUTO_FOCUS = "#ok"

    def __init__(self, result: ApplyResult) -> None:
        # Wide: a reason names both conditions and should not hide behind a
        # horizontal scroll bar.
        super().__init__(
            _("Proposals applied"),
            ok_label=_("Close"),
            with_cancel=False,
            classes="wide",
        )
        self.result = result

    def compose_body(self) -> ComposeResult:
        applied = self.result.applied_count
        skipped = len(self.result.skipped)
        yield Static(
            _(
                "{applied} applied, {skipped} skipped. The skipped proposals stay "
                "open:",
                applied=f"{applied:,}",
                skipped=f"{skipped:,}",
            ),
            id="summary",
            markup=False,
        )
        table = TextTable([_("Customer No."), _("Why")], id="skipped")
        for item in self.result.skipped:
            table.add_plain_row(item.customer_no, item.why)
        yield table
