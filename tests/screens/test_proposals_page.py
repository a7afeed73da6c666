"""The Segmentation Proposals page, driven by its keys as an operator would.

Every flow checks the store afterwards, not only the screen: a delete that only
vanished from the list, or an apply without history rows, would pass otherwise.
"""

from __future__ import annotations

import threading
from typing import Any

from screen_support import (
    REFERENCE,
    SIZE,
    TODAY,
    Notes,
    Store,
    open_proposals,
    settle,
)
from sqlalchemy import select, update
from textual import events
from textual.widgets import Input, Static

from segment_tui import services
from segment_tui.screens import apply_proposals
from segment_tui.screens.apply_proposals import ApplyProposalsDialog, SkippedProposals
from segment_tui.screens.confirm_delete import ConfirmDelete
from segment_tui.screens.create_proposals import CreateProposalsDialog
from segment_tui.screens.customer import CustomerScreen
from segment_tui.screens.error import ErrorScreen
from segment_tui.screens.proposals import ProposalsScreen
from segment_tui.store.models import Customer, Proposal, SegmentChange
from segment_tui.widgets.proposal_table import ProposalTable


def table_of(app: Any) -> ProposalTable:
    return app.screen.query_one(ProposalTable)


def status_of(app: Any) -> str:
    return str(app.screen.query_one("#status", Static).content)


def lines_of(table: ProposalTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def shown_keys(app: Any) -> set[str]:
    return (
        {binding.key for binding in app.screen.active_bindings_shown()}
        if hasattr(app.screen, "active_bindings_shown")
        else {
            key
            for key, active in app.screen.active_bindings.items()
            if active.binding.show
        }
    )


async def test_empty_page_says_how_to_create(empty_store: Store) -> None:
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert table.row_count == 0
        text = "\n".join(lines_of(table))
        assert "There are no proposals. Press c to create proposals." in text
        assert "0 proposals" in status_of(app)
        # Nothing to act on: apply, delete, mark and sort are not offered.
        keys = shown_keys(app)
        assert "c" in keys
        assert not {"a", "d", "space", "s", "ctrl+a"} & keys


def segments_of(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(Proposal.segment)).scalars())


def type_ahead(app: Any, keys: str) -> None:
    """Queue `keys` at once, as a fast typist's or a pasted line's arrive, before
    the app has handled the first."""
    for key in keys:
        name = {"/": "slash", "\r": "enter"}.get(key, key)
        app.post_message(events.Key(name, None if key == "\r" else key))


async def test_a_filter_typed_ahead_reaches_the_filter_box(store: Store) -> None:
    # "/" opens the box and gives it the keys; those typed right after it must not
    # go to the list that had them before.
    by_segment = segments_of(store)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        type_ahead(app, "/poor\r")
        await settle(pilot)

        assert status_of(app).startswith(
            f"{by_segment.count('POOR')} of {len(by_segment)} proposals match 'poor'"
        )


async def test_a_date_typed_ahead_is_the_reference_date(store: Store) -> None:
    # "c", a date and Enter in one go create as of that date, not as of today.
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        type_ahead(app, "c2024-06-15\r")
        await settle(pilot)

        assert isinstance(app.screen, ProposalsScreen)
        assert "run 2 as of 2024-06-15" in status_of(app)


