"""Schema version 0009: on SQLite the list's sort indexes leave out the proposal id.

SQLite ends every index with the rowid, which `proposal.id` is, so an index on
(segment) gives the same order as one on (segment, id), in smaller entries. A large
proposal run builds the four sort indexes anew at its end (see `proposal_writer`):
at 770,000 proposals they took 1.26 s instead of 1.51 s. PostgreSQL keeps the id in
its indexes, which now carry it in their names as well, so that each name stands
for one set of columns whichever the database.
"""

from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

SORTS = {
    "ix_proposal_segment": ["segment"],
    "ix_proposal_proposed_condition": ["proposed_condition", "current_condition"],
    "ix_proposal_overdue_amount": ["overdue_amount"],
    "ix_proposal_late_ratio": ["late_ratio"],
}
"""Each sort index's name as of schema version 0008, and its columns but the id."""

RENAMES = (
    "ALTER INDEX ix_proposal_segment RENAME TO ix_proposal_segment_id",
    "ALTER INDEX ix_proposal_proposed_condition "
    "RENAME TO ix_proposal_proposed_condition_id",
    "ALTER INDEX ix_proposal_overdue_amount RENAME TO ix_proposal_overdue_amount_id",
    "ALTER INDEX ix_proposal_late_ratio RENAME TO ix_proposal_late_ratio_id",
)
"""PostgreSQL's indexes keep their columns; their names say that the id is in them."""

RENAMES_BACK = (
    "ALTER INDEX ix_proposal_segment_id RENAME TO ix_proposal_segment",
    "ALTER INDEX ix_proposal_proposed_condition_id "
    "RENAME TO ix_proposal_proposed_condition",
    "ALTER INDEX ix_proposal_overdue_amount_id RENAME TO ix_proposal_overdue_amount",
    "ALTER INDEX ix_proposal_late_ratio_id RENAME TO ix_proposal_late_ratio",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, columns in SORTS.items():
            op.drop_index(name, table_name="proposal")
            op.create_index(name, "proposal", columns)
    else:
        for statement in RENAMES:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, columns in SORTS.items():
            op.drop_index(name, table_name="proposal")
            op.create_index(name, "proposal", [*columns, "id"])
    else:
        for statement in RENAMES_BACK:
            op.execute(statement)
