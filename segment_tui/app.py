"""The terminal UI: the app that holds the pages, and `run_app` that starts it.

The app is given its store and operator; it looks nothing up itself, so that a
test can hand it a store in a temporary folder and a fixed "today". It opens on the
Segmentation Proposals page; every other page is pushed on top of that one and
Escape leads back. The command palette (ctrl+p) lists every page.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import ClassVar

from rich.text import Text
from sqlalchemy import Engine
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

# Limitation: the key descriptions in the footers are translated when the screen
# modules are first imported, so the language (`set_language`, SEGMENT_TUI_LANG)
# must be chosen before this module is imported.
from segment_tui.commands import PagesProvider
from segment_tui.i18n import _
from segment_tui.screens.error import show_error
from segment_tui.screens.history import HistoryScreen
from segment_tui.screens.proposals import ProposalsScreen
from segment_tui.screens.setup_view import SetupScreen
from segment_tui.store.engine import create_schema, make_engine

WRITES = frozenset({"apply", "store"})
"""The worker groups that write an operator's decision to the store: an apply, a
delete. A quit waits for them."""


class SegmentApp(App[None]):
    """segment-tui's pages over one store, for one operator.

    Args:
        db_url: The store, as a SQLAlchemy URL or a SQLite file path; or
        engine: an engine that is already open (the caller disposes of it).
        operator: Recorded in the runs and the history as who did it.
        today: The default reference date; the real date when not given.
    """

    CSS_PATH = "app.tcss"
    TITLE = "segment-tui"
    COMMANDS = {PagesProvider}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True),
    ]

    def __init__(
        self,
        db_url: str | None = None,
        *,
        engine: Engine | None = None,
        operator: str,
        today: date | None = None,
    ) -> None:
        super().__init__()
        if (db_url is None) == (engine is None):
            raise ValueError("give either db_url or engine")
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else make_engine(str(db_url))
        self.operator = operator
        self.today = today or date.today()
        self._proposals: ProposalsScreen | None = None
        self._quit_waits = False

    @property
    def proposals(self) -> ProposalsScreen:
        """The Segmentation Proposals page, the bottom of the screen stack."""
        if self._proposals is None:
            self._proposals = ProposalsScreen(self.engine, self.operator, self.today)
        return self._proposals

    def get_default_screen(self) -> ProposalsScreen:
        return self.proposals

    def on_unmount(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    async def action_quit(self) -> None:
        """Quit; after an apply or a delete that is still being written, once it is.

        The write would go on after the screen had closed, and the operator would
        not learn whether it happened. The app stays until the page shows the
        outcome, then closes; if the outcome is a dialog (proposals skipped, an
        error), the app stays with it. A second quit closes the screen at once and
        says that the write goes on: it still ends before the program does, whole
        or not at all. A proposal run has no such wait: a quit cancels it, and
        nothing is written.
        """
        if not self.writing():
            self.exit()
        elif self._quit_waits:
            self.exit(
                message=Text(
                    _(
                        "segment-tui: the changes are still being written, whole or "
                        "not at all; segment-tui ends once they are."
                    )
                )
            )
        else:
            self._quit_waits = True
            self.notify(
                _(
                    "segment-tui quits once the changes are written. Press ctrl+q "
                    "again to close the screen now."
                ),
                markup=False,
            )

    def writing(self) -> bool:
        """Whether an apply or a delete is being written to the store."""
        return any(
            worker.group in WRITES and not worker.is_finished for worker in self.workers
        )

    def on_proposals_screen_written(self, _message: ProposalsScreen.Written) -> None:
        if not self._quit_waits:
            return
        self._quit_waits = False
        if isinstance(self.screen, ModalScreen):
            # The outcome is a dialog: the operator reads it, and quits again.
            return
        self.exit()

    def open_page(self, page: str) -> None:
        """Go to a page by name: proposals, create, apply, history, setup, customer.

        The dialogs and the customer page open over the proposals page, since
        they act on its rows; history and setup replace whatever page was open.
        """
        if isinstance(self.screen, ModalScreen):
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        proposals = self.proposals
        try:
            if page == "create":
                proposals.action_create()
            elif page == "apply":
                if proposals.check_action("apply", ()):
                    proposals.action_apply()
                else:
                    self.notify(_("There are no proposals to apply."), markup=False)
            elif page == "customer":
                proposals.open_customer()
            elif page == "history":
                self.push_screen(HistoryScreen(self.engine, self.today))
            elif page == "setup":
                self.push_screen(SetupScreen(self.engine))
        except Exception as error:  # shown to the operator, and logged there
            show_error(self, _("The page cannot be shown"), error)


@contextmanager
def _no_terminal_logging() -> Iterator[None]:
    """Keep log records off the terminal while the UI draws on it.

    Handlers writing to the terminal are taken off the root logger for the
    duration; records without any handler would reach Python's last-resort
    handler, which writes to standard error, so the package gets a null handler.
    """
    root = logging.getLogger()
    terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    detached = [
        handler
        for handler in root.handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and handler.stream in terminal
    ]
    for handler in detached:
        root.removeHandler(handler)
    package = logging.getLogger("segment_tui")
    null = logging.NullHandler()
    package.addHandler(null)
    try:
        yield
    finally:
        package.removeHandler(null)
        for handler in detached:
            root.addHandler(handler)


def run_app(db_url: str, operator: str) -> None:
    """Open the UI on the store at `db_url` (a URL or a SQLite file path).

    The schema is created if missing, so that a new store opens on an empty list
    rather than an error.
    """
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        with _no_terminal_logging():
            SegmentApp(engine=engine, operator=operator).run()
    finally:
        engine.dispose()