async def test_slash_and_c_in_the_filter_box_are_typed(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a", "slash", "c")
        await settle(pilot)

        assert app.screen.query_one("FilterBar Input", Input).value == "a/c"
        assert isinstance(app.screen, ProposalsScreen)


async def test_q_quits_from_the_list(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
        assert not app.is_running


async def test_create_fills_the_table(empty_store: Store) -> None:
    app = empty_store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, CreateProposalsDialog)
        assert app.focused is dialog.query_one("#reference")
        assert "There are no open proposals to replace." in str(
            dialog.query_one("#scope", Static).content
        )
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        made = len(open_proposals(empty_store.engine))
        assert made > 0
        assert f"{made} proposals created as of {TODAY.isoformat()}" in notes
        assert table_of(app).row_count == made
        assert status_of(app).startswith(f"{made} proposals · 0 marked · run 1")


async def test_create_replaces_and_says_how_many(store: Store) -> None:
    before = len(open_proposals(store.engine))
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        scope = str(app.screen.query_one("#scope", Static).content)
        assert f"It replaces the {before} open proposals." in scope
        await pilot.press("y")
        await settle(pilot)
        assert "run 2" in status_of(app)


async def test_space_marks_three_and_the_status_says_so(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space")
        await pilot.pause()
        table = table_of(app)
        assert table.mark_count == 3
        assert table.cursor_row == 3
        assert " · 3 marked · " in status_of(app)
        await pilot.press("escape")
        await pilot.pause()
        assert table.mark_count == 0
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert table.mark_count == table.row_count


async def test_delete_marked_after_confirmation(store: Store) -> None:
    before = open_proposals(store.engine)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("space", "space", "space", "d")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDelete)
        assert dialog.count == 3
        assert app.focused is dialog.cancel_button
        await pilot.press("y")
        await settle(pilot)
        assert "3 proposals deleted." in notes
        assert open_proposals(store.engine) == before[3:]
        assert table_of(app).row_count == len(before) - 3
        assert table_of(app).mark_count == 0


async def test_delete_cancelled_keeps_everything(store: Store) -> None:
    before = open_proposals(store.engine)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for cancel in ("n", "escape", "enter"):  # Enter presses the focused Cancel
            await pilot.press("delete")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDelete)
            assert app.screen.count == 1
            await pilot.press(cancel)
            await settle(pilot)
            assert isinstance(app.screen, ProposalsScreen)
        assert open_proposals(store.engine) == before


async def test_delete_without_marks_takes_the_cursor_row(store: Store) -> None:
    before = open_proposals(store.engine)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "d")
        await settle(pilot)
        await pilot.click("#ok")
        await settle(pilot)
        assert open_proposals(store.engine) == [before[0], *before[2:]]


