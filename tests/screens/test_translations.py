"""Every text of the screens has a Dutch translation, with the same fields.

A text missing from the catalog would show in English on a Dutch screen; a field
missing from a translation would lose the number it should show.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import segment_tui
from segment_tui.i18n import _CATALOGS

PACKAGE = Path(segment_tui.__file__).parent
UI_FILES = sorted(
    [
        PACKAGE / "app.py",
        PACKAGE / "commands.py",
        *(PACKAGE / "screens").glob("*.py"),
        *(
            PACKAGE / "widgets" / name
            for name in (
                "dialog.py",
                "filter_bar.py",
                "proposal_table.py",
                "text_table.py",
            )
        ),
    ]
)


def texts_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_every_text_has_a_dutch_translation(path: Path) -> None:
    dutch = _CATALOGS["nl"]
    texts = texts_in(path)
    missing = [text for text in texts if text not in dutch]
    assert missing == []
    for text in texts:
        assert fields(dutch[text]) == fields(text), text
