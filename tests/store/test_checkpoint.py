"""A write may leave copying SQLite's write-ahead log for later, off the wait.

SQLite's commit copies the log into the store file once the log has grown past a
thousand pages; a write with `checkpoint=False` leaves that to `checkpoint_log`,
which the UI runs in a worker once the operator sees the result. The store file's
size shows where the new pages are: in the log only, or copied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from segment_tui.store.engine import (
    WAL_AUTOCHECKPOINT,
    checkpoint_log,
    create_schema,
    make_engine,
    write_transaction,
)
from segment_tui.store.models import Customer

# About 2,500 pages of 4 KiB: well past the thousand pages of an automatic copy.
CUSTOMERS = [
    {"customer_no": f"C{i:06d}", "name": f"Customer {i} " + "x" * 180}
    for i in range(40_000)
]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    return engine


def file_size(engine: Engine) -> int:
    assert engine.url.database is not None
    return Path(engine.url.database).stat().st_size


def test_a_write_copies_its_log_into_the_store_file_by_default(
    sqlite_store: Engine,
) -> None:
    before = file_size(sqlite_store)

    with write_transaction(sqlite_store) as connection:
        connection.execute(insert(Customer), CUSTOMERS)

    assert file_size(sqlite_store) > before + 5_000_000


def test_a_write_without_checkpoint_leaves_the_log_until_checkpoint(
    sqlite_store: Engine,
) -> None:
    before = file_size(sqlite_store)

    with write_transaction(sqlite_store, checkpoint=False) as connection:
        connection.execute(insert(Customer), CUSTOMERS)

    assert file_size(sqlite_store) == before
    with sqlite_store.connect() as connection:
        # Committed all the same, and the connection is as it was.
        assert connection.scalar(select(func.count()).select_from(Customer)) == len(
            CUSTOMERS
        )
        setting = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert setting == WAL_AUTOCHECKPOINT

    checkpoint_log(sqlite_store)

    assert file_size(sqlite_store) > before + 5_000_000


def test_checkpoint_leaves_any_store_as_it_is(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    try:
        with write_transaction(engine, checkpoint=False) as connection:
            connection.execute(insert(Customer), CUSTOMERS[:10])
        checkpoint_log(engine)
        with engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(Customer))
        assert stored == 10
    finally:
        engine.dispose()