async def test_apply_a_subset(store: Store) -> None:
    before = open_proposals(store.engine)
    chosen = [customer for _id, customer in before[:2]]
    proposed = {
        p.customer_no: p.proposed_condition
        for p in services.list_proposals(store.engine)
    }
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("space", "space", "a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ApplyProposalsDialog)
        assert app.focused is dialog.ok_button
        summary = str(dialog.query_one("#summary", Static).content)
        assert summary == "2 proposals will be applied:"
        breakdown = str(dialog.query_one("#breakdown", Static).content)
        assert " → " in breakdown
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        assert "2 proposals applied." in notes

    assert open_proposals(store.engine) == before[2:]
    with store.engine.connect() as connection:
        conditions = {
            row.customer_no: row.dunning_condition
            for row in connection.execute(
                select(Customer.customer_no, Customer.dunning_condition).where(
                    Customer.customer_no.in_(chosen)
                )
            )
        }
        history = [
            (row.customer_no, row.applied_by)
            for row in connection.execute(
                select(SegmentChange.customer_no, SegmentChange.applied_by)
            )
        ]
    assert conditions == {no: proposed[no] for no in chosen}
    assert sorted(history) == [(no, "tester") for no in sorted(chosen)]


async def test_stale_proposal_is_skipped_and_reported(store: Store) -> None:
    before = open_proposals(store.engine)
    stale = before[1][1]
    with store.engine.begin() as connection:
        connection.execute(
            update(Customer)
            .where(Customer.customer_no == stale)
            .values(dunning_condition="STRICT" if stale != "C00002" else "SOFT")
        )
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("space", "space", "space", "a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        report = app.screen
        assert isinstance(report, SkippedProposals)
        assert "2 proposals applied. 1 skipped." in notes
        assert [s.customer_no for s in report.result.skipped] == [stale]
        skipped_table = report.query_one("#skipped")
        assert skipped_table.row_count == 1
        assert "changed from" in report.result.skipped[0].why
        assert skipped_table.max_scroll_x == 0  # the whole reason is in view
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        # The skipped proposal stays open and stays marked.
        assert table_of(app).mark_count == 1
    assert [c for _i, c in open_proposals(store.engine)][0] == stale


async def test_apply_cancelled_changes_nothing(store: Store) -> None:
    before = open_proposals(store.engine)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ApplyProposalsDialog)
        await pilot.press("n")
        await settle(pilot)
    assert open_proposals(store.engine) == before
    assert services.history(store.engine) == []


async def test_a_slow_apply_shows_a_progress_bar_a_quick_one_does_not(
    store: Store, monkeypatch: Any
) -> None:
    # The moving bar costs the apply's thread time, so it comes only once an
    # apply has taken a while (apply_proposals.PROGRESS_AFTER).
    released = threading.Event()
    apply = services.apply_proposals

    def slow_apply(*arguments: Any, **options: Any) -> Any:
        released.wait(10)
        return apply(*arguments, **options)

    monkeypatch.setattr(services, "apply_proposals", slow_apply)
    monkeypatch.setattr(apply_proposals, "PROGRESS_AFTER", 1.0)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("space", "a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ApplyProposalsDialog)
        await pilot.press("enter")
        await pilot.pause(0.05)
        assert not dialog.query("#progress")
        assert str(dialog.query_one("#summary", Static).content) == "Applying…"
        for _ in range(200):  # the bar's timer, however busy the machine
            if dialog.query("#progress"):
                break
            await pilot.pause(0.05)
        assert len(dialog.query("#progress")) == 1
        released.set()
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        assert "1 proposal applied." in notes


async def test_filter_then_clear(store: Store) -> None:
    total = len(open_proposals(store.engine))
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"poor", "enter")
        await settle(pilot)
        table = table_of(app)
        assert 0 < table.row_count < total
        assert app.focused is table
        assert f"of {total} proposals match 'poor'" in status_of(app)
        assert {r.segment for r in table.source.source.fetch(0, 100)} == {"POOR"}
        # Marks survive the filter: mark one, clear the filter, it is still marked.
        await pilot.press("space")
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert table.row_count == total
        assert table.mark_count == 1
        assert "'poor'" not in status_of(app)


async def test_filter_with_no_match_says_so(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzz%", "enter")
        await settle(pilot)
        text = "\n".join(lines_of(table_of(app)))
        assert "No proposals match 'zzz%'." in text


async def test_sort_by_the_cursor_column_and_reverse(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("space")  # marked by id: survives the sort
        marked = set(table.marked)
        for _ in range(6):
            await pilot.press("right")
        assert table.cursor_column_key == "overdue_amount"
        await pilot.press("s")
        await settle(pilot)
        amounts = [r.overdue_amount for r in table.source.source.fetch(0, 100)]
        assert amounts == sorted(amounts)
        assert "▲" in lines_of(table)[0]
        await pilot.press("s")
        await settle(pilot)
        amounts = [r.overdue_amount for r in table.source.source.fetch(0, 100)]
        assert amounts == sorted(amounts, reverse=True)
        assert "▼" in lines_of(table)[0]
        assert set(table.marked) == marked


async def test_reason_column_cannot_be_sorted(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        for _ in range(5):
            await pilot.press("right")
        await pilot.press("s")
        await settle(pilot)
        assert "The list cannot be sorted by Reason." in notes


async def test_enter_opens_the_customer(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, CustomerScreen)
        first = open_proposals(store.engine)[2][1]
        assert page.customer_no == first
        detail = page.detail
        assert detail is not None and detail.evaluation is not None
        metrics = page.query_one("#metrics")
        invoices = detail.evaluation.metrics.invoice_count
        assert metrics.get_cell("invoice_count", "1").plain == str(invoices)
        assert page.query_one("#conditions").row_count >= len(detail.setup.segment)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


async def test_names_with_brackets_show_literally(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert any("[Test] Bakker & Zn" in line for line in lines_of(table))
        # The customer page shows the whole name, brackets and all.
        table.move_cursor(row=2)
        await pilot.press("enter")
        await settle(pilot)
        title = app.screen.query_one("#customer-title", Static)
        assert "[Test] Bakker & Zn [bold]" in str(title.render())


async def test_a_run_made_meanwhile_refuses_the_delete(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "d")
        await settle(pilot)
        # Another operator creates proposals while the dialog is open.
        services.create_proposals(store.engine, REFERENCE, "someone else")
        replaced = open_proposals(store.engine)
        await pilot.press("y")
        await settle(pilot)
        error = app.screen
        assert isinstance(error, ErrorScreen)
        assert "run 2 has replaced them" in error.message
        await pilot.press("enter")
        await settle(pilot)
        assert "run 2 as of" in status_of(app)
        assert table_of(app).mark_count == 0
    assert open_proposals(store.engine) == replaced


async def test_review_flow_on_every_backend(any_store: Store) -> None:
    before = open_proposals(any_store.engine)
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")  # the cursor stayed on the third proposal
        await settle(pilot)
        await pilot.press("slash", *before[3][1].lower(), "enter")
        await settle(pilot)
        assert table_of(app).row_count == 1
    assert open_proposals(any_store.engine) == before[3:]
    assert len(services.history(any_store.engine)) == 2
