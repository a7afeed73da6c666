"""A small read-only table whose cells are always shown literally.

DataTable reads a string cell as markup, so a customer named "[Test] Ltd" would
lose its brackets; this table turns every string into a `rich.text.Text` first.
For the short lists of a page (a customer's invoices, the segments of the setup);
long lists belong in a `VirtualTable`.
"""

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def plain(value: Cell, *, right: bool = False) -> Text:
    """A cell value as Text, never markup; `right` aligns numbers."""
    text = value.copy() if isinstance(value, Text) else Text(str(value))
    if right:
        text.justify = "right"
    return text


class TextTable(DataTable[Text]):
    """A DataTable with literal cells, for a few hundred rows to read.

    It has no cursor, since nothing on its rows can be chosen: the arrow keys
    scroll it instead.
    """

    def __init__(
        self,
        columns: Sequence[str],
        *,
        right: Sequence[int] = (),
        widths: Mapping[int, int] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="none", zebra_stripes=True)
        self._labels = list(columns)
        self._right = set(right)
        widths = widths or {}
        for index, label in enumerate(self._labels):
            self.add_column(
                plain(label, right=index in self._right),
                width=widths.get(index),
                key=str(index),
            )

    def add_plain_row(
        self, *cells: Cell, key: str | None = None, wrap: bool = False
    ) -> None:
        """Add a row; the columns given as `right` are aligned to the right.

        With `wrap`, a cell longer than its column's width continues on the next
        line instead of being cut.
        """
        self.add_row(
            *(plain(cell, right=i in self._right) for i, cell in enumerate(cells)),
            key=key,
            height=None if wrap else 1,
        )
