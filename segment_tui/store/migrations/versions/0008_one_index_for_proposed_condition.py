"""Schema version 0008: one index on the proposed and current condition.

The list sorted by proposed condition had an index on (proposed condition, id), and
the apply dialog's count by change of condition one on (current condition, proposed
condition), from schema version 0006. One index on (proposed condition, current
condition, id) now serves both: the sort's ties go by the current condition first.
A large proposal run builds the list's indexes anew at its end (see
`proposal_writer`); at 770,000 proposals the index it no longer builds took half a
second of that.
"""

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    op.drop_index("ix_proposal_transition", table_name="proposal")
    op.drop_index("ix_proposal_proposed_condition", table_name="proposal")
    op.create_index(
        "ix_proposal_proposed_condition",
        "proposal",
        ["proposed_condition", "current_condition", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_proposal_proposed_condition", table_name="proposal")
    op.create_index(
        "ix_proposal_proposed_condition", "proposal", ["proposed_condition", "id"]
    )
    op.create_index(
        "ix_proposal_transition",
        "proposal",
        ["current_condition", "proposed_condition"],
    )
