"""Opening a store: an engine from a URL or a file path, and the schema.

SQLite gets foreign keys, write-ahead logging and a busy timeout on every connection;
JSON columns keep decimals exact in both databases.
"""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from segment_tui import jsonout
from segment_tui.errors import InputError
from segment_tui.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Every writer of the store takes this lock first, so that writes are serialised:
# PostgreSQL by an advisory lock for the transaction, SQLite by BEGIN IMMEDIATE.
_PG_WRITE_LOCK_KEY = 0x5E67_7001
_WRITER = "segment_tui_writer"


def database_url(url_or_path: str) -> str:
    """A SQLAlchemy URL from what the operator typed: a URL, or a SQLite file path."""
    if "://" in url_or_path:
        try:
            make_url(url_or_path)
        except ArgumentError:
            raise InputError(
                f"--db: {url_or_path!r} is not a database URL; write "
                "sqlite:///FILE, postgresql+psycopg://USER@HOST/DB or a file path"
            ) from None
        return url_or_path
    path = Path(url_or_path).expanduser().resolve()
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself, so that writers can take
    # the write lock up front (BEGIN IMMEDIATE) instead of upgrading a read lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITER, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prepare_sqlite_file(path: str) -> None:
    """Create the parent folder and the file readable by the owner only."""
    if not path or path == ":memory:":
        return
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    if not file.exists():
        fd = os.open(file, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)


def make_engine(url_or_path: str) -> Engine:
    """An engine for the store at `url_or_path` (the schema is not touched)."""
    url = make_url(database_url(url_or_path))
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_file(url.database or "")
        engine = create_engine(
            url,
            json_serializer=jsonout.dumps,
            json_deserializer=jsonout.loads,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        json_serializer=jsonout.dumps,
        json_deserializer=jsonout.loads,
        pool_pre_ping=True,
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes to the store, serialised with every other writer.

    Committed when the block ends, rolled back when it raises: all or nothing.
    """
    with engine.connect() as connection:
        connection = connection.execution_options(**{_WRITER: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _PG_WRITE_LOCK_KEY},
                )
            yield connection


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (idempotent)."""
    Base.metadata.create_all(engine)
