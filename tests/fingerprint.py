"""Every table of a store condensed to its row count and a checksum of its rows.

Tests of refused input compare the fingerprint before and after: "nothing changed"
means no row of any table was added, removed or altered, whatever the table. The
tables are read from the database itself, so a table added later is covered too.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import MetaData, select

from segment_tui.store.engine import make_engine

Fingerprint = dict[str, tuple[int, str]]

# The tables of each store, reflected once: tests do not change the schema.
_tables: dict[str, MetaData] = {}


def fingerprint(url: str) -> Fingerprint:
    """Table name: (row count, SHA-256 of the rows in a fixed order).

    The engine is disposed before returning, so that no connection stays open to a
    store that a test copies or drops next.
    """
    engine = make_engine(url)
    try:
        metadata = _tables.get(url)
        if metadata is None:
            metadata = _tables[url] = MetaData()
            metadata.reflect(engine)
        state: Fingerprint = {}
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                rows = sorted(repr(tuple(r)) for r in connection.execute(select(table)))
                digest = hashlib.sha256(
                    "\n".join(rows).encode("utf-8", "surrogatepass")
                )
                state[table.name] = (len(rows), digest.hexdigest())
        return state
    finally:
        engine.dispose()


def row_counts(url: str) -> dict[str, int]:
    """Table name: row count."""
    return {name: count for name, (count, _) in fingerprint(url).items()}
