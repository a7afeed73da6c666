"""Alembic's entry point: run the migrations on the connection segment-tui passes.

The connection comes in `config.attributes["connection"]`, inside a transaction
that holds the store's write lock; Alembic joins that transaction instead of
opening its own, so a failed upgrade leaves the store as it was.
"""

from alembic import context
from sqlalchemy import Connection

from segment_tui.store.models import Base, include_object


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the store's migrations run on a connection that segment-tui passes; "
            "upgrade a store with 'segment-tui init'"
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot alter most of a table in place: batch mode copies it.
        render_as_batch=True,
        compare_type=True,
        # Some indexes are made on one kind of database only.
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
