"""The store's schema versions, as Alembic migrations run by segment-tui itself.

`env.py` is Alembic's entry point; `versions/` holds one file per schema version,
numbered in order. segment-tui runs them in code (`segment_tui.store.schema`), on a
connection that already holds the store's write lock, so no alembic.ini is needed.
A migration must work on SQLite and PostgreSQL: changes to existing tables go
through `op.batch_alter_table`, which SQLite needs to copy the table.
"""
