"""A table that renders only the rows on screen, fetched on demand from a source.

The Segmentation Proposals page lists up to a million proposals. Textual's
DataTable builds every row before the first paint, which takes seconds at that
size, so the page uses `VirtualTable` instead: a Line API widget that asks a
`RowSource` for the few pages of rows around the viewport and draws nothing
else.

The division of work:

- The **source** owns the data: how many rows match the current filter, the rows
  of a range in the current order, and the current filter as a value (its
  *scope*) that it can later count and test keys against. Sorting and filtering
  are the source's business; the real source does them in SQL. The protocol is
  read-only, so the widget never needs to know what a filter means.
- The **widget** owns what the operator sees and does: a fixed header, the row
  cursor, a column cursor (to choose the column to sort by), the sort indicator
  and the marks. Marks are kept by key, not by position, so they survive
  sorting, filtering and refreshing.

- The **owner** (a screen) connects the two. When the operator asks for another
  order or filter, the screen tells its source and calls `refresh_rows()`::

      def on_virtual_table_sort_requested(
          self, event: VirtualTable.SortRequested
      ) -> None:
          self.source.set_sort(event.column_key, event.reverse)
          event.table.show_sort(event.column_key, event.reverse)
          event.table.refresh_rows()

      def on_input_changed(self, event: Input.Changed) -> None:
          self.source.set_filter(event.value)
          self.query_one(VirtualTable).refresh_rows()

Marks are a description, not a list (`Marks`): every row under some scopes, but
for some keys, and some keys besides. "Mark all" adds the current scope, so it
costs the same for a million rows as for ten and never reads a key; Space on a
row adds or removes one exception. How many are marked is the source's count of
the scopes, corrected by the exceptions. An owner that acts on the marks passes
the description on (the proposals page turns it into a condition in SQL) rather
than asking for every marked key, which `marked` can still give, at the price of
reading them all.

Keys: the widget binds the cursor keys (up, down, left, right, page up, page
down, home, end) and Enter, which posts `RowActivated`; a screen that wants Enter
to do something handles that message rather than binding Enter itself, because
the focused table sees the key first. The widget binds nothing else: Space,
ctrl+a and Escape stay free for the screen, which binds them to its own actions
and calls `action_toggle_mark()`, `mark_all()` and `clear_marks()` (or binds
`action_sort()` to a key of its choice).

Every cell is drawn as plain text: strings never go through the markup parser,
so user data with square brackets shows as typed.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeAlias, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

KeyT = TypeVar("KeyT", bound=Hashable)
"""The type of a row's key (for proposals, the proposal id)."""

MessageKeyT = TypeVar("MessageKeyT", bound=Hashable)
"""The key type carried by the table's messages."""

Cell: TypeAlias = str | Text
"""A cell value: a string (always shown literally) or a styled rich Text."""

Justify: TypeAlias = Literal["left", "right"]

MARK_GLYPH = "✓"
"""Shown in the mark column of a marked row."""

MARK_COLUMN_WIDTH = 3
"""The mark column: the glyph with a space either side."""

CELL_PADDING = 1
"""Blank cells on each side of every column's content."""

HEADER_HEIGHT = 1
"""Lines taken by the header, which stays put while the rows scroll."""

SORT_ASCENDING = "▲"
SORT_DESCENDING = "▼"

# Control characters would break a line in two or drive the terminal (an escape
# sequence in a customer name); cells show them as spaces.
_CONTROL_CHARACTERS = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0))}


@dataclass(frozen=True, slots=True)
class Column:
    """How one column of a `VirtualTable` looks."""

    key: str
    """Names the column in messages and in `show_sort`."""

    label: str
    """The header text, shown literally."""

    width: int
    """The content width in cells; longer values are cut with an ellipsis."""

    justify: Justify = "left"
    """"right" for numbers, so that digits line up."""


@dataclass(frozen=True, slots=True)
class Row(Generic[KeyT]):
    """One row from a source: its key and one value per column, in column order."""

    key: KeyT
    cells: tuple[Cell, ...]


