"""Pilot tests for VirtualTable: drawing, cursor, marks, literal text and laziness.

The sources here stand in for the SQL-backed proposal source: a list that sorts
and filters itself, and a million-row source that computes each row from its
position, so that counting its fetch calls shows how much the table asks for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Hashable,
    Iterator,
    Sequence,
)
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot

from segment_tui.widgets import virtual_table
from segment_tui.widgets.virtual_table import Cell, Column, Row, VirtualTable

COLUMNS = [
    Column("customer_no", "Customer", 10),
    Column("name", "Name", 20),
    Column("amount", "Amount", 10, justify="right"),
]

SIZE = (80, 24)
VISIBLE_ROWS = SIZE[1] - 1  # the header takes the first line


class ListSource:
    """Rows in a list; sorts by a column and filters on the name, like SQL would."""

    def __init__(self, rows: Sequence[tuple[int, tuple[Cell, ...]]]) -> None:
        self._all = [Row(key, cells) for key, cells in rows]
        self._view = list(self._all)
        self._sort: tuple[int, bool] | None = None
        self._filter = ""
        self.fetches: list[tuple[int, int]] = []

    def set_sort(self, column_key: str, reverse: bool) -> None:
        index = [column.key for column in COLUMNS].index(column_key)
        self._sort = (index, reverse)
        self._apply()

    def set_filter(self, text: str) -> None:
        self._filter = text.lower()
        self._apply()

    def _apply(self) -> None:
        rows = self._under([self._filter])
        if self._sort is not None:
            index, reverse = self._sort
            rows.sort(key=lambda row: str(row.cells[index]), reverse=reverse)
        self._view = rows

    def count(self) -> int:
        return len(self._view)

    def fetch(self, offset: int, limit: int) -> Sequence[Row[int]]:
        self.fetches.append((offset, limit))
        return self._view[offset : offset + limit]

    def _under(self, scopes: Collection[Hashable]) -> list[Row[int]]:
        """The rows whose name contains one of the filter texts `scopes`."""
        return [
            row
            for row in self._all
            if any(str(scope) in str(row.cells[1]).lower() for scope in scopes)
        ]

    def scope(self) -> Hashable:
        return self._filter

    def count_in(self, scopes: Collection[Hashable]) -> int:
        return len(self._under(scopes))

    def keys_in(
        self, scopes: Collection[Hashable], among: Collection[int] | None = None
    ) -> Iterator[int]:
        keys = (row.key for row in self._under(scopes))
        return keys if among is None else (key for key in keys if key in among)


class MillionSource:
    """A million rows computed from their position; nothing is stored."""

    TOTAL = 1_000_000

    def __init__(self) -> None:
        self.fetches: list[tuple[int, int]] = []

    def count(self) -> int:
        return self.TOTAL

    def fetch(self, offset: int, limit: int) -> Sequence[Row[int]]:
        self.fetches.append((offset, limit))
        end = min(offset + limit, self.TOTAL)
        return [
            Row(n, (f"C{n:07d}", f"Customer {n}", f"{n % 9973}.00"))
            for n in range(offset, end)
        ]

    def scope(self) -> Hashable:
        return None

    def count_in(self, scopes: Collection[Hashable]) -> int:
        return self.TOTAL if scopes else 0

    def keys_in(
        self, scopes: Collection[Hashable], among: Collection[int] | None = None
    ) -> Iterator[int]:
        if not scopes:
            return iter(())
        if among is None:
            return iter(range(self.TOTAL))
        return (key for key in among if 0 <= key < self.TOTAL)


def customers(count: int) -> ListSource:
    """A source of `count` customers; key n has customer number C{n:04d}."""
    return ListSource(
        [
            (n, (f"C{n:04d}", f"Name {count - n:04d}", f"{n * 10}.00"))
            for n in range(count)
        ]
    )


class TableApp(App[None]):
    """Shows one VirtualTable and records the messages it posts."""

    def __init__(self, source: Any, empty_text: str = "No rows.") -> None:
        super().__init__()
        self.source = source
        self.empty_text = empty_text
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, self.source, empty_text=self.empty_text)

    def on_virtual_table_cursor_moved(
        self, event: VirtualTable.CursorMoved[Any]
    ) -> None:
        self.messages.append(event)

    def on_virtual_table_marks_changed(self, event: VirtualTable.MarksChanged) -> None:
        self.messages.append(event)

    def on_virtual_table_row_activated(
        self, event: VirtualTable.RowActivated[Any]
    ) -> None:
        self.messages.append(event)

    def on_virtual_table_sort_requested(
        self, event: VirtualTable.SortRequested
    ) -> None:
        self.messages.append(event)

    @property
    def table(self) -> VirtualTable[Any]:
        return self.query_one(VirtualTable)


def run(app: TableApp, test: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    """Run `test` against `app` in a terminal of SIZE."""

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await test(pilot)

    asyncio.run(main())


def line(table: VirtualTable[Any], y: int) -> str:
    """The text of line `y` of the table as drawn now, trailing blanks removed."""
    return table.render_line(y).text.rstrip()


def test_first_paint_shows_header_and_first_rows() -> None:
    app = TableApp(customers(100))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        assert line(table, 0).split() == ["Customer", "Name", "Amount"]
        assert line(table, 1).split() == ["C0000", "Name", "0100", "0.00"]
        assert line(table, 2).split() == ["C0001", "Name", "0099", "10.00"]
        assert table.cursor_row == 0
        assert table.cursor_key == 0
        cursor_moves = [
            m for m in app.messages if isinstance(m, VirtualTable.CursorMoved)
        ]
        assert [m.key for m in cursor_moves] == [0]

    run(app, check)


def test_numbers_are_right_aligned_and_long_cells_cut_with_ellipsis() -> None:
    app = TableApp(ListSource([(1, ("C1", "A" * 30, "5.00"))]))

    async def check(pilot: Pilot[None]) -> None:
        text = line(app.table, 1)
        assert "A" * 19 + "…" in text
        assert "A" * 20 not in text
        # Amount is the last column: 10 cells wide, right-aligned, one pad after.
        assert text.endswith(" " * 6 + "5.00")

    run(app, check)


def test_cursor_keys_move_the_highlighted_row() -> None:
    app = TableApp(customers(100))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        await pilot.press("down", "down")
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (2, 2)

        await pilot.press("pagedown")
        await pilot.pause()
        assert table.cursor_row == 2 + VISIBLE_ROWS
        assert table.cursor_key == 2 + VISIBLE_ROWS
        # The view moved by a page too, so the cursor kept its place on screen.
        assert table.scroll_offset.y == VISIBLE_ROWS
        assert line(table, 3).split()[0] == f"C{2 + VISIBLE_ROWS:04d}"

        await pilot.press("end")
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (99, 99)
        assert table.scroll_offset.y == table.max_scroll_y
        assert line(table, VISIBLE_ROWS).split()[0] == "C0099"

        await pilot.press("pageup")
        await pilot.pause()
        assert table.cursor_row == 99 - VISIBLE_ROWS

        await pilot.press("home", "up")
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (0, 0)
        assert table.scroll_offset.y == 0

        cursor_moves = [
            m for m in app.messages if isinstance(m, VirtualTable.CursorMoved)
        ]
        assert cursor_moves[-1].key == 0

    run(app, check)


def test_cursor_row_is_drawn_in_the_cursor_style() -> None:
    app = TableApp(customers(10))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        cursor = table.get_component_rich_style("virtual-table--cursor")
        await pilot.press("down")
        await pilot.pause()
        first_row = list(table.render_line(1))
        second_row = list(table.render_line(2))
        assert all(segment.style != cursor for segment in first_row)
        assert second_row[0].style is not None
        assert second_row[0].style.bgcolor == cursor.bgcolor

    run(app, check)


def test_click_moves_the_cursor_and_header_click_asks_to_sort() -> None:
    app = TableApp(customers(50))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        # Line 5 is the fifth row (index 4); x=20 is inside the Name column.
        await pilot.click(VirtualTable, offset=(20, 5))
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (4, 4)
        assert table.cursor_column_key == "name"

        await pilot.click(VirtualTable, offset=(40, 0))
        await pilot.pause()
        assert table.cursor_column_key == "amount"
        requests = [
            m for m in app.messages if isinstance(m, VirtualTable.SortRequested)
        ]
        assert [(m.column_key, m.reverse) for m in requests] == [("amount", False)]

    run(app, check)


def test_enter_posts_row_activated() -> None:
    app = TableApp(customers(10))

    async def check(pilot: Pilot[None]) -> None:
        await pilot.press("down", "enter")
        await pilot.pause()
        activated = [
            m for m in app.messages if isinstance(m, VirtualTable.RowActivated)
        ]
        assert [m.key for m in activated] == [1]

    run(app, check)


def test_column_cursor_and_sort_indicator_in_header() -> None:
    app = TableApp(customers(10))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert table.cursor_column == 2
        assert table.cursor_column_key == "amount"

        table.action_sort()
        table.show_sort("amount")
        await pilot.pause()
        assert "Amount ▲" in line(table, 0)

        table.action_sort()
        table.show_sort("amount", reverse=True)
        await pilot.pause()
        assert "Amount ▼" in line(table, 0)

        await pilot.press("left")
        table.action_sort()
        await pilot.pause()
        requests = [
            m for m in app.messages if isinstance(m, VirtualTable.SortRequested)
        ]
        assert [(m.column_key, m.reverse) for m in requests] == [
            ("amount", False),
            ("amount", True),
            ("name", False),
        ]

        # The header of the column under the cursor has its own style.
        header_cursor = table.get_component_rich_style("virtual-table--header-cursor")
        name_cells = [s for s in table.render_line(0) if "Name" in s.text]
        assert name_cells and name_cells[0].style is not None
        assert name_cells[0].style.underline == header_cursor.underline is True

    run(app, check)


def test_marks_are_kept_by_key_through_sort_and_filter() -> None:
    source = customers(100)
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        table.action_toggle_mark()  # key 0, and the cursor moves to key 1
        await pilot.press("down")
        table.action_toggle_mark()  # key 2
        await pilot.pause()
        assert table.marked == {0, 2}
        assert line(table, 1).startswith(" ✓  C0000")
        assert line(table, 2).startswith("    C0001")

        # Names run backwards, so sorting by name reverses the rows.
        source.set_sort("name", False)
        table.show_sort("name")
        table.refresh_rows()
        await pilot.pause()
        assert line(table, 1).split()[0] == "C0099"
        assert table.marked == {0, 2}
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == 0
        assert line(table, VISIBLE_ROWS).startswith(" ✓  C0000")

        # Filter everything but key 2 away, then back: both marks still there.
        source.set_filter("Name 0098")
        table.refresh_rows()
        await pilot.pause()
        assert table.row_count == 1
        assert table.cursor_key == 2
        assert line(table, 1).startswith(" ✓  C0002")
        assert table.marked == {0, 2}

        source.set_filter("")
        table.refresh_rows()
        await pilot.pause()
        assert table.row_count == 100
        assert table.marked == {0, 2}

        counts = [
            m.count for m in app.messages if isinstance(m, VirtualTable.MarksChanged)
        ]
        assert counts == [1, 2]

    run(app, check)


def test_mark_all_uses_the_filter_and_clear_marks_empties() -> None:
    source = customers(100)
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        table.toggle_mark(99)
        source.set_filter("Name 000")  # names 0001..0009: keys 91..99
        table.refresh_rows()
        table.mark_all()
        await pilot.pause()
        assert table.marked == frozenset(range(91, 100))
        assert all(line(table, y).startswith(" ✓ ") for y in range(1, 10))

        table.unmark([91])
        assert table.mark_count == 8

        table.clear_marks()
        await pilot.pause()
        assert table.marked == frozenset()
        assert not any(line(table, y).startswith(" ✓ ") for y in range(1, 10))

        counts = [
            m.count for m in app.messages if isinstance(m, VirtualTable.MarksChanged)
        ]
        assert counts == [1, 9, 8, 0]

    run(app, check)


def test_marks_under_a_filter_are_a_description_that_outlives_the_filter() -> None:
    source = customers(100)
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        source.set_filter("Name 000")  # names 0001..0009: keys 91..99
        table.refresh_rows()
        table.mark_all()
        table.toggle_mark(95)  # an exception under the filter
        assert table.mark_count == 8

        # Another filter: the marks stay, and show on the rows they cover.
        source.set_filter("Name 00")  # names 0001..0099: keys 1..99
        table.refresh_rows()
        await pilot.pause()
        assert table.mark_count == 8
        assert table.marks.scopes == {"name 000"}
        assert table.marks.removed == {95}
        drawn = [line(table, y) for y in range(1, VISIBLE_ROWS + 1)]
        assert [row.split()[1] for row in drawn if row.startswith(" ✓ ")] == []
        await pilot.press("end")
        await pilot.pause()
        marked = [
            line(table, y).split()[1]
            for y in range(1, VISIBLE_ROWS + 1)
            if line(table, y).startswith(" ✓ ")
        ]
        assert marked == [f"C00{n}" for n in (91, 92, 93, 94, 96, 97, 98, 99)]

        # Mark all here: one scope more, and the exception under it is marked.
        table.mark_all()
        assert table.mark_count == 99
        assert table.marks.removed == frozenset()
        assert table.is_marked(95) and not table.is_marked(0)
        assert table.marked == frozenset(range(1, 100))

    run(app, check)


def test_markup_in_cells_is_shown_literally() -> None:
    source = ListSource(
        [
            (1, ("[red", "[bold]x[/bold]", "1.00")),
            (2, ("C2", Text("[link=x]y"), "2\n00")),
        ]
    )
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        await pilot.press("down")  # the cursor style is bold: move it off row 1
        await pilot.pause()
        first = line(table, 1)
        assert "[bold]x[/bold]" in first
        assert "[red" in first
        plain = table.rich_style
        for segment in table.render_line(1):
            assert segment.style is not None
            assert not segment.style.bold
            assert segment.style.color == plain.color
        second = line(table, 2)
        assert "[link=x]y" in second
        assert second.endswith("2 00")

    run(app, check)


def test_empty_source_shows_the_empty_text() -> None:
    app = TableApp(ListSource([]), empty_text="No open proposals.")

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        assert line(table, 0).split() == ["Customer", "Name", "Amount"]
        assert line(table, 1).strip() == "No open proposals."
        assert line(table, 2) == ""
        assert table.cursor_key is None
        await pilot.press("down", "end", "enter")
        table.action_toggle_mark()
        await pilot.pause()
        assert table.marked == frozenset()
        assert not any(isinstance(m, VirtualTable.RowActivated) for m in app.messages)

        table.empty_text = "Nothing matches the filter."
        await pilot.pause()
        assert line(table, 1).strip() == "Nothing matches the filter."

    run(app, check)


def test_virtual_size_follows_the_row_count() -> None:
    source = customers(500)
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        # One line for the header, then one per row.
        assert table.virtual_size.height == 500 + 1
        assert table.max_scroll_y == 500 + 1 - SIZE[1]
        assert table.show_vertical_scrollbar

        source.set_filter("Name 00")  # names 0001..0099
        table.refresh_rows()
        await pilot.pause()
        assert table.row_count == 99
        assert table.virtual_size.height == 99 + 1

    run(app, check)


def test_a_million_rows_fetch_only_the_pages_on_screen() -> None:
    source = MillionSource()
    app = TableApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        assert line(table, 1).split()[0] == "C0000000"
        assert table.virtual_size.height == MillionSource.TOTAL + 1

        started = time.perf_counter()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == MillionSource.TOTAL - 1
        assert line(table, VISIBLE_ROWS).split()[0] == "C0999999"

        await pilot.press("up", "up", "pageup", "home", "down")
        await pilot.pause()
        assert table.cursor_key == 1
        assert time.perf_counter() - started < 2

        # The page at the top and the page at the bottom: nothing in between.
        page = VirtualTable.PAGE_SIZE
        assert source.fetches == [(0, page), (MillionSource.TOTAL - page, page)]

        started = time.perf_counter()
        table.mark_all()
        assert table.mark_count == MillionSource.TOTAL
        assert time.perf_counter() - started < 2
        await pilot.pause()
        assert line(table, 2).startswith(" ✓  C0000001")

    run(app, check)


def test_mark_column_stays_while_the_other_columns_scroll_sideways() -> None:
    wide = [*COLUMNS, *(Column(f"extra{n}", f"Extra {n}", 12) for n in range(4))]
    source = ListSource(
        [(n, (f"C{n}", f"Name {n}", "1.00", "a", "b", "c", "z")) for n in range(5)]
    )

    class WideApp(TableApp):
        def compose(self) -> ComposeResult:
            yield VirtualTable(wide, self.source)

    app = WideApp(source)

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        table.toggle_mark(0)
        await pilot.press(*["right"] * 6)
        await pilot.pause()
        assert table.cursor_column_key == "extra3"
        assert table.scroll_offset.x == table.max_scroll_x > 0
        header = line(table, 0)
        assert header.startswith("   ") and header.endswith("Extra 3")
        assert "Customer" not in header
        assert line(table, 1).startswith(" ✓ ") and line(table, 1).endswith("z")

        await pilot.press("left", "left", "left", "left", "left", "left")
        await pilot.pause()
        assert table.scroll_offset.x == 0
        assert line(table, 0).split()[0] == "Customer"

    async def wide_run() -> None:
        async with app.run_test(size=(60, 12)) as pilot:
            await pilot.pause()
            await check(pilot)

    asyncio.run(wide_run())


def test_theme_change_redraws_with_the_new_colours() -> None:
    app = TableApp(customers(10))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        app.theme = "textual-dark"
        await pilot.pause()
        before = table.render_line(1)
        app.theme = "textual-light"
        await pilot.pause()
        after = table.render_line(1)
        assert before.text == after.text
        assert list(before)[0].style != list(after)[0].style

    run(app, check)


def test_the_owners_space_ctrl_a_and_escape_bindings_work_with_the_table_focused() -> (
    None
):
    class OwnerApp(TableApp):
        BINDINGS = [
            ("space", "toggle_mark"),
            ("ctrl+a", "mark_all"),
            ("escape", "clear_marks"),
        ]

        def action_toggle_mark(self) -> None:
            self.table.action_toggle_mark()

        def action_mark_all(self) -> None:
            self.table.mark_all()

        def action_clear_marks(self) -> None:
            self.table.clear_marks()

    app = OwnerApp(customers(10))

    async def check(pilot: Pilot[None]) -> None:
        table = app.table
        assert table.has_focus
        await pilot.press("space", "space")
        await pilot.pause()
        assert table.marked == {0, 1}
        assert table.cursor_key == 2

        await pilot.press("escape")
        await pilot.pause()
        assert table.marked == frozenset()

        await pilot.press("ctrl+a")
        await pilot.pause()
        assert table.mark_count == 10

    run(app, check)


@settings(max_examples=300, deadline=None, database=None)
@given(
    value=st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30),
    width=st.integers(1, 20),
    justify=st.sampled_from(["left", "right"]),
)
def test_a_plain_cell_is_drawn_as_its_text_would_be(
    value: str, width: int, justify: Any
) -> None:
    # ASCII cells skip building a Text; they must come out as one would: control
    # characters blanked, cut with an ellipsis, padded to the width.
    column = Column("c", "C", width, justify=justify)
    fitted = virtual_table._fit(virtual_table._plain_cell(value), width, justify)
    pad = " " * virtual_table.CELL_PADDING

    assert virtual_table._ascii_cell(value, column) == pad + fitted.plain + pad


def test_other_cells_are_drawn_through_a_text() -> None:
    column = Column("c", "C", 5)

    assert virtual_table._ascii_cell(Text("bold", style="bold"), column) is None
    assert virtual_table._ascii_cell("Müller", column) is None
