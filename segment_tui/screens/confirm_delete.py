"""Confirm delete: the question asked before proposals are deleted ("not this time").

Deleting is the step an operator cannot take back from this page, so the dialog
states how many proposals go and focuses Cancel: Enter alone deletes nothing.
"""

from textual.app import ComposeResult
from textual.widgets import Static

from segment_tui.i18n import _
from segment_tui.widgets.dialog import Dialog


class ConfirmDelete(Dialog[bool]):
    """Asks whether to delete `count` proposals; the result is True for yes."""

    AUTO_FOCUS = "#cancel"

    def __init__(self, count: int) -> None:
        super().__init__(_("Delete proposals"), ok_label=_("Delete"), destructive=True)
        self.count = count

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

    def confirm(self) -> None:
        self.dismiss(True)

    def cancel(self) -> None:
        self.dismiss(False)
