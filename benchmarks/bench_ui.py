"""The Segmentation Proposals page on a small and a very large list of proposals.

Measured headless with `App.run_test` at 120 x 40 cells:

- first paint: from starting the app until the table shows its first rows (or the
  empty text), with no proposals and with every customer of a large store proposed;
- the cursor and the marks: the time per key for Down, Page Down and Space on a
  list of about a thousand proposals and on the large one; End and Home once;
- mark all and apply: ctrl+a, a, Enter on a list of about 100,000 proposals, until
  the page shows the list without them, against a bare UPDATE of those customers'
  dunning conditions (committed, on a copy of the same store). Two figures for
  each step, each on its own copy of the store, best of `--apply-repeat` (the
  copies are on disk before the clock starts: see `benchkit.copy_store`):

  - "through Pilot": the keys pressed with `Pilot.press`, end to end. Pilot waits
    after every key until the whole process has been idle for a moment (at least
    two 20 ms naps a key, longer while a worker thread runs), so this figure holds
    a tenth of a second or more per key of the test harness, not of the product.
  - "own work": the same three steps, with the page's and the dialog's actions
    called directly (what the keys are bound to) and every visible line of the
    table drawn after mark all and after the apply, as the next refresh would;
    the event loop is then given back in 1 ms naps until the dialog shows its
    count, or the page the list without them. This is the product's own work,
    the figure the target ratio is about.

The large list comes from a trial setup that proposes a new condition to every
customer (`--setup`, with no excluding flags), on a copy of the demo store, so that
it holds as many proposals as the store has customers.

    python benchmarks/bench_ui.py --customers 1000000 --apply-customers 130000 \
        --stores ~/segment-bench
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import benchkit
from textual.css.query import NoMatches
from textual.widgets import Static

from segment_tui import services
from segment_tui.app import SegmentApp
from segment_tui.rules.setup import parse_setup
from segment_tui.screens.apply_proposals import ApplyProposalsDialog, SkippedProposals
from segment_tui.screens.proposals import ProposalsScreen
from segment_tui.store.engine import make_engine, write_transaction
from segment_tui.widgets.proposal_table import ProposalTable

SIZE = (120, 40)
TODAY = benchkit.REFERENCE + timedelta(days=1)

EVERYONE_SETUP = """
[settings]
lookback_months = 12
late_tolerance_days = 3
exclude = []

[[dunning_condition]]
code = "REVIEW-A"
description = "Benchmark: a condition nobody has yet"

[[dunning_condition]]
code = "REVIEW-B"
description = "Benchmark: another one"

[[segment]]
code = "LATE"
description = "Pays late"
dunning_condition = "REVIEW-A"
match = "any"
conditions = ["late_ratio >= 0.2", "max_days_overdue > 30"]

