"""Create proposals: the dialog that evaluates every customer as of a reference date.

A run replaces the open proposals, so the dialog says how many it replaces before
the operator starts it. The run itself happens in a thread: the progress bar moves
while the customers are evaluated, and Cancel stops the run, which then changes
nothing, since it writes in one transaction.
"""

import re
from datetime import date

from sqlalchemy import Engine
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from segment_tui import services
from segment_tui.i18n import _
from segment_tui.rules.window import (
    EARLIEST_REFERENCE,
    LATEST_REFERENCE,
    is_reference_date,
)
from segment_tui.screens.error import show_error
from segment_tui.services import RunSummary
from segment_tui.widgets.dialog import Dialog

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Stopped(Exception):
    """Raised from the progress callback to roll the run back when cancelled."""


def parse_reference(text: str) -> date | None:
    """The date in `text` written as YYYY-MM-DD, None when it is not one."""
    text = text.strip()
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def reference_in(text: str) -> date | None:
    """The reference date in `text`: a date (`parse_reference`) in the range the
    metrics take (`is_reference_date`), else None."""
    day = parse_reference(text)
    return day if day is not None and is_reference_date(day) else None


class DateInput(Input):
    """A field for a date written YYYY-MM-DD: only digits and "-" are typed into
    it, so that the keys bound around it, the dialog's `y` and `n`, work here too."""

    DATE_CHARACTERS = frozenset("0123456789-")

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Keys this field does not take stay with the bindings of the dialog.
        return character is not None and character in self.DATE_CHARACTERS

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character not in self.DATE_CHARACTERS:
            event.prevent_default()  # a key bound to nothing: not typed either


class CreateProposalsDialog(Dialog[RunSummary | None]):
    """Asks for the reference date, then creates the proposals as of that date.

    The date field has the focus, its text selected, so that typing a date
    replaces today's and Enter creates; `y` and `n` answer the dialog as ever.
    The result is the run's summary, or None when nothing was created.
    """

    AUTO_FOCUS = "#reference"

    def __init__(self, engine: Engine, operator: str, today: date) -> None:
        super().__init__(_("Create proposals"), ok_label=_("Create"))
        self.engine = engine
        self.operator = operator
        self.today = today
        self._worker: Worker[None] | None = None
        self._has_setup = True

    def compose_body(self) -> ComposeResult:
        yield Static(
            _(
                "Evaluates every customer as of the reference date and proposes a "
                "new dunning condition where the customer's segment calls for one."
            ),
            classes="dialog-note",
            markup=False,
        )
        with Horizontal(classes="field"):
            yield Label(_("Reference date"), classes="field-label")
            yield DateInput(
                self.today.isoformat(),
                placeholder=_("YYYY-MM-DD"),
                id="reference",
                classes="field-input",
            )
        yield Static("", id="date-error", classes="field-error", markup=False)
        yield Static("", id="scope", markup=False)
        yield ProgressBar(show_eta=False, id="progress")
        yield Static("", id="progress-text", markup=False)

    def on_mount(self) -> None:
        for idle in ("#progress", "#progress-text", "#date-error"):
            self.query_one(idle).display = False
        with self.engine.connect() as connection:
            stored = services.current_setup(connection)
            customers = services.customer_count(connection)
            replaced = services.open_proposal_count(connection)
        if stored is None:
            self._has_setup = False
            self._set_scope(
                _(
                    "The store has no setup yet: load one with 'segment-tui setup "
                    "load FILE' or 'segment-tui init' first."
                )
            )
            self._update_ok()
            return
        if replaced == 0:
            replaces = _("There are no open proposals to replace.")
        elif replaced == 1:
            replaces = _("It replaces the 1 open proposal.")
        else:
            replaces = _(
                "It replaces the {count} open proposals.", count=f"{replaced:,}"
            )
        self._set_scope(
            _(
                "{customers} customers, setup version {version}.",
                customers=f"{customers:,}",
                version=stored[0],
            )
            + " "
            + replaces
        )

    def _set_scope(self, text: str) -> None:
        self.query_one("#scope", Static).update(text)

    @property
    def reference(self) -> date | None:
        return reference_in(self.query_one("#reference", Input).value)

    def on_input_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#date-error", Static)
        if self.reference is None:
            value = event.value.strip()
            if parse_reference(value) is not None:
                error.update(
                    _(
                        "{value} is out of range; a reference date lies from "
                        "{first} to {last}.",
                        value=repr(value),
                        first=EARLIEST_REFERENCE.isoformat(),
                        last=LATEST_REFERENCE.isoformat(),
                    )
                )
            elif value:
                error.update(
                    _(
                        "{value} is not a date; write YYYY-MM-DD, e.g. {example}.",
                        value=repr(value),
                        example=self.today.isoformat(),
                    )
                )
            else:
                error.update(_("Enter the reference date as YYYY-MM-DD."))
            error.display = True
        else:
            error.display = False
        self._update_ok()

    def _update_ok(self) -> None:
        """OK works with a setup, a valid date and no run going on."""
        ready = self._has_setup and self.reference is not None
        self.ok_button.disabled = not ready or self._worker is not None
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm" and self.is_mounted:
            return not self.ok_button.disabled
        return True

    # Running

    def confirm(self) -> None:
        reference = self.reference
        if reference is None or self._worker is not None:
            return
        self.query_one("#reference", Input).disabled = True
        self.ok_button.disabled = True
        self.query_one("#progress").display = True
        self.query_one("#progress-text").display = True
        self._show_text(_("Evaluating customers…"))
        self._worker = self._create(reference)
        self.refresh_bindings()

    def cancel(self) -> None:
        if self._worker is None:
            self.dismiss(None)
            return
        self._worker.cancel()
        self._show_text(_("Stopping…"))

    @work(thread=True, exclusive=True, group="create-proposals")
    def _create(self, reference: date) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _Stopped
            self.app.call_from_thread(self._show_progress, done, total)

        try:
            summary = services.create_proposals(
                self.engine,
                reference,
                self.operator,
                progress=progress,
                # The page tidies the store once it shows the new proposals.
                checkpoint_now=False,
            )
        except _Stopped:
            self.app.call_from_thread(self._stopped)
        except Exception as error:  # shown to the operator, and logged there
            self.app.call_from_thread(self._failed, error)
        else:
            self.app.call_from_thread(self.dismiss, summary)

    def _show_progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)
        self._show_text(
            _("{done} of {total} customers", done=f"{done:,}", total=f"{total:,}")
        )

    def _show_text(self, text: str) -> None:
        self.query_one("#progress-text", Static).update(text)

    def _stopped(self) -> None:
        self.app.notify(
            _("Creating proposals was cancelled; the open proposals are unchanged."),
            markup=False,
        )
        self.dismiss(None)

    def _failed(self, error: Exception) -> None:
        self.dismiss(None)
        show_error(self.app, _("Proposals were not created"), error)
