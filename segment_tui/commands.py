"""The pages in the command palette (ctrl+p), so that every page is a search away.

The provider only names the pages; opening one is the app's business (`open_page`),
so that the palette and the keys take the same way there. It also offers Textual's
own commands (theme, keys, quit), after the pages: with two providers the palette
would list whichever answered first on top.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import ModalScreen

from segment_tui.i18n import _


@runtime_checkable
class PageHost(Protocol):
    """An app that can open the pages by name."""

    def open_page(self, page: str) -> None: ...


@dataclass(frozen=True)
class Page:
    """A page of the palette: its name for `open_page`, its title and its help."""

    key: str
    title: Callable[[], str]
    help: Callable[[], str]


PAGES: tuple[Page, ...] = (
    Page(
        "proposals",
        lambda: _("Segmentation Proposals"),
        lambda: _("The open proposals, to review, delete and apply"),
    ),
    Page(
        "create",
        lambda: _("Create proposals"),
        lambda: _("Evaluate every customer as of a reference date"),
    ),
    Page(
        "apply",
        lambda: _("Apply proposals"),
        lambda: _("Apply the marked proposals, or the one under the cursor"),
    ),
    Page(
        "history",
        lambda: _("History"),
        lambda: _("The applied changes, newest first"),
    ),
    Page(
        "setup",
        lambda: _("Setup"),
        lambda: _("The segments and dunning conditions in use"),
    ),
    Page(
        "customer",
        lambda: _("Customer of cursor row"),
        lambda: _("Metrics, conditions, invoices and history of that customer"),
    ),
)


class PagesProvider(Provider):
    """Offers every page of the app by its title, then the app's system commands."""

    def _host(self) -> PageHost | None:
        # A dialog waits for its answer: leaving it from the palette would lose it.
        if isinstance(self.screen, ModalScreen):
            return None
        app = self.app
        return app if isinstance(app, PageHost) else None

    async def discover(self) -> Hits:
        host = self._host()
        if host is not None:
            for page in PAGES:
                yield DiscoveryHit(
                    page.title(), partial(host.open_page, page.key), help=page.help()
                )
        for command in self.app.get_system_commands(self.screen):
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        host = self._host()
        matcher = self.matcher(query)
        commands: list[tuple[str, Callable[[], object], str]] = []
        if host is not None:
            commands += [
                (page.title(), partial(host.open_page, page.key), page.help())
                for page in PAGES
            ]
        commands += [
            (command.title, command.callback, command.help)
            for command in self.app.get_system_commands(self.screen)
        ]
        for title, callback, help_text in commands:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    callback,
                    text=title,
                    help=help_text,
                )
