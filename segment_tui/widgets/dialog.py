"""The frame every dialog shares: a title, a body, OK and Cancel, and their keys.

`y` confirms, `n` and Escape cancel, Enter presses the focused button, so an
operator answers every dialog the same way. A dialog closes with `dismiss`, never
by popping the screen, so that the result reaches the screen that asked.
"""

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static
from textual.widgets.button import ButtonVariant

from segment_tui.i18n import _

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal with a title, a body from `compose_body`, and OK and Cancel buttons.

    Subclasses decide what confirming and cancelling do (`confirm`, `cancel`);
    the keys and buttons call those. `AUTO_FOCUS` names the button focused first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", _("OK")),
        Binding("n,escape", "cancel", _("Cancel")),
    ]

    AUTO_FOCUS = "#ok"

    def __init__(
        self,
        title: str,
        ok_label: str | None = None,
        *,
        cancel_label: str | None = None,
        with_cancel: bool = True,
        destructive: bool = False,
        classes: str = "",
    ) -> None:
        super().__init__(classes=f"dialog {classes}".strip())
        self._title = title
        self._ok_label = ok_label or _("OK")
        self._cancel_label = cancel_label or _("Cancel")
        self._with_cancel = with_cancel
        self._ok_variant: ButtonVariant = "error" if destructive else "primary"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame") as frame:
            frame.border_title = self._title
            yield from self.compose_body()
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._ok_label, variant=self._ok_variant, id="ok")
                if self._with_cancel:
                    yield Button(self._cancel_label, id="cancel")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The widgets between the title and the buttons."""
        yield Static("")

    @property
    def ok_button(self) -> Button:
        return self.query_one("#ok", Button)

    @property
    def cancel_button(self) -> Button | None:
        """The Cancel button; None in a dialog that only informs."""
        return self.query_one("#cancel", Button) if self._with_cancel else None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.action_confirm()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_confirm(self) -> None:
        if not self.ok_button.disabled:
            self.confirm()

    def action_cancel(self) -> None:
        button = self.cancel_button
        if button is None or not button.disabled:
            self.cancel()

    def confirm(self) -> None:
        """What OK does; the default closes the dialog with no result."""
        self.dismiss()

    def cancel(self) -> None:
        """What Cancel does; the default closes the dialog with no result."""
        self.dismiss()
