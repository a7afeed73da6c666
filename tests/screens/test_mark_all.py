"""Mark all on the proposals page, then apply or delete, as an operator would.

ctrl+a marks every proposal under the filter as a whole, without reading one id;
Space then makes exceptions, and apply and delete act on exactly what the marks
describe. Every flow checks the store afterwards, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from screen_support import SIZE, Notes, Store, open_proposals, settle
from sqlalchemy import select, update
from textual.widgets import Static

from segment_tui import services
from segment_tui.screens.apply_proposals import ApplyProposalsDialog, SkippedProposals
from segment_tui.screens.confirm_delete import ConfirmDelete
from segment_tui.screens.proposals import ProposalsScreen
from segment_tui.store.models import Customer, Proposal, SegmentChange
from segment_tui.widgets.proposal_table import ProposalTable


def table_of(app: Any) -> ProposalTable:
    return app.screen.query_one(ProposalTable)


def status_of(app: Any) -> str:
    return str(app.screen.query_one("#status", Static).content)


def summary_of(app: Any) -> str:
    return str(app.screen.query_one("#summary", Static).content)


def marked_lines(table: ProposalTable) -> dict[str, bool]:
    """Customer number: whether its row is drawn with the check mark, for the
    rows on screen."""
    shown = {}
    for y in range(1, table.size.height):
        text = table.render_line(y).text
        if text.strip():
            shown[text[3:].split()[0]] = text.startswith(" ✓ ")
    return shown


def segments(store: Store) -> dict[str, str]:
    """Customer number: the segment of its open proposal."""
    with store.engine.connect() as connection:
        return dict(
            connection.execute(select(Proposal.customer_no, Proposal.segment)).all()
        )


def proposed(store: Store) -> dict[str, str]:
    return {
        p.customer_no: p.proposed_condition
        for p in services.list_proposals(store.engine)
    }


def conditions(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as connection:
        return dict(
            connection.execute(
                select(Customer.customer_no, Customer.dunning_condition)
            ).all()
        )


def history(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return sorted(
            connection.execute(select(SegmentChange.customer_no)).scalars().all()
        )


async def apply_marked(pilot: Any, app: Any) -> None:
    await pilot.press("a")
    await settle(pilot)
    assert isinstance(app.screen, ApplyProposalsDialog)


async def test_mark_all_then_apply(any_store: Store) -> None:
    before = [no for _id, no in open_proposals(any_store.engine)]
    wanted = proposed(any_store)
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("ctrl+a")
        await pilot.pause()
        table = table_of(app)
        assert table.mark_count == len(before)
        assert f" · {len(before)} marked · " in status_of(app)
        assert set(marked_lines(table).values()) == {True}

        await apply_marked(pilot, app)
        assert summary_of(app) == f"{len(before)} proposals will be applied:"
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)
        assert f"{len(before)} proposals applied." in notes
        assert table_of(app).row_count == 0
        assert table_of(app).mark_count == 0
        assert " · 0 marked · " in status_of(app)

    assert open_proposals(any_store.engine) == []
    assert history(any_store) == sorted(before)
    now = conditions(any_store)
    assert all(now[no] == wanted[no] for no in before)


async def test_mark_all_unmark_two_then_apply(any_store: Store) -> None:
    before = [no for _id, no in open_proposals(any_store.engine)]
    kept = before[:2]  # the list starts in customer number order
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a", "space", "space")
        await pilot.pause()
        table = table_of(app)
        assert table.mark_count == len(before) - 2
        assert f" · {len(before) - 2} marked · " in status_of(app)
        shown = marked_lines(table)
        assert [no for no, marked in shown.items() if not marked] == kept

        await apply_marked(pilot, app)
        assert summary_of(app) == f"{len(before) - 2} proposals will be applied:"
        await pilot.press("y")
        await settle(pilot)
        # The two exceptions stay open and unmarked.
        assert table_of(app).row_count == 2
        assert table_of(app).mark_count == 0

    assert [no for _id, no in open_proposals(any_store.engine)] == kept
    assert history(any_store) == sorted(before[2:])


async def test_mark_all_under_a_filter_applies_only_those(any_store: Store) -> None:
    by_customer = segments(any_store)
    poor = sorted(no for no, segment in by_customer.items() if segment == "POOR")
    assert 0 < len(poor) < len(by_customer)
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"poor", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert table_of(app).mark_count == len(poor)
        assert f" · {len(poor)} marked · " in status_of(app)

        await apply_marked(pilot, app)
        assert summary_of(app) == f"{len(poor)} proposals will be applied:"
        await pilot.press("y")
        await settle(pilot)
        assert table_of(app).row_count == 0  # still under the filter

    left = [no for _id, no in open_proposals(any_store.engine)]
    assert left == sorted(set(by_customer) - set(poor))
    assert history(any_store) == poor


async def test_the_apply_dialog_says_how_many_marks_the_filter_hides(
    any_store: Store,
) -> None:
    # Marks stay when the filter changes, and an apply takes them all: the dialog
    # says how many of them the list does not show.
    by_customer = segments(any_store)
    poor = {no for no, segment in by_customer.items() if segment == "POOR"}
    arrears = {no for no, segment in by_customer.items() if segment == "ARREARS"}
    assert poor and arrears
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"poor", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a", "slash", "ctrl+u", *"arrears", "enter")
        await settle(pilot)
        await pilot.press("space")  # the first ARREARS row, shown
        await pilot.pause()

        await apply_marked(pilot, app)
        assert summary_of(app) == (
            f"{len(poor) + 1} proposals will be applied: ({len(poor)} of them are "
            "hidden by the filter 'arrears'.)"
        )
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("slash", "escape")  # no filter: nothing hidden
        await settle(pilot)
        await apply_marked(pilot, app)
        assert summary_of(app) == f"{len(poor) + 1} proposals will be applied:"


async def test_the_delete_question_says_how_many_marks_the_filter_hides(
    any_store: Store,
) -> None:
    by_customer = segments(any_store)
    poor = {no for no, segment in by_customer.items() if segment == "POOR"}
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"poor", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a", "slash", "ctrl+u", *"arrears", "enter")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)

        dialog = app.screen
        assert isinstance(dialog, ConfirmDelete)
        hidden = dialog.query_one("#hidden", Static)
        assert hidden.display
        assert str(hidden.content) == (
            f"{len(poor)} of them are hidden by the filter 'arrears'."
        )
        await pilot.press("n")
        await settle(pilot)

    assert len(open_proposals(any_store.engine)) == len(by_customer)


async def test_mark_all_then_delete(any_store: Store) -> None:
    before = open_proposals(any_store.engine)
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("ctrl+a", "d")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDelete)
        assert dialog.count == len(before)
        question = str(dialog.query_one("#question", Static).content)
        assert question == f"Delete {len(before)} proposals?"
        await pilot.press("y")
        await settle(pilot)
        assert f"{len(before)} proposals deleted." in notes
        assert table_of(app).row_count == 0
        assert table_of(app).mark_count == 0

    assert open_proposals(any_store.engine) == []
    assert history(any_store) == []


async def test_marks_survive_a_change_of_filter(any_store: Store) -> None:
    by_customer = segments(any_store)
    poor = {no for no, segment in by_customer.items() if segment == "POOR"}
    arrears = {no for no, segment in by_customer.items() if segment == "ARREARS"}
    assert poor and arrears
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"poor", "enter")
        await settle(pilot)
        await pilot.press("ctrl+a")
        await pilot.press("slash", "escape")
        await settle(pilot)

        # Unfiltered: the POOR rows are marked, the others not.
        table = table_of(app)
        assert table.mark_count == len(poor)
        assert f"{len(by_customer)} proposals · {len(poor)} marked" in status_of(app)
        shown = marked_lines(table)
        assert shown and all(marked == (no in poor) for no, marked in shown.items())

        # Mark all under a second filter: both are marked; then one exception.
        await pilot.press("slash", *"arrears", "enter")
        await settle(pilot)
        assert set(marked_lines(table).values()) == {False}
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert table.mark_count == len(poor) + len(arrears)
        excepted = min(arrears)
        await pilot.press("space")
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert table.mark_count == len(poor) + len(arrears) - 1
        marked = poor | arrears - {excepted}
        assert f" · {len(marked)} marked · " in status_of(app)

        await apply_marked(pilot, app)
        assert summary_of(app) == f"{len(marked)} proposals will be applied:"
        await pilot.press("y")
        await settle(pilot)
        assert table_of(app).mark_count == 0

    assert history(any_store) == sorted(marked)
    left = {no for _id, no in open_proposals(any_store.engine)}
    assert left == set(by_customer) - marked


async def test_a_stale_proposal_under_mark_all_stays_open_and_marked(
    any_store: Store,
) -> None:
    before = [no for _id, no in open_proposals(any_store.engine)]
    stale = before[3]
    with any_store.engine.begin() as connection:
        current = connection.execute(
            select(Customer.dunning_condition).where(Customer.customer_no == stale)
        ).scalar_one()
        connection.execute(
            update(Customer)
            .where(Customer.customer_no == stale)
            .values(dunning_condition="STRICT" if current != "STRICT" else "SOFT")
        )
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await settle(pilot)
        await pilot.press("ctrl+a")
        await apply_marked(pilot, app)
        await pilot.press("y")
        await settle(pilot)
        report = app.screen
        assert isinstance(report, SkippedProposals)
        assert [s.customer_no for s in report.result.skipped] == [stale]
        assert f"{len(before) - 1} proposals applied. 1 skipped." in notes
        summary = str(report.query_one("#summary", Static).content)
        assert summary.startswith(f"{len(before) - 1} applied, 1 skipped.")
        await pilot.press("enter")
        await settle(pilot)
        assert table_of(app).row_count == 1
        assert table_of(app).mark_count == 1

    assert [no for _id, no in open_proposals(any_store.engine)] == [stale]
    assert history(any_store) == sorted(set(before) - {stale})


async def test_the_page_tidies_the_store_after_a_run_an_apply_and_a_delete(
    any_store: Store, monkeypatch: Any
) -> None:
    # A run, an apply and a delete leave copying SQLite's log for later
    # (checkpoint_now=False), so that the list comes back sooner; the page then
    # does it in a worker.
    writes: list[bool] = []
    tidied: list[str] = []
    for name in ("create_proposals", "apply_proposals", "delete_proposals"):
        write = getattr(services, name)

        def recorded(*arguments: Any, write: Any = write, **options: Any) -> Any:
            writes.append(options["checkpoint_now"])
            return write(*arguments, **options)

        monkeypatch.setattr(services, name, recorded)
    tidy = services.tidy_store
    monkeypatch.setattr(
        services, "tidy_store", lambda engine: tidied.append("tidy") or tidy(engine)
    )
    app = any_store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "d", "y")
        await settle(pilot)
        assert tidied == ["tidy"]
        await pilot.press("space", "a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert tidied == ["tidy", "tidy"]
        await pilot.press("c", "enter")
        await settle(pilot)
        assert tidied == ["tidy", "tidy", "tidy"]

    assert writes == [False, False, False]
    assert history(any_store) != []
