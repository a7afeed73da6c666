"""Quitting while an apply or a delete is being written: the app waits for it.

The write is held back by a test double of the service until the test lets it go,
so the quit is asked for while it is surely still running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from screen_support import SIZE, Notes, Store, open_proposals, settle
from sqlalchemy import func, select, update

from segment_tui import services
from segment_tui.errors import InputError
from segment_tui.screens.apply_proposals import ApplyProposalsDialog, SkippedProposals
from segment_tui.screens.confirm_delete import ConfirmDelete
from segment_tui.screens.error import ErrorScreen
from segment_tui.store.models import Customer, Proposal, SegmentChange

WAITING = "segment-tui quits once the changes are written."
GOES_ON = "the changes are still being written, whole or not at all"


def held(monkeypatch: Any, name: str) -> threading.Event:
    """Hold the service `name` until the returned event is set."""
    released = threading.Event()
    service: Callable[..., Any] = getattr(services, name)

    def held_service(*arguments: Any, **options: Any) -> Any:
        released.wait(10)
        return service(*arguments, **options)

    monkeypatch.setattr(services, name, held_service)
    return released


def history_rows(store: Store) -> int:
    with store.engine.connect() as connection:
        rows = select(func.count()).select_from(SegmentChange)
        return int(connection.execute(rows).scalar_one())


async def start_write(pilot: Any, key: str, dialog: type, confirm: str) -> None:
    """Mark the first row, open the dialog `key` opens and confirm it with `confirm`."""
    await settle(pilot)
    await pilot.press("space", key)
    await settle(pilot)
    assert isinstance(pilot.app.screen, dialog)
    await pilot.press(confirm)
    await pilot.pause(0.05)


async def stays_with(pilot: Any, released: threading.Event, dialog: type) -> None:
    """Let the held write end: the app stays with the `dialog` of its outcome, and
    the quit asked for before is forgotten; a new one quits at once."""
    app = pilot.app
    released.set()
    await wait_until(pilot, lambda: isinstance(app.screen, dialog))
    await pilot.pause(0.3)
    assert isinstance(app.screen, dialog)
    assert app.return_code is None

    await pilot.press("ctrl+q")
    await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


async def quit_waits(pilot: Any, notes: Notes, key: str = "ctrl+q") -> None:
    """Quit while the write is held: the app stays, and says that it waits."""
    await pilot.press(key)
    await pilot.pause(0.1)
    assert pilot.app.return_code is None
    assert WAITING in notes


async def wait_until(pilot: Any, done: Callable[[], bool]) -> None:
    for _ in range(200):  # however busy the machine
        if done():
            return
        await pilot.pause(0.05)


async def test_a_quit_during_an_apply_waits_for_it_then_closes(
    store: Store, monkeypatch: Any
) -> None:
    released = held(monkeypatch, "apply_proposals")
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await start_write(pilot, "a", ApplyProposalsDialog, "enter")
        assert app.writing()

        await quit_waits(pilot, notes)
        assert history_rows(store) == 0

        released.set()
        await wait_until(pilot, lambda: app.return_code is not None)
        assert app.return_code == 0
    assert history_rows(store) == 1


async def test_a_quit_during_an_apply_with_skipped_proposals_keeps_their_report(
    store: Store, monkeypatch: Any
) -> None:
    released = held(monkeypatch, "apply_proposals")
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        await start_write(pilot, "a", ApplyProposalsDialog, "enter")
        await quit_waits(pilot, notes)
        # Another operator changes the customer's condition meanwhile.
        with store.engine.begin() as connection:
            customer_no, current, proposed = connection.execute(
                select(
                    Proposal.customer_no,
                    Proposal.current_condition,
                    Proposal.proposed_condition,
                ).order_by(Proposal.customer_no)
            ).first()
            other = next(
                c
                for c in ("SOFT", "STRICT", "INTENSIVE")
                if c not in (current, proposed)
            )
            connection.execute(
                update(Customer)
                .where(Customer.customer_no == customer_no)
                .values(dunning_condition=other)
            )

        await stays_with(pilot, released, SkippedProposals)
    assert history_rows(store) == 0


async def test_a_second_quit_during_a_delete_closes_at_once(
    store: Store, monkeypatch: Any, capsys: Any
) -> None:
    released = held(monkeypatch, "delete_proposals")
    before = len(open_proposals(store.engine))
    app = store.app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            notes = Notes(app)
            await start_write(pilot, "d", ConfirmDelete, "y")
            assert app.writing()
            await quit_waits(pilot, notes, "q")  # the page is back: q quits there

            await pilot.press("ctrl+q")
            await pilot.pause(0.1)
            assert app.return_code == 0
            assert len(open_proposals(store.engine)) == before  # still held
    finally:
        released.set()
    # Said on the terminal once the screen is closed.
    assert GOES_ON in " ".join(capsys.readouterr().err.split())
    # The write is never cut off: it ends before the program does.
    for _ in range(200):
        if len(open_proposals(store.engine)) == before - 1:
            break
        threading.Event().wait(0.05)
    assert len(open_proposals(store.engine)) == before - 1


async def test_a_failed_apply_keeps_the_app_open_with_its_error(
    store: Store, monkeypatch: Any
) -> None:
    released = threading.Event()

    def failing_apply(*_arguments: Any, **_options: Any) -> Any:
        released.wait(10)
        raise InputError("another operator made a new run")

    monkeypatch.setattr(services, "apply_proposals", failing_apply)
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await start_write(pilot, "a", ApplyProposalsDialog, "enter")
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)

        await stays_with(pilot, released, ErrorScreen)


async def test_a_quit_with_nothing_being_written_closes_at_once(store: Store) -> None:
    app = store.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.writing()
        await pilot.press("ctrl+q")
        await pilot.pause(0.05)
        assert app.return_code == 0
