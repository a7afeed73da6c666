"""History, Setup and the command palette that leads to every page."""

from __future__ import annotations

from screen_support import OPERATOR, REFERENCE, SIZE, Store, settle
from textual.command import CommandPalette

from segment_tui import services
from segment_tui.commands import PAGES
from segment_tui.screens.apply_proposals import ApplyProposalsDialog
from segment_tui.screens.create_proposals import CreateProposalsDialog
from segment_tui.screens.customer import CustomerScreen
from segment_tui.screens.history import HistoryScreen
from segment_tui.screens.proposals import ProposalsScreen
from segment_tui.screens.setup_view import SetupScreen


async def test_palette_lists_every_page(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot, 0.3)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        listed = [
            str(option.prompt).splitlines()[0]
            for option in palette.query_one("CommandList").options
        ]
        for title in (
            "Segmentation Proposals",
            "Create proposals",
            "Apply proposals",
            "History",
            "Setup",
            "Customer of cursor row",
        ):
            assert title in listed
        assert len(PAGES) == 6


async def test_palette_search_opens_a_page(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"History")
        await settle(pilot, 0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)


async def test_open_page_goes_to_each_page(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        expected = {
            "history": HistoryScreen,
            "setup": SetupScreen,
            "customer": CustomerScreen,
            "create": CreateProposalsDialog,
            "apply": ApplyProposalsDialog,
            "proposals": ProposalsScreen,
        }
        for page, kind in expected.items():
            app.open_page(page)
            await settle(pilot)
            assert isinstance(app.screen, kind), page
            if page in ("create", "apply"):
                await pilot.press("escape")
                await settle(pilot)
        # From a page over the main one, another page replaces it.
        app.open_page("history")
        await settle(pilot)
        app.open_page("setup")
        await settle(pilot)
        assert len(app.screen_stack) == 2


async def test_history_lists_applied_changes_newest_first(store: Store) -> None:
    proposals = services.list_proposals(store.engine)
    first, second = proposals[0].customer_no, proposals[1].customer_no
    for customer in (first, second):
        services.apply_proposals(
            store.engine, services.Selection(customer_nos=[customer]), OPERATOR
        )
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_page("history")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, HistoryScreen)
        table = page.query_one("#history")
        assert table.row_count == 2
        lines = [table.render_line(y).text for y in (1, 2)]
        assert second in lines[0] and first in lines[1]
        assert OPERATOR in lines[0]
        assert "2 applied changes" in str(page.query_one("#status").content)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.customer_no == second
        assert app.screen.query_one("#changes").row_count == 1
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


async def test_setup_shows_segments_in_order(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_page("setup")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, SetupScreen)
        segments = page.query_one("#segments")
        codes = [
            segments.get_row_at(i)[1].plain
            for i in range(segments.row_count)
            if segments.get_row_at(i)[1].plain
        ]
        assert codes == ["ARREARS", "POOR", "IRREGULAR", "PROMPT"]
        conditions = [
            segments.get_row_at(i)[4].plain for i in range(segments.row_count)
        ]
        assert "late_ratio ≥ 0.5" in conditions
        assert page.query_one("#dunning-conditions").row_count == 4


async def test_unknown_customer_says_so(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CustomerScreen(store.engine, "NOPE", REFERENCE))
        await settle(pilot)
        message = app.screen.query_one("#customer-loading")
        assert "There is no customer NOPE." in str(message.render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
