"""The dialogs: their keys, their focus, and what they refuse.

`y` confirms, `n` and Escape cancel, Enter presses the focused button; the
create and apply dialogs focus OK, the delete dialog Cancel.
"""

from __future__ import annotations

from screen_support import SIZE, Notes, Store, open_proposals, settle
from textual.widgets import Button, Input, Static

from segment_tui.errors import InputError
from segment_tui.screens.apply_proposals import breakdown_lines
from segment_tui.screens.create_proposals import CreateProposalsDialog, parse_reference
from segment_tui.screens.error import ErrorScreen, show_error
from segment_tui.screens.proposals import ProposalsScreen


async def test_invalid_reference_date_disables_ok(empty_store: Store) -> None:
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CreateProposalsDialog)
        field = dialog.query_one("#reference", Input)
        error = dialog.query_one("#date-error", Static)
        assert field.value == "2024-07-01"  # today, as the app was given
        assert not error.display

        field.focus()
        field.value = "2024-02-30"
        await pilot.pause()
        assert dialog.ok_button.disabled
        assert error.display
        assert "'2024-02-30' is not a date; write YYYY-MM-DD" in str(error.content)
        await pilot.press("enter")  # refused while the date is invalid
        await pilot.pause()
        assert app.screen is dialog

        field.value = ""
        await pilot.pause()
        assert "Enter the reference date as YYYY-MM-DD." in str(error.content)

        for out_of_range in ("0001-01-01", "9999-12-31"):
            field.value = out_of_range
            await pilot.pause()
            assert dialog.ok_button.disabled
            assert str(error.content) == (
                f"'{out_of_range}' is out of range; a reference date lies from "
                "1900-01-01 to 2999-12-31."
            )

        field.value = "2024-06-30"
        await pilot.pause()
        assert not dialog.ok_button.disabled
        assert not error.display
        await pilot.press("enter")  # Enter in the field creates
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        assert "as of 2024-06-30" in str(app.screen.query_one("#status").content)


async def test_a_date_typed_on_opening_the_dialog_is_the_reference(
    empty_store: Store,
) -> None:
    # The field has the focus with today's date selected: typing replaces it, a
    # letter is not typed into it, and Enter creates as of the date typed.
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CreateProposalsDialog)
        field = dialog.query_one("#reference", Input)
        assert app.focused is field

        await pilot.press(*"2024-06-30", "x")
        assert field.value == "2024-06-30"
        await pilot.press("enter")
        await settle(pilot)

        assert isinstance(app.screen, ProposalsScreen)
        assert "as of 2024-06-30" in str(app.screen.query_one("#status").content)


async def test_y_creates_from_the_date_field(empty_store: Store) -> None:
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        await pilot.press("y")
        await settle(pilot)

        assert isinstance(app.screen, ProposalsScreen)
        assert "as of 2024-07-01" in str(app.screen.query_one("#status").content)


async def test_create_dialog_cancel_keys(empty_store: Store) -> None:
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        for cancel in ("n", "escape"):
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, CreateProposalsDialog)
            await pilot.press(cancel)
            await settle(pilot)
            assert isinstance(app.screen, ProposalsScreen)
    assert open_proposals(empty_store.engine) == []


async def test_create_without_setup_explains_instead(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from segment_tui.app import SegmentApp
    from segment_tui.store.engine import create_schema, make_engine

    url = f"sqlite:///{tmp_path / 'bare.db'}"
    create_schema(make_engine(url))
    app = SegmentApp(url, operator="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CreateProposalsDialog)
        assert dialog.ok_button.disabled
        assert "no setup yet" in str(dialog.query_one("#scope", Static).content)


async def test_create_reports_a_failure_in_the_error_dialog(store: Store) -> None:
    app = store.app()

    def refuse(*args: object, **kwargs: object) -> None:
        raise InputError("the store has no setup yet; run 'segment-tui init'")

    async with app.run_test(size=SIZE) as pilot:
        from segment_tui import services

        original = services.create_proposals
        services.create_proposals = refuse  # type: ignore[assignment]
        try:
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
        finally:
            services.create_proposals = original
        assert isinstance(app.screen, ErrorScreen)
        assert app.screen.message == (
            "The store has no setup yet; run 'segment-tui init'."
        )
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


async def test_error_dialog_shows_brackets_literally(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        show_error(app, "Failed", InputError("customer [Test] [bold]x[/bold] refused"))
        await settle(pilot)
        message = app.screen.query_one("#message", Static)
        assert "[Test] [bold]x[/bold]" in str(message.render())
        assert isinstance(app.focused, Button)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


async def test_apply_dialog_says_when_nothing_is_open(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("space")
        # Another operator deletes the proposal meanwhile.
        from segment_tui import services

        services.delete_proposals(store.engine, services.Selection(all=True))
        await pilot.press("a")
        await settle(pilot)
        summary = str(app.screen.query_one("#summary", Static).content)
        assert summary.startswith("None of these proposals is open any more.")
        assert app.screen.query_one("#ok", Button).disabled
        await pilot.press("y")  # refused
        await pilot.pause()
        assert notes.messages == []
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


def test_reference_dates_are_iso_only() -> None:
    assert parse_reference(" 2024-06-30 ").isoformat() == "2024-06-30"  # type: ignore[union-attr]
    for text in ("20240630", "2024-6-30", "30-06-2024", "2024-13-01", "tomorrow"):
        assert parse_reference(text) is None


def test_breakdown_is_largest_first_and_capped() -> None:
    from collections import Counter

    counts = Counter({(None, "SOFT"): 2, ("SOFT", "STRICT"): 5})
    assert breakdown_lines(counts) == [("SOFT → STRICT", 5), ("none → SOFT", 2)]
    many = Counter({(f"C{i}", "X"): i + 1 for i in range(12)})
    lines = breakdown_lines(many)
    assert len(lines) == 9
    assert lines[0] == ("C11 → X", 12)
    assert lines[-1] == ("other changes", 1 + 2 + 3 + 4)
