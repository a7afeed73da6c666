"""Setup: the current setup, read-only, as the proposals are made from it.

The segments are listed in the order they are tried (the first that matches
wins), each with its conditions and the dunning condition it gives; below them the
dunning conditions with their descriptions and the settings of the window. The
setup changes only through a setup file (`segment-tui setup load FILE`), so that
every version is a file someone can review.
"""

from typing import ClassVar

from rich.text import Text
from sqlalchemy import Engine
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from segment_tui import services
from segment_tui.i18n import _
from segment_tui.rules.setup import Setup
from segment_tui.screens.formatting import comparison
from segment_tui.widgets.text_table import TextTable

DESCRIPTION_WIDTH = 44
"""The description column: longer descriptions continue on the next line."""


class SetupScreen(Screen[None]):
    """The segments, dunning conditions and settings of the current setup."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back")),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__(classes="setup-page")
        with engine.connect() as connection:
            self.stored = services.current_setup(connection)

    def compose(self) -> ComposeResult:
        yield Header()
        if self.stored is None:
            yield Static(
                _(
                    "No setup is stored yet. Load one with 'segment-tui setup load "
                    "FILE', or the default with 'segment-tui init'."
                ),
                classes="page-empty",
                markup=False,
            )
            yield Footer()
            return
        version, setup = self.stored
        with VerticalScroll(id="setup-body"):
            yield Static(
                self._settings_line(version, setup), id="settings", markup=False
            )
            yield Static(_("Segments, in the order they are tried"), classes="section")
            yield self._segments_table(setup)
            yield Static(_("Dunning conditions"), classes="section")
            yield self._conditions_table(setup)
            yield Static(
                _(
                    "The setup is read-only here; change it with 'segment-tui setup "
                    "load FILE'."
                ),
                classes="page-note",
                markup=False,
            )
        yield Footer()

    def on_mount(self) -> None:
        self.title = _("Setup")
        if self.stored is not None:
            self.sub_title = _("version {version}", version=self.stored[0])

    def action_back(self) -> None:
        self.dismiss()

    def _settings_line(self, version: int, setup: Setup) -> str:
        settings = setup.settings
        excluded = ", ".join(settings.exclude) or _("nobody")
        return _(
            "Version {version}. Behaviour window: {months} months. Late after {days} "
            "days past due. Left out: {excluded}.",
            version=version,
            months=settings.lookback_months,
            days=settings.late_tolerance_days,
            excluded=excluded,
        )

    def _segments_table(self, setup: Setup) -> TextTable:
        table = TextTable(
            [
                "#",
                _("Segment"),
                _("Dunning condition"),
                _("Match"),
                _("Condition"),
                _("Description"),
            ],
            right=[0],
            widths={5: DESCRIPTION_WIDTH},
            id="segments",
        )
        for order, segment in enumerate(setup.segment, start=1):
            conditions = [
                comparison(c.subject, c.op, c.threshold) for c in segment.parsed
            ]
            match = _("all") if segment.match == "all" else _("any")
            first_condition: str | Text = (
                conditions[0] if conditions else Text(_("everyone"), "dim italic")
            )
            table.add_plain_row(
                str(order),
                Text(segment.code, "bold"),
                segment.dunning_condition,
                match if conditions else "",
                first_condition,
                segment.description,
                wrap=True,
            )
            for condition in conditions[1:]:
                table.add_plain_row("", "", "", "", condition, "")
        return table

    def _conditions_table(self, setup: Setup) -> TextTable:
        table = TextTable(
            [_("Dunning condition"), _("Description"), _("Given to")],
            id="dunning-conditions",
        )
        for condition in setup.dunning_condition:
            segments = [
                s.code for s in setup.segment if s.dunning_condition == condition.code
            ]
            table.add_plain_row(
                Text(condition.code, "bold"),
                condition.description,
                ", ".join(segments) or Text(_("no segment"), "dim italic"),
            )
        return table
