"""Fixtures of the concurrency tests: prepared stores and the commands' environment.

The tests start several `python -m segment_tui` processes on one store. To make them
contend for real, the test itself holds the store's write lock while they start
(`store_data.write_lock_held`), so that every one of them has read the store and
waits for the lock when it is released.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from store_data import cli_env, prepared_store

CUSTOMERS = 2_000
"""Enough that an apply or a propose takes a good part of a second."""


@pytest.fixture
def store_url(db_url: str) -> str:
    """A store with customers in every segment and one run of open proposals."""
    prepared_store(db_url, CUSTOMERS)
    return db_url


@pytest.fixture
def small_store_url(db_url: str) -> str:
    """Like `store_url`, with few customers: for tests where size does not matter."""
    prepared_store(db_url, 50)
    return db_url


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "log", SEGMENT_TUI_BUSY_TIMEOUT="120")
