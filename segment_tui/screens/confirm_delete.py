"""Confirm delete: the question asked before proposals are deleted ("not this time").

Deleting is the step an operator cannot take back from this page, so the dialog
states how many proposals go and focuses Cancel: Enter alone deletes nothing. Under
a filter it also says how many of them the filter hides, counted in a thread.
"""

import logging

from sqlalchemy import Engine
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from segment_tui import services
from segment_tui.i18n import _
from segment_tui.services import Selection
from segment_tui.widgets.dialog import Dialog

log = logging.getLogger(__name__)


class ConfirmDelete(Dialog[bool]):
    """Asks whether to delete `count` proposals; the result is True for yes.

    With `engine`, the `selection` to delete and the list's `filter_text`, the
    dialog adds how many of the selected proposals that filter hides: marks stay
    when the filter changes, and a delete takes them all.
    """

    AUTO_FOCUS = "#cancel"

    def __init__(
        self,
        count: int,
        engine: Engine | None = None,
        selection: Selection | None = None,
        filter_text: str = "",
    ) -> None:
        super().__init__(_("Delete proposals"), ok_label=_("Delete"), destructive=True)
        self.count = count
        self.engine = engine
        self.selection = selection
        self.filter_text = filter_text.strip()

    def compose_body(self) -> ComposeResult:
        if self.count == 1:
            question = _("Delete 1 proposal?")
        else:
            question = _("Delete {count} proposals?", count=f"{self.count:,}")
        yield Static(question, id="question", markup=False)
        yield Static(
            _(
                "The customers keep their dunning condition; a new run can propose "
                "the change again."
            ),
            classes="dialog-note",
            markup=False,
        )
        yield Static("", id="hidden", markup=False)

    def on_mount(self) -> None:
        self.query_one("#hidden").display = False
        if self.filter_text and self.engine is not None and self.selection:
            self._count_hidden(self.engine, self.selection)

    @work(thread=True, exclusive=True, group="delete-count")
    def _count_hidden(self, engine: Engine, selection: Selection) -> None:
        try:
            hidden = services.count_hidden(engine, selection, self.filter_text)
        except Exception:  # the question stands without it; the delete reports
            log.warning("counting the hidden proposals failed", exc_info=True)
            return
        if hidden:
            self.app.call_from_thread(self._show_hidden, hidden)

    def _show_hidden(self, count: int) -> None:
        note = self.query_one("#hidden", Static)
        note.update(
            _(
                "{count} of them are hidden by the filter {text}.",
                count=f"{count:,}",
                text=repr(self.filter_text),
            )
        )
        note.display = True

    def confirm(self) -> None:
        self.dismiss(True)

    def cancel(self) -> None:
        self.dismiss(False)