class RowSource(Protocol[KeyT]):
    """Where a `VirtualTable` gets its rows.

    `count`, `fetch` and `scope` answer for the source's current filter and order,
    which the owner changes on the source directly before calling
    `VirtualTable.refresh_rows()`. `count_in` and `keys_in` answer for scopes that
    `scope` returned earlier, whatever the filter is now.
    """

    def count(self) -> int:
        """The number of rows under the current filter."""
        ...

    def fetch(self, offset: int, limit: int) -> Sequence[Row[KeyT]]:
        """At most `limit` rows, in the current order, starting at `offset`."""
        ...

    def scope(self) -> Hashable:
        """The current filter as a value that names the same rows later, when
        another filter is in force: what "mark all" marks."""
        ...

    def count_in(self, scopes: Collection[Hashable]) -> int:
        """The number of rows under any of these scopes, each row counted once."""
        ...

    def keys_in(
        self, scopes: Collection[Hashable], among: Collection[KeyT] | None = None
    ) -> Iterable[KeyT]:
        """The keys of the rows under any of these scopes, or of those of `among`
        that are; an iterator is fine and best."""
        ...


@dataclass(frozen=True)
class Marks(Generic[KeyT]):
    """What is marked: the rows under `scopes` but not `removed`, and `added`.

    Kept so that `removed` holds only keys under the scopes and `added` only keys
    outside them; then the marked rows number the rows under the scopes, less
    `removed`, plus `added`.
    """

    scopes: frozenset[Hashable] = field(default_factory=frozenset)
    """Scopes (see `RowSource.scope`) whose every row is marked."""

    added: frozenset[KeyT] = field(default_factory=frozenset)
    """Keys marked one by one, outside the scopes."""

    removed: frozenset[KeyT] = field(default_factory=frozenset)
    """Keys under the scopes that are not marked."""


def _plain_cell(value: Cell) -> Text:
    """A fresh Text for a cell value, with no markup parsed and no control codes."""
    if isinstance(value, Text):
        text = value.copy()
        cleaned = text.plain.translate(_CONTROL_CHARACTERS)
        if cleaned != text.plain:
            text.plain = cleaned
        return text
    return Text(str(value).translate(_CONTROL_CHARACTERS))


ELLIPSIS = "…"
"""Where a cell is cut, as rich's `Text.truncate` marks it."""


def _ascii_cell(value: Cell, column: Column) -> str | None:
    """A plain ASCII cell fitted and padded, as `_fit` and the padding would make it,
    without building a Text: most cells are such, and a row has a dozen. None for
    any other cell (styled, or with characters whose width varies)."""
    if not isinstance(value, str) or not value.isascii():
        return None
    plain = value.translate(_CONTROL_CHARACTERS)
    width = column.width
    if len(plain) > width:
        plain = plain[: width - 1] + ELLIPSIS if width > 0 else ""
    elif column.justify == "right":
        plain = plain.rjust(width)
    else:
        plain = plain.ljust(width)
    pad = " " * CELL_PADDING
    return pad + plain + pad


def _fit(text: Text, width: int, justify: Justify) -> Text:
    """Cut `text` to `width` cells (with an ellipsis) and pad it to exactly that."""
    text.truncate(width, overflow="ellipsis")
    text.align(justify, width)
    return text


