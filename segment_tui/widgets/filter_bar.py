"""A one-line filter box that appears on demand above a list.

Enter applies the text and hands the keys back to the list, leaving the box in
view so that the operator sees what the list is filtered by; Escape clears the
filter and hides the box. The owner hears about both through messages and does
the filtering itself.
"""

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from segment_tui.i18n import _


class FilterBar(Horizontal):
    """A label and an input; hidden until `open` is called."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close filter")),
    ]

    class Applied(Message):
        """The operator pressed Enter: filter by `text` (empty: show everything)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        """The operator pressed Escape: the filter is cleared and the box hidden."""

    def __init__(self, placeholder: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Label(_("Filter:"), classes="filter-label")
        yield Input(placeholder=self._placeholder, compact=True, classes="filter-input")

    def on_mount(self) -> None:
        self.display = False

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def text(self) -> str:
        return self.input.value.strip()

    def open(self) -> None:
        """Show the box and put the cursor in it, with the current text selected.

        The focus moves at once, not on the next turn of the app (`focus`), so
        that keys typed right after the one that opened the box, and waiting
        already, go into it rather than to the list.
        """
        self.display = True
        self.screen.set_focus(self.input)
        self.input.select_all()

    def action_close(self) -> None:
        self.input.value = ""
        self.display = False
        self.post_message(self.Closed())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Applied(self.text))