[[segment]]
code = "OTHER"
description = "Everyone else"
dunning_condition = "REVIEW-B"
"""
"""Proposes a condition nobody has to every customer: one proposal per customer."""


def propose_everyone(store: Path) -> int:
    """Make `EVERYONE_SETUP` the store's setup and propose: a proposal per customer.

    As the current setup rather than a trial, so that an apply excludes no one
    either.
    """
    engine = make_engine(str(store))
    try:
        setup = parse_setup(EVERYONE_SETUP, "benchmark setup")
        services.load_setup_file(engine, setup, "benchmark", benchkit.OPERATOR)
        summary = services.create_proposals(
            engine, benchkit.REFERENCE, benchkit.OPERATOR
        )
    finally:
        engine.dispose()
    return summary.proposal_count


def empty_store(folder: Path) -> Path:
    path = folder / "empty.db"
    engine = make_engine(str(path))
    services.initialise(engine, benchkit.OPERATOR)
    engine.dispose()
    return path


def app_on(store: Path) -> SegmentApp:
    return SegmentApp(str(store), operator=benchkit.OPERATOR, today=TODAY)


def table_of(app_or_screen: Any) -> ProposalTable:
    screen = getattr(app_or_screen, "screen", app_or_screen)
    return screen.query_one(ProposalTable)  # type: ignore[no-any-return]


def painted(app: Any) -> bool:
    """Whether the table shows its first row (or, with no rows, its empty text)."""
    try:
        table = table_of(app)
    except Exception:
        return False
    if table.size.height < 2:
        return False
    return bool(table.render_line(1).text.strip())


async def wait_for(pilot: Any, condition: Callable[[], bool], limit: float) -> None:
    deadline = time.perf_counter() + limit
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the page did not get there in time")
        await pilot.pause(0.001)


async def first_paint(store: Path) -> float:
    started = time.perf_counter()
    app = app_on(store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: painted(app), 120)
        return time.perf_counter() - started


async def keys(store: Path, presses: int) -> dict[str, float]:
    """Seconds per key for the cursor and marks, with the lines they redraw.

    The key's action is called directly, then every visible line of the table is
    drawn as the next refresh would: `Pilot.press` itself waits a tenth of a
    second or more per key for the app to be idle, which would hide the table's
    own cost. "down, pressed" is that whole round trip through `Pilot.press`.
    """
    app = app_on(store)
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: painted(app), 120)
        table = table_of(app)
        screen = app.screen
        actions = {
            "down": table.action_cursor_down,
            "pagedown": table.action_cursor_page_down,
            "space": screen.action_toggle_mark,  # type: ignore[attr-defined]
        }
        height = table.size.height
        for key, action in actions.items():
            await pilot.pause()
            started = time.perf_counter()
            for _ in range(presses):
                action()
                # What the next refresh draws: every visible line of the table.
                for y in range(height):
                    table.render_line(y)
            figures[key] = (time.perf_counter() - started) / presses
        for key, action in (
            ("end", table.action_cursor_last),
            ("home", table.action_cursor_first),
        ):
            await pilot.pause()
            started = time.perf_counter()
            action()
            for y in range(height):
                table.render_line(y)
            figures[key] = time.perf_counter() - started
        await pilot.pause()
        started = time.perf_counter()
        for _ in range(presses):
            await pilot.press("down")
        figures["down, pressed"] = (time.perf_counter() - started) / presses
        figures["rows"] = table.row_count
        figures["marked"] = table.mark_count
    return figures


async def mark_all_and_apply(store: Path, *, pressed: bool = True) -> dict[str, float]:
    """The three steps through `Pilot.press` (`pressed`), or the product's own work."""
    app = app_on(store)
    service: list[float] = []
    apply_proposals = services.apply_proposals

    def timed_apply(*args: Any, **options: Any) -> Any:
        # How much of the apply step is the service itself, the rest being the page.
        started = time.perf_counter()
        try:
            return apply_proposals(*args, **options)
        finally:
            service.append(time.perf_counter() - started)

    services.apply_proposals = timed_apply  # type: ignore[assignment]
    try:
        if pressed:
            return await _mark_all_and_apply(app)
        return await _mark_all_and_apply_directly(app)
    finally:
        services.apply_proposals = apply_proposals  # type: ignore[assignment]
        if service:
            _last_service[0] = service[-1]


_last_service = [0.0]


async def _mark_all_and_apply(app: SegmentApp) -> dict[str, float]:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: painted(app), 120)
        table = table_of(app)
        rows = table.row_count
        started = time.perf_counter()
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: table.mark_count == rows, 120)
        marked = time.perf_counter()
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ApplyProposalsDialog)
                and not app.screen.ok_button.disabled
            ),
            300,
        )
        counted = time.perf_counter()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ProposalsScreen | SkippedProposals)
                and table_of(app.screen_stack[0]).row_count < rows
            ),
            600,
        )
        done = time.perf_counter()
        return {
            "rows": rows,
            "left": table_of(app.screen_stack[0]).row_count,
            "mark_all": marked - started,
            "dialog": counted - marked,
            "apply": done - counted,
            "total": done - started,
        }


def draw(table: ProposalTable) -> None:
    """Draw every visible line of the table, as the next refresh would."""
    for y in range(table.size.height):
        table.render_line(y)


async def until(condition: Callable[[], bool], limit: float) -> None:
    """Give the event loop back, 1 ms at a time, until `condition` holds.

    A condition asked about a screen still being composed does not hold yet.
    """
    deadline = time.perf_counter() + limit
    while True:
        try:
            if condition():
                return
        except NoMatches:
            pass
        if time.perf_counter() > deadline:
            raise TimeoutError("the page did not get there in time")
        await asyncio.sleep(0.001)


def counted(app: Any) -> bool:
    """Whether the apply dialog shows what the apply changes, OK ready."""
    dialog = app.screen
    if not isinstance(dialog, ApplyProposalsDialog) or not dialog.is_mounted:
        return False
    shown = str(dialog.query_one("#breakdown", Static).content)
    return bool(shown) and not dialog.ok_button.disabled


async def _mark_all_and_apply_directly(app: SegmentApp) -> dict[str, float]:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: painted(app), 120)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProposalsScreen)
        table = table_of(app)
        rows = table.row_count
        started = time.perf_counter()
        screen.action_mark_all()
        draw(table)
        if table.mark_count != rows:
            raise RuntimeError("mark all did not mark every row")
        marked = time.perf_counter()
        screen.action_apply()
        await until(lambda: counted(app), 300)
        shown = time.perf_counter()
        dialog = app.screen
        assert isinstance(dialog, ApplyProposalsDialog)
        dialog.action_confirm()
        await until(
            lambda: (
                isinstance(app.screen, ProposalsScreen | SkippedProposals)
                and table_of(app.screen_stack[0]).row_count < rows
            ),
            600,
        )
        draw(table_of(app.screen_stack[0]))
        done = time.perf_counter()
        return {
            "rows": rows,
            "left": table_of(app.screen_stack[0]).row_count,
            "mark_all": marked - started,
            "dialog": shown - marked,
            "apply": done - shown,
            "total": done - started,
        }


