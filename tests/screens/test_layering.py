"""The domain packages never import Textual: the CLI and scripts stay light.

Checked in a fresh interpreter, since this test process has Textual loaded. Every
module of each package is imported, except the schema migration scripts, which
only run inside the migration tool.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "segment_tui.rules",
        "segment_tui.store",
        "segment_tui.services",
        "segment_tui.store.proposal_source",
        "segment_tui.customer_detail",
        "segment_tui.importing",
        "segment_tui.cli",
    ],
)
def test_domain_does_not_import_textual(module: str) -> None:
    program = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module({module!r})\n"
        "for info in pkgutil.walk_packages(getattr(package, '__path__', []),\n"
        "                                  package.__name__ + '.'):\n"
        "    if '.migrations' not in info.name:\n"
        "        importlib.import_module(info.name)\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
