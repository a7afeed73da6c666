"""Schema version 0002: indexes for sorting the proposals list in the database.

The Segmentation Proposals page sorts up to a million open proposals by a column and
then by proposal id, and fetches one page at a time with LIMIT; an index on
(column, id) lets the database read the first page straight from the index instead
of sorting every proposal. Customer names are indexed for the sort by name, which
joins the customers.
"""

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

PROPOSAL_SORT_COLUMNS = (
    "segment",
    "proposed_condition",
    "overdue_amount",
    "late_ratio",
)


def upgrade() -> None:
    with op.batch_alter_table("proposal") as batch:
        for column in PROPOSAL_SORT_COLUMNS:
            batch.create_index(f"ix_proposal_{column}", [column, "id"])
    with op.batch_alter_table("customer") as batch:
        batch.create_index("ix_customer_name", ["name"])


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_index("ix_customer_name")
    with op.batch_alter_table("proposal") as batch:
        for column in PROPOSAL_SORT_COLUMNS:
            batch.drop_index(f"ix_proposal_{column}")
