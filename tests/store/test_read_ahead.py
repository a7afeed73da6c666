"""The second process that reads a query ahead of a proposal run (SQLite only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from segment_tui.store.read_ahead import SecondProcessReader


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "numbers.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE n (v INTEGER)")
        connection.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(2500)])
    return str(path)


def test_rows_come_in_order_in_batches(database: str) -> None:
    reader = SecondProcessReader(database, "SELECT v, v * 2 FROM n ORDER BY v", 1000, 5)

    batches = list(reader.batches())

    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [row for batch in batches for row in batch] == [
        (i, 2 * i) for i in range(2500)
    ]
    assert reader.process.returncode == 0


def test_a_failing_query_is_an_error_here(database: str) -> None:
    reader = SecondProcessReader(database, "SELECT v FROM nowhere", 10, 5)

    with pytest.raises(RuntimeError, match="no such table: nowhere"):
        list(reader.batches())


def test_stopping_early_ends_the_process(database: str) -> None:
    reader = SecondProcessReader(database, "SELECT v FROM n ORDER BY v", 10, 5)
    batches = reader.batches()

    assert next(batches)[0] == (0,)
    batches.close()

    assert reader.process.returncode is not None


def test_a_process_that_dies_is_an_error_here(database: str) -> None:
    # 50 MB of rows, more than the pipe holds: the process is still sending when
    # it is killed, however fast it ran until then.
    reader = SecondProcessReader(
        database, "SELECT v, zeroblob(20000) FROM n ORDER BY v", 10, 5
    )
    batches = reader.batches()
    next(batches)
    reader.process.kill()

    with pytest.raises(RuntimeError, match="ended with exit code"):
        list(batches)


def test_a_buffered_reader_gives_every_row_in_order(database: str) -> None:
    """A buffered reader takes in what the process sends at once, in messages that
    its thread keeps whole, and hands them on in order."""
    with sqlite3.connect(database) as connection:
        # As in a proposal run, another connection holds the write lock meanwhile.
        connection.execute("BEGIN IMMEDIATE")
        reader = SecondProcessReader(
            database, "SELECT v FROM n ORDER BY v", 100, 5, buffered=True
        )
        batches = reader.batches()
        first = next(batches)
        rest = list(batches)
        connection.rollback()

    assert first == [(i,) for i in range(100)]
    assert [row for batch in rest for row in batch] == [(i,) for i in range(100, 2500)]
    assert reader.process.returncode == 0


def test_a_buffered_reader_stopped_early_ends_its_process(database: str) -> None:
    reader = SecondProcessReader(
        database, "SELECT v FROM n ORDER BY v", 10, 5, buffered=True
    )
    batches = reader.batches()
    next(batches)

    reader.stop()

    assert reader.process.returncode is not None
