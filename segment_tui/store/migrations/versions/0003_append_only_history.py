"""Schema version 0003: the history (segment_change) refuses updates and deletes.

Each applied change is evidence of who changed which customer's dunning condition,
when and why; the database itself refuses to change or remove such a row, whatever
program or SQL tool asks.
"""

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

MESSAGE = "segment_change is append-only; applied changes cannot be altered or removed"

# Limitation: the owner of a PostgreSQL database can still disable or drop these
# triggers; they guard against mistakes and other programs, not against the owner.
# A future migration that copies segment_change on SQLite (batch mode) drops its
# triggers with the old table and must create them again.

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER segment_change_no_update BEFORE UPDATE ON segment_change
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER segment_change_no_delete BEFORE DELETE ON segment_change
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
)

POSTGRESQL_STATEMENTS = (
    f"""CREATE FUNCTION segment_change_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
    END
    $$""",
    """CREATE TRIGGER segment_change_no_update_or_delete
    BEFORE UPDATE OR DELETE ON segment_change
    FOR EACH ROW EXECUTE FUNCTION segment_change_refuse()""",
    """CREATE TRIGGER segment_change_no_truncate
    BEFORE TRUNCATE ON segment_change
    FOR EACH STATEMENT EXECUTE FUNCTION segment_change_refuse()""",
)


def upgrade() -> None:
    name = op.get_bind().dialect.name
    # Limitation: only SQLite and PostgreSQL, the two supported databases, get the
    # triggers; on any other database the history is append-only by convention.
    statements = {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRESQL_STATEMENTS}
    for statement in statements.get(name, ()):
        op.execute(statement)


def downgrade() -> None:
    name = op.get_bind().dialect.name
    if name == "sqlite":
        op.execute("DROP TRIGGER segment_change_no_update")
        op.execute("DROP TRIGGER segment_change_no_delete")
    elif name == "postgresql":
        op.execute("DROP TRIGGER segment_change_no_truncate ON segment_change")
        op.execute("DROP TRIGGER segment_change_no_update_or_delete ON segment_change")
        op.execute("DROP FUNCTION segment_change_refuse()")