class VirtualTable(ScrollView, Generic[KeyT]):
    """A table over a `RowSource` that fetches and draws only the visible rows.

    Args:
        columns: The columns after the mark column, left to right.
        source: Where the rows come from.
        empty_text: Shown under the header when the source has no rows.
        name: The widget's name.
        id: The widget's id in the DOM.
        classes: CSS classes of the widget.
        disabled: Whether the widget starts disabled.
    """

    PAGE_SIZE: ClassVar[int] = 64
    """Rows fetched from the source at a time: a screenful on most terminals. The
    first paint formats a whole page, so a larger one would cost it more."""

    CACHED_PAGES: ClassVar[int] = 16
    """Pages kept in memory; the least recently used one goes first."""

    CACHED_LINES: ClassVar[int] = 1000
    """Rendered rows kept, so that redrawing an unchanged row costs nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("left", "cursor_left", "Column left", show=False),
        Binding("right", "cursor_right", "Column right", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home,ctrl+home", "cursor_first", "First row", show=False),
        Binding("end,ctrl+end", "cursor_last", "Last row", show=False),
        Binding("enter", "activate", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--header-cursor",
        "virtual-table--cursor",
        "virtual-table--marked",
        "virtual-table--mark",
        "virtual-table--empty",
    }
    """
    | Class | Description |
    | :- | :- |
    | `virtual-table--header` | The header line. |
    | `virtual-table--header-cursor` | The header of the column under the cursor. |
    | `virtual-table--cursor` | The row under the cursor. |
    | `virtual-table--marked` | A marked row. |
    | `virtual-table--mark` | The check mark of a marked row. |
    | `virtual-table--empty` | The message shown when there are no rows. |
    """

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        background: $surface;
        color: $foreground;

        & > .virtual-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .virtual-table--header-cursor {
            background: $accent 40%;
            text-style: bold underline;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .virtual-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .virtual-table--marked {
            background: $primary 20%;
        }
        & > .virtual-table--mark {
            color: $success;
            text-style: bold;
        }
        & > .virtual-table--empty {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class CursorMoved(Message, Generic[MessageKeyT]):
        """The row under the cursor changed; `key` is None when there are no rows."""

        def __init__(self, table: VirtualTable[Any], key: MessageKeyT | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable[Any]:
            """The table the cursor moved in."""
            return self.table

    class MarksChanged(Message):
        """Keys were marked or unmarked; `count` is how many are marked now."""

        def __init__(self, table: VirtualTable[Any], count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> VirtualTable[Any]:
            """The table whose marks changed."""
            return self.table

    class RowActivated(Message, Generic[MessageKeyT]):
        """The operator pressed Enter on the row with this key."""

        def __init__(self, table: VirtualTable[Any], key: MessageKeyT) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable[Any]:
            """The table the row is in."""
            return self.table

    class SortRequested(Message):
        """The operator asked to sort by a column (header click or `action_sort`).

        The table does not sort: the owner orders its source, then calls
        `show_sort` and `refresh_rows`. `reverse` is already worked out: the same
        column again flips the direction, another column starts ascending.
        """

        def __init__(
            self, table: VirtualTable[Any], column_key: str, reverse: bool
        ) -> None:
            super().__init__()
            self.table = table
            self.column_key = column_key
            self.reverse = reverse

        @property
        def control(self) -> VirtualTable[Any]:
            """The table to sort."""
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        source: RowSource[KeyT],
        *,
        empty_text: str = "No rows.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if not columns:
            raise ValueError("A VirtualTable needs at least one column.")
        self._columns = tuple(columns)
        self._column_x: list[int] = []
        x = MARK_COLUMN_WIDTH
        for column in self._columns:
            self._column_x.append(x)
            x += column.width + 2 * CELL_PADDING
        self._total_width = x

        self._source = source
        self._empty_text = empty_text
        self._count = 0
        self._pages: LRUCache[int, Sequence[Row[KeyT]]] = LRUCache(self.CACHED_PAGES)
        self._lines: LRUCache[tuple[int, bool, bool, bool], Strip] = LRUCache(
            self.CACHED_LINES
        )
        self._header: tuple[bool, Strip] | None = None
        self._painting_style: Style | None = None

        self._cursor_row = 0
        self._cursor_column = 0
        self._reported_key: KeyT | None = None
        self._sort_column: str | None = None
        self._sort_reverse = False

        # The marks (see `Marks`), and how many rows the marked scopes hold as of
        # the last count. `_scoped_pages` holds, for each fetched page, its keys
        # that are under the marked scopes; needed only while the current scope
        # is not one of them, else every row shown is under them.
        self._scope: Hashable = None
        self._scopes: set[Hashable] = set()
        self._added: set[KeyT] = set()
        self._removed: set[KeyT] = set()
        self._scoped_count = 0
        self._scoped_pages: LRUCache[int, frozenset[KeyT]] = LRUCache(self.CACHED_PAGES)

        self._load_count()

    # Data

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns after the mark column."""
        return self._columns

    @property
    def source(self) -> RowSource[KeyT]:
        """Where the rows come from."""
        return self._source

    def set_source(self, source: RowSource[KeyT]) -> None:
        """Show another source's rows; the marks and the cursor position stay."""
        self._source = source
        self.refresh_rows()

    @property
    def row_count(self) -> int:
        """Rows under the source's filter, as of the last `refresh_rows`."""
        return self._count

    @property
    def empty_text(self) -> str:
        """Shown under the header when there are no rows."""
        return self._empty_text

    @empty_text.setter
    def empty_text(self, text: str) -> None:
        self._empty_text = text
        if self._count == 0:
            self.refresh()

    def refresh_rows(self) -> None:
        """Forget the fetched rows and ask the source again.

        Call it after changing the source's order or filter, or its data. The
        cursor keeps its position (moved up if the list got shorter); marks are
        untouched, including those of rows the filter now hides.
        """
        self._pages.clear()
        self._lines.clear()
        self._load_count()
        self._recount_marks()
        self._cursor_row = self._clamp_row(self._cursor_row)
        self._scroll_to_cursor()
        self.refresh()
        self._report_cursor()

    def _load_count(self) -> None:
        self._count = max(0, self._source.count())
        self._scope = self._source.scope()
        self.virtual_size = Size(self._total_width, self._count + HEADER_HEIGHT)

    def _row_at(self, index: int) -> Row[KeyT] | None:
        """The row at `index` in the current order, fetching its page if needed."""
        # Limitation: pages are fetched while the line is drawn, on the UI thread,
        # so a source whose fetch is slow (say a large OFFSET in SQL) holds up the
        # paint at that position until the page arrives.
        if not 0 <= index < self._count:
            return None
        page_number, position = divmod(index, self.PAGE_SIZE)
        page = self._pages.get(page_number)
        if page is None:
            page = self._source.fetch(page_number * self.PAGE_SIZE, self.PAGE_SIZE)
            self._pages.set(page_number, page)
        return page[position] if position < len(page) else None

    # Cursor

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor, in the current order."""
        return self._cursor_row

    @cursor_row.setter
    def cursor_row(self, index: int) -> None:
        self.move_cursor(row=index)

    @property
    def cursor_key(self) -> KeyT | None:
        """The key of the row under the cursor, or None when there are no rows."""
        row = self._row_at(self._cursor_row)
        return None if row is None else row.key

    @property
    def cursor_column(self) -> int:
        """The index (into `columns`) of the column under the column cursor."""
        return self._cursor_column

    @property
    def cursor_column_key(self) -> str:
        """The key of the column under the column cursor."""
        return self._columns[self._cursor_column].key

    def move_cursor(self, *, row: int | None = None, column: int | None = None) -> None:
        """Move the row cursor and/or the column cursor, scrolling to keep it shown.

        Out-of-range positions are clamped to the first or last row or column.
        """
        if row is not None:
            row = self._clamp_row(row)
            if row != self._cursor_row:
                previous = self._cursor_row
                self._cursor_row = row
                self._refresh_row(previous)
                self._refresh_row(row)
            self._scroll_to_cursor()
            self._report_cursor()
        if column is not None:
            column = max(0, min(column, len(self._columns) - 1))
            if column != self._cursor_column:
                self._cursor_column = column
                self._refresh_header()
            self._scroll_to_column()

    def _clamp_row(self, index: int) -> int:
        return max(0, min(index, self._count - 1))

    @property
    def _visible_rows(self) -> int:
        """How many rows fit under the header (at least one)."""
        return max(1, self.scrollable_content_region.height - HEADER_HEIGHT)

    def _scroll_to_cursor(self) -> None:
        if not self.is_mounted:
            return
        top = self.scroll_offset.y
        visible = self._visible_rows
        if self._cursor_row < top:
            self.scroll_to(y=self._cursor_row, animate=False)
        elif self._cursor_row >= top + visible:
            self.scroll_to(y=self._cursor_row - visible + 1, animate=False)

    def _scroll_to_column(self) -> None:
        if not self.is_mounted:
            return
        # Measured past the mark column, which stays put while the rest scrolls.
        left = self._column_x[self._cursor_column] - MARK_COLUMN_WIDTH
        right = left + self._columns[self._cursor_column].width + 2 * CELL_PADDING
        view_left = self.scroll_offset.x
        view_width = self.scrollable_content_region.width - MARK_COLUMN_WIDTH
        if left < view_left or right - left > view_width:
            self.scroll_to(x=left, animate=False)
        elif right > view_left + view_width:
            self.scroll_to(x=right - view_width, animate=False)

    def _report_cursor(self) -> None:
        """Post `CursorMoved` when the key under the cursor is not the last posted."""
        key = self.cursor_key
        if key != self._reported_key:
            self._reported_key = key
            self.post_message(self.CursorMoved(self, key))

    def on_mount(self) -> None:
        """Announce the first row under the cursor, so that the owner can show it."""
        key = self.cursor_key
        self._reported_key = key
        self.post_message(self.CursorMoved(self, key))

    def on_resize(self) -> None:
        """Keep the cursor on screen when the table gets shorter."""
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.move_cursor(row=self._cursor_row - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.move_cursor(row=self._cursor_row + 1)

    def action_cursor_page_up(self) -> None:
        """Move the cursor and the view one screenful up."""
        self._page(-self._visible_rows)

    def action_cursor_page_down(self) -> None:
        """Move the cursor and the view one screenful down."""
        self._page(self._visible_rows)

    def _page(self, rows: int) -> None:
        # Scroll by the same amount as the cursor, so that it keeps its place on
        # screen, like a pager.
        target = self._clamp_row(self._cursor_row + rows)
        self.scroll_to(
            y=self.scroll_offset.y + target - self._cursor_row, animate=False
        )
        self.move_cursor(row=target)

    def action_cursor_first(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(row=self._count - 1)

    def action_cursor_left(self) -> None:
        """Move the column cursor one column left."""
        self.move_cursor(column=self._cursor_column - 1)

    def action_cursor_right(self) -> None:
        """Move the column cursor one column right."""
        self.move_cursor(column=self._cursor_column + 1)

    def action_activate(self) -> None:
        """Post `RowActivated` for the row under the cursor (bound to Enter)."""
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowActivated(self, key))

    def on_click(self, event: events.Click) -> None:
        """A click on a row moves both cursors there; a header click asks to sort."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        column = None
        if offset.x >= MARK_COLUMN_WIDTH:
            column = self._column_at(offset.x + self.scroll_offset.x)
        if offset.y < HEADER_HEIGHT:
            if column is not None:
                self.move_cursor(column=column)
                self.action_sort()
            return
        index = self.scroll_offset.y + offset.y - HEADER_HEIGHT
        if index < self._count:
            self.move_cursor(row=index, column=column)
            self.focus()

    def _column_at(self, x: int) -> int | None:
        """The index of the column drawn at virtual x, None for the mark column."""
        found: int | None = None
        for index, left in enumerate(self._column_x):
            if x >= left:
                found = index
        return found

    # Sorting

    @property
    def sort_column(self) -> str | None:
        """The column the header shows as sorted, if any."""
        return self._sort_column

    @property
    def sort_reverse(self) -> bool:
        """Whether the header shows the sort as descending."""
        return self._sort_reverse

    def show_sort(self, column_key: str | None, reverse: bool = False) -> None:
        """Show ▲ (or ▼ when `reverse`) on a column's header; None shows none.

        This only changes the header: ordering the rows is the source's job.
        """
        if column_key is not None and column_key not in self._column_keys():
            raise ValueError(f"The table has no column {column_key!r}.")
        self._sort_column = column_key
        self._sort_reverse = reverse
        self._refresh_header()

    def action_sort(self) -> None:
        """Post `SortRequested` for the column under the column cursor."""
        column_key = self.cursor_column_key
        reverse = column_key == self._sort_column and not self._sort_reverse
        self.post_message(self.SortRequested(self, column_key, reverse))

    def _column_keys(self) -> list[str]:
        return [column.key for column in self._columns]

    # Marks

    @property
    def marks(self) -> Marks[KeyT]:
        """What is marked, as a description (see `Marks`)."""
        return Marks(
            frozenset(self._scopes), frozenset(self._added), frozenset(self._removed)
        )

    @property
    def marked(self) -> frozenset[KeyT]:
        """Every marked key, including keys the current filter hides.

        With a scope marked ("mark all") this reads every key under it from the
        source: prefer `marks` and `mark_count`.
        """
        scoped: set[KeyT] = set()
        if self._scopes:
            scoped.update(self._source.keys_in(self._scopes))
        return frozenset((scoped - self._removed) | self._added)

    @property
    def mark_count(self) -> int:
        """How many keys are marked, without reading them."""
        return self._scoped_count - len(self._removed) + len(self._added)

    def is_marked(self, key: KeyT) -> bool:
        """Whether the row with this key is marked."""
        if key in self._added:
            return True
        if key in self._removed or not self._scopes:
            return False
        return bool(self._scoped_keys([key]))

    def toggle_mark(self, key: KeyT) -> bool:
        """Mark the key if it was not marked, else unmark it; return the new state."""
        return self._toggle(key, self.is_marked(key))

    def _toggle(self, key: KeyT, marked: bool) -> bool:
        if marked:
            if key in self._added:
                self._added.discard(key)
            else:
                self._removed.add(key)
        elif key in self._removed:
            self._removed.discard(key)
        else:
            self._added.add(key)
        self._marks_changed()
        return not marked

    def mark_all(self) -> None:
        """Mark every key under the source's current filter, keeping other marks.

        It costs the same for any number of rows: the filter's scope is marked as
        a whole. Only exceptions made before are looked up, to drop those under
        this scope.
        """
        scope = self._scope
        if self._removed:
            self._removed -= set(self._source.keys_in([scope], self._removed))
        if self._added:
            self._added -= set(self._source.keys_in([scope], self._added))
        self._scopes.add(scope)
        self._scoped_pages.clear()
        self._count_scopes()
        self._marks_changed()

    def clear_marks(self) -> None:
        """Unmark everything, including rows the current filter hides."""
        self._scopes.clear()
        self._added.clear()
        self._removed.clear()
        self._scoped_pages.clear()
        self._scoped_count = 0
        self._marks_changed()

    def unmark(self, keys: Iterable[KeyT]) -> None:
        """Unmark these keys, e.g. after the rows they name were applied or deleted."""
        rest = set(keys)
        found = rest & self._added
        self._added -= found
        rest -= found | self._removed
        if rest and self._scopes:
            self._removed.update(self._scoped_keys(rest))
        self._marks_changed()

    def action_toggle_mark(self) -> None:
        """Toggle the mark of the row under the cursor and move to the next row."""
        row = self._row_at(self._cursor_row)
        if row is None:
            return
        self._toggle(row.key, self._row_marked(self._cursor_row, row.key))
        self.action_cursor_down()

    def action_mark_all(self) -> None:
        """Mark every row under the current filter."""
        self.mark_all()

    def action_clear_marks(self) -> None:
        """Unmark every row."""
        self.clear_marks()

    def _row_marked(self, index: int, key: KeyT) -> bool:
        """Whether the row at `index` in the current order, with this key, is marked."""
        if key in self._added:
            return True
        if key in self._removed or not self._scopes:
            return False
        if self._scope in self._scopes:
            return True
        page_number = index // self.PAGE_SIZE
        scoped = self._scoped_pages.get(page_number)
        if scoped is None:
            page = self._pages.get(page_number) or ()
            scoped = frozenset(self._scoped_keys([row.key for row in page]))
            self._scoped_pages.set(page_number, scoped)
        return key in scoped

    def _scoped_keys(self, keys: Collection[KeyT]) -> set[KeyT]:
        """Those of `keys` that are under the marked scopes."""
        return set(self._source.keys_in(self._scopes, keys))

    def _count_scopes(self) -> None:
        if not self._scopes:
            self._scoped_count = 0
        elif self._scopes == {self._scope}:
            self._scoped_count = self._count
        else:
            self._scoped_count = self._source.count_in(self._scopes)

    def _recount_marks(self) -> None:
        """After the source changed: count the scopes again, and forget exceptions
        that are no longer under them (their rows are gone)."""
        self._scoped_pages.clear()
        if not self._scopes:
            return
        self._count_scopes()
        if self._removed:
            self._removed = self._scoped_keys(self._removed)

    def _marks_changed(self) -> None:
        # Cached lines carry their marked state in the cache key, so repainting
        # is enough: rows whose state changed are drawn again, others are reused.
        self.refresh()
        self.post_message(self.MarksChanged(self, self.mark_count))

    # Rendering

    def notify_style_update(self) -> None:
        """Drop rendered lines when the styles (e.g. the theme) change."""
        super().notify_style_update()
        self._lines.clear()
        self._header = None

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + HEADER_HEIGHT)

    def _refresh_header(self) -> None:
        self._header = None
        self.refresh_lines(self.scroll_offset.y, HEADER_HEIGHT)

    def render_lines(self, crop: Region) -> list[Strip]:
        # Each line needs the widget's own style, which Textual works out anew from
        # the styles of every ancestor each time it is asked: once a paint will do.
        self._painting_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._painting_style = None

    def _base_style(self) -> Style:
        # `is None`, not `or`: a style with nothing set is false.
        if self._painting_style is None:
            return self.rich_style
        return self._painting_style

    def render_line(self, y: int) -> Strip:
        """Draw line `y` of the widget: the header, a row, or the empty message."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y < HEADER_HEIGHT:
            strip = self._render_header()
        elif self._count == 0:
            return self._render_empty(y, width)
        else:
            index = scroll_y + y - HEADER_HEIGHT
            row = self._row_at(index)
            if row is None:
                return Strip.blank(width, self._base_style())
            strip = self._render_row(index, row)
        return self._crop(strip, scroll_x, width)

    def _crop(self, strip: Strip, scroll_x: int, width: int) -> Strip:
        """The part of a full-width line on screen; the mark column never scrolls."""
        if scroll_x == 0:
            return strip.crop_extend(0, width, self._base_style())
        start = MARK_COLUMN_WIDTH + scroll_x
        end = start + max(0, width - MARK_COLUMN_WIDTH)
        return Strip.join(
            [
                strip.crop(0, MARK_COLUMN_WIDTH),
                strip.crop_extend(start, end, self._base_style()),
            ]
        )

    def _render_header(self) -> Strip:
        focused = self.has_focus
        if self._header is not None and self._header[0] == focused:
            return self._header[1]
        header_style = self.get_component_rich_style("virtual-table--header")
        cursor_style = self.get_component_rich_style("virtual-table--header-cursor")
        segments = [Segment(" " * MARK_COLUMN_WIDTH)]
        for index, column in enumerate(self._columns):
            label = _plain_cell(column.label)
            if column.key == self._sort_column:
                arrow = SORT_DESCENDING if self._sort_reverse else SORT_ASCENDING
                label.truncate(max(0, column.width - 2), overflow="ellipsis")
                label.append(f" {arrow}")
            style = cursor_style if index == self._cursor_column else None
            segments.extend(self._cell_segments(label, column, style))
        strip = Strip(segments, self._total_width).apply_style(header_style)
        self._header = (focused, strip)
        return strip

    def _render_row(self, index: int, row: Row[KeyT]) -> Strip:
        is_cursor = index == self._cursor_row
        is_marked = self._row_marked(index, row.key)
        cache_key = (index, is_cursor, is_marked, self.has_focus)
        cached = self._lines.get(cache_key)
        if cached is not None:
            return cached

        style = self._base_style()
        if is_marked:
            style += self.get_component_rich_style("virtual-table--marked")
        if is_cursor:
            style += self.get_component_rich_style("virtual-table--cursor")

        if is_marked:
            mark_style = self.get_component_rich_style(
                "virtual-table--mark", partial=True
            )
            segments = [Segment(f" {MARK_GLYPH} ", mark_style)]
        else:
            segments = [Segment(" " * MARK_COLUMN_WIDTH)]
        cells = row.cells[: len(self._columns)]
        cells += ("",) * (len(self._columns) - len(cells))
        for column, value in zip(self._columns, cells, strict=True):
            plain = _ascii_cell(value, column)
            if plain is None:
                segments.extend(self._cell_segments(_plain_cell(value), column))
            else:
                segments.append(Segment(plain))

        strip = Strip(segments, self._total_width).apply_style(style).simplify()
        self._lines.set(cache_key, strip)
        return strip

    def _cell_segments(
        self, text: Text, column: Column, style: Style | None = None
    ) -> list[Segment]:
        """One padded cell, exactly `column.width + 2 * CELL_PADDING` cells wide."""
        pad = " " * CELL_PADDING
        fitted = _fit(text, column.width, column.justify)
        segments = [Segment(pad)]
        segments.extend(fitted.render(self.app.console))
        segments.append(Segment(pad))
        if style is not None:
            segments = list(Segment.apply_style(segments, post_style=style))
        return segments

    def _render_empty(self, y: int, width: int) -> Strip:
        if y != HEADER_HEIGHT:
            return Strip.blank(width, self._base_style())
        text = Text(self._empty_text.translate(_CONTROL_CHARACTERS))
        text.truncate(width, overflow="ellipsis")
        text.align("center", width)
        style = self._base_style() + self.get_component_rich_style(
            "virtual-table--empty"
        )
        return Strip(list(text.render(self.app.console)), width).apply_style(style)
