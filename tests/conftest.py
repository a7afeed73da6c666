"""Fixtures shared by the whole test suite.

The database fixtures let a store test run on SQLite and on PostgreSQL alike:
`db_url` hands each test a fresh, empty database on both. The PostgreSQL server
comes from `SEGMENT_TUI_TEST_PG_URL`, which `.ci/run` sets to a throw-away cluster
started by `.ci/pg-test-cluster`; without it the PostgreSQL tests are skipped, except
under CI, where a missing server is an error rather than a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from segment_tui.store.engine import create_schema, make_engine

# --- Database fixtures: SQLite and PostgreSQL -------------------------------------

PG_URL_VARIABLE = "SEGMENT_TUI_TEST_PG_URL"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The SQLAlchemy URL of the test PostgreSQL database.

    The role in it may create databases. Under CI (CI=true) a missing URL fails the
    test, so the PostgreSQL tests cannot be skipped unnoticed.
    """
    url = os.environ.get(PG_URL_VARIABLE)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{PG_URL_VARIABLE} is not set, but CI needs PostgreSQL tests")
    pytest.skip(f"PostgreSQL not available: set {PG_URL_VARIABLE}")


def _fresh_pg_database(server_url: str) -> Iterator[str]:
    """Create an empty database next to `server_url`, yield its URL, then drop it."""
    # Imported here so that the SQLite tests run without a PostgreSQL driver.
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"segtest_{uuid.uuid4().hex[:16]}"
    admin = make_conninfo(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends connections a test left open, such as an undisposed pool.
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database, once on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'segment.db'}"
    else:
        yield from _fresh_pg_database(request.getfixturevalue("pg_url"))


@pytest.fixture
def any_store(db_url: str) -> Iterator[Engine]:
    """A fresh store with the schema on each backend; the screen and store tests
    have stores of their own shape (their conftest.py)."""
    engine = make_engine(db_url)
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()
