"""Schema version 0004: the proposal table loses its index on the run.

Every open proposal belongs to the newest run, so an index on the run never narrows
a search, while a proposal run of a million customers builds it anew each time.
"""

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    op.drop_index("ix_proposal_run", table_name="proposal")


def downgrade() -> None:
    op.create_index("ix_proposal_run", "proposal", ["run_id"])