def bare_update(store: Path, rows: int) -> float:
    """The floor of an apply: one UPDATE of those customers' conditions, committed."""
    engine = make_engine(str(store))
    sql = (
        "UPDATE customer SET dunning_condition = p.proposed_condition FROM "
        f"(SELECT customer_no, proposed_condition FROM proposal LIMIT {rows}) AS p "
        "WHERE customer.customer_no = p.customer_no"
    )
    try:
        with write_transaction(engine) as connection:
            started = time.perf_counter()
            connection.exec_driver_sql(sql)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small-customers", type=int, default=1_000)
    parser.add_argument("--apply-customers", type=int, default=10_000)
    parser.add_argument("--stores", type=Path, help="folder of reusable demo stores")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--apply-repeat",
        type=int,
        default=5,
        help="mark all and apply, each on its own copy (default 5)",
    )
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as scratch:
        work = Path(scratch)
        folder = args.stores or work
        print(f"ui: {benchkit.machine_line()}")
        stores = {}
        for name, customers in (
            ("small", args.small_customers),
            ("large", args.customers),
        ):
            copy = work / f"{name}.db"
            benchkit.copy_store(benchkit.demo_store(folder, customers), copy)
            proposals = propose_everyone(copy)
            stores[name] = copy
            print(f"  {name}: {customers:,} customers, {proposals:,} proposals")
        stores["empty"] = empty_store(work)

        paints: dict[str, list[float]] = {"empty": [], "large": []}
        for _ in range(args.repeat):
            for name in paints:
                paints[name].append(asyncio.run(first_paint(stores[name])))
        empty, large = benchkit.best(paints["empty"]), benchkit.best(paints["large"])
        print(f"\nfirst paint, best of {args.repeat}")
        benchkit.print_table(
            ["proposals", "s", "ratio"],
            [["none", empty, "1.00x"], ["large", large, f"{large / empty:.2f}x"]],
        )

        print(f"\nseconds per key, {args.presses} presses each, best of {args.repeat}")
        rows = []
        per_key: dict[str, dict[str, float]] = {}
        for name in ("small", "large"):
            runs = [
                asyncio.run(keys(stores[name], args.presses))
                for _ in range(min(args.repeat, 2))
            ]
            per_key[name] = {k: min(run[k] for run in runs) for k in runs[0]}
        for key in ("down", "pagedown", "space", "end", "home", "down, pressed"):
            small, large_key = per_key["small"][key], per_key["large"][key]
            rows.append([key, small, large_key, f"{large_key / small:.2f}x"])
        benchkit.print_table(
            [
                "key",
                f"{int(per_key['small']['rows']):,} rows",
                f"{int(per_key['large']['rows']):,} rows",
                "ratio",
            ],
            rows,
        )

        source = benchkit.demo_store(folder, args.apply_customers)
        applies: dict[str, list[dict[str, float]]] = {"pilot": [], "own": []}
        floors = []
        proposed = work / "proposed.db"
        shutil.copyfile(source, proposed)
        count = propose_everyone(proposed)
        for _ in range(args.apply_repeat):
            copy = work / "apply.db"
            floor_copy = work / "floor.db"
            own_copy = work / "own.db"
            shutil.copyfile(proposed, copy)
            shutil.copyfile(proposed, floor_copy)
            benchkit.copy_store(proposed, own_copy)
            floors.append(bare_update(floor_copy, count))
            for kind, store in (("pilot", copy), ("own", own_copy)):
                run = asyncio.run(mark_all_and_apply(store, pressed=kind == "pilot"))
                run["service"] = _last_service[0]
                applies[kind].append(run)
        floor = benchkit.best(floors)
        pilot = min(applies["pilot"], key=lambda run: run["total"])
        own = min(applies["own"], key=lambda run: run["total"])
        print(
            f"\nmark all and apply {int(own['rows']):,} proposals "
            f"({int(own['left']):,} left), best of {args.apply_repeat}; the product's "
            "own work, and end to end through Pilot.press"
        )

        def ratio(seconds: float) -> str:
            return f"{seconds / floor:.2f}x"

        table = [["bare UPDATE", floor, "1.00x", "", ""]]
        for label, key in (
            ("mark all", "mark_all"),
            ("apply dialog", "dialog"),
            ("apply", "apply"),
            ("  of which the service", "service"),
            ("all three", "total"),
        ):
            table.append(
                [label, own[key], ratio(own[key]), pilot[key], ratio(pilot[key])]
            )
        benchkit.print_table(
            ["step", "own s", "own vs UPDATE", "Pilot s", "Pilot vs UPDATE"], table
        )
        print(f"after: {benchkit.machine_line()}")


if __name__ == "__main__":
    sys.exit(main())
