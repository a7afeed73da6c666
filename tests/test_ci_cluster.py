"""The database fixtures hand out working, empty databases on every backend.

When these fail, the store tests on that backend fail for the same reason; these
say so plainly.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


@pytest.mark.postgres
def test_pg_url_accepts_connections(pg_url: str) -> None:
    url = make_url(pg_url)

    with psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()

    assert row == (1,)


def test_db_url_is_a_fresh_empty_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert inspect(conn).get_table_names() == []
            conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            conn.commit()
    finally:
        engine.dispose()
