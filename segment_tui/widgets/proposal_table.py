"""The table of the Segmentation Proposals page: a `VirtualTable` of proposal ids.

It differs from its base only in showing Enter in the footer, since on this page
Enter opens the customer of the row and an operator should see that it does.
"""

from typing import ClassVar

from textual.binding import Binding, BindingType

from segment_tui.i18n import _
from segment_tui.widgets.virtual_table import VirtualTable


class ProposalTable(VirtualTable[int]):
    """A virtual table keyed by proposal id, with Enter shown as "Customer"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "activate", _("Customer")),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "activate":
            return self.row_count > 0
        return True
