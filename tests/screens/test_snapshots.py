"""SVG snapshots of the main pages and dialogs, at the operator's 120 x 40.

The store, the reference date, "today" and the operator are fixed (see
conftest.py), so a snapshot changes only when the screen does. After a deliberate
change, look at the new pictures, then accept them with `--snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from screen_support import SIZE, Store, settle
from textual.pilot import Pilot

Compare = Callable[..., bool]


def test_proposals_page(snap_compare: Compare, store: Store) -> None:
    async def mark_some(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("space", "down", "space", "space")
        await settle(pilot)

    assert snap_compare(store.app(), terminal_size=SIZE, run_before=mark_some)


def test_empty_proposals_page(snap_compare: Compare, empty_store: Store) -> None:
    assert snap_compare(empty_store.app(), terminal_size=SIZE, run_before=settle)


def test_create_dialog(snap_compare: Compare, store: Store) -> None:
    async def open_dialog(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(store.app(), terminal_size=SIZE, run_before=open_dialog)


def test_apply_dialog(snap_compare: Compare, store: Store) -> None:
    async def open_dialog(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "space", "space", "a")
        await settle(pilot)

    assert snap_compare(store.app(), terminal_size=SIZE, run_before=open_dialog)


def test_customer_page(snap_compare: Compare, store: Store) -> None:
    async def open_customer(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)

    assert snap_compare(store.app(), terminal_size=SIZE, run_before=open_customer)
