"""The error dialog: what went wrong, in one sentence, shown literally.

Messages often quote user data (a file name, a customer name with square
brackets), so the text is never read as markup.
"""

import logging
import traceback
from typing import Any

from sqlalchemy.exc import DBAPIError
from textual.app import App, ComposeResult
from textual.widgets import Static

from segment_tui.errors import InputError
from segment_tui.i18n import _
from segment_tui.widgets.dialog import Dialog

log = logging.getLogger(__name__)


class ErrorScreen(Dialog[None]):
    """Shows a failure until the operator closes it (Enter, Escape, `y` or `n`)."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(title, ok_label=_("Close"), with_cancel=False, classes="error")
        self.message = message

    def compose_body(self) -> ComposeResult:
        yield Static(self.message, id="message", markup=False)


def show_error(app: App[Any], title: str, error: BaseException | str) -> None:
    """Open the error dialog for a failure: its message, or the text given.

    An input error is the operator's to fix and says how; anything else is also
    logged, since the dialog shows only the first line of it.
    """
    if isinstance(error, str):
        message = error
    elif isinstance(error, InputError):
        message = _sentence(str(error))
    else:
        _log_failure(title, error)
        message = _("{problem} The details are in the log.", problem=_describe(error))
    app.push_screen(ErrorScreen(title, message))


def _log_failure(title: str, error: BaseException) -> None:
    # The kind of error and where it happened, but not its message: a database
    # error's message carries the statement's parameters, customer data among them.
    stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    log.error("%s: %s\n%s", title, type(error).__qualname__, stack)


def _describe(error: BaseException) -> str:
    # A database error's own text carries the SQL and a web link; the driver's
    # message (e.g. "database is locked") is what the operator can act on.
    cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    if not text:
        return _("An unexpected {kind} occurred.", kind=type(error).__name__)
    return _sentence(text)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    first = text[0].upper() + text[1:]
    return first if first.endswith((".", "!", "?")) else first + "."
