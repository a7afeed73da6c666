"""Schema version 0005: the ledger loses its index on the customer alone.

The unique index on (customer_no, entry_key) starts with the customer, so it finds a
customer's entries as well as an index on the customer alone, and every query that
used that one uses it instead; an import wrote both for every entry.
"""

from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    op.drop_index("ix_ledger_entry_customer_no", table_name="ledger_entry")


def downgrade() -> None:
    op.create_index("ix_ledger_entry_customer_no", "ledger_entry", ["customer_no"])
