"""Fixtures of the screen tests: a store in a temporary folder, with proposals or not.

The Pilot tests run on SQLite; the store-level tests take `any_store`, which runs
them on PostgreSQL too when a test server is configured. The Pilot tests are
coroutines; the hook below runs each in its own event loop, so the suite needs no
asyncio plugin. The data and the helpers live in `screen_support`, which the test
modules import.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_support import OPERATOR, REFERENCE, Store, fill, open_store

from segment_tui import services
from segment_tui.store.engine import make_engine


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """A store with the default setup and customers, but no proposals yet."""
    store = open_store(tmp_path)
    fill(store.engine)
    yield store
    store.engine.dispose()


@pytest.fixture
def any_store(db_url: str) -> Iterator[Store]:
    """A store with proposals on each backend (SQLite, and PostgreSQL when set up)."""
    store = Store(db_url, make_engine(db_url))
    services.initialise(store.engine, OPERATOR)
    fill(store.engine)
    services.create_proposals(store.engine, REFERENCE, OPERATOR)
    yield store
    store.engine.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """The same store with the proposals of a run as of `REFERENCE`."""
    services.create_proposals(empty_store.engine, REFERENCE, OPERATOR)
    return empty_store
