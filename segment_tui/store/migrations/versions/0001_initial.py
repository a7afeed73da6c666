"""Schema version 0001: the tables of the first release (contract section 7).

Written out in full rather than derived from the models, so that this version stays
what it was when the models move on. SQLite has no exact decimal and no date type:
there money is whole cents and a date its Julian day number, both in an INTEGER;
elsewhere they are NUMERIC(18, 2) and DATE.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def money() -> sa.types.TypeEngine[Any]:
    return sa.Numeric(18, 2).with_variant(sa.Integer(), "sqlite")


def day() -> sa.types.TypeEngine[Any]:
    return sa.Date().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dunning_condition",
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("description", sa.String(200), nullable=False),
    )
    op.create_table(
        "customer",
        sa.Column("customer_no", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "dunning_condition",
            sa.String(20),
            sa.ForeignKey("dunning_condition.code"),
            nullable=True,
        ),
        sa.Column("segment", sa.String(20), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("segmentation_blocked", sa.Boolean(), nullable=False),
        sa.Column("payment_arrangement", sa.Boolean(), nullable=False),
        sa.Column("debt_restructuring", sa.Boolean(), nullable=False),
        sa.Column("handed_over", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_no",
            sa.String(40),
            sa.ForeignKey("customer.customer_no"),
            nullable=False,
        ),
        sa.Column("entry_key", sa.String(120), nullable=False),
        sa.Column("document_no", sa.String(40), nullable=True),
        sa.Column("posting_date", day(), nullable=False),
        sa.Column("due_date", day(), nullable=False),
        sa.Column("amount", money(), nullable=False),
        sa.Column("remaining_amount", money(), nullable=True),
        sa.Column("closed_at", day(), nullable=True),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("customer_no", "entry_key", name="uq_ledger_entry_key"),
    )
    op.create_index("ix_ledger_entry_customer_no", "ledger_entry", ["customer_no"])
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_no",
            sa.String(40),
            sa.ForeignKey("customer.customer_no"),
            nullable=False,
        ),
        sa.Column("issued_on", day(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.UniqueConstraint("customer_no", "issued_on", "level", name="uq_reminder"),
    )
    op.create_index("ix_reminder_customer_no", "reminder", ["customer_no"])
    op.create_table(
        "setup_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("trial", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "proposal_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference_date", day(), nullable=False),
        sa.Column(
            "setup_version_id",
            sa.Integer(),
            sa.ForeignKey("setup_version.id"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("customer_count", sa.Integer(), nullable=False),
        sa.Column("proposal_count", sa.Integer(), nullable=False),
        sa.Column("excluded_count", sa.Integer(), nullable=False),
        sa.Column("unmatched_count", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("proposal_run.id"), nullable=False
        ),
        sa.Column(
            "customer_no",
            sa.String(40),
            sa.ForeignKey("customer.customer_no"),
            nullable=False,
            unique=True,
        ),
        sa.Column("current_condition", sa.String(20), nullable=True),
        sa.Column("segment", sa.String(20), nullable=False),
        sa.Column("proposed_condition", sa.String(20), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("overdue_amount", money(), nullable=False),
        sa.Column("late_ratio", sa.Numeric(9, 4), nullable=False),
    )
    op.create_index("ix_proposal_run", "proposal", ["run_id"])
    op.create_table(
        "apply_batch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(100), nullable=False),
        sa.Column("applied_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "segment_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "batch_id", sa.Integer(), sa.ForeignKey("apply_batch.id"), nullable=False
        ),
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("proposal_run.id"), nullable=False
        ),
        sa.Column(
            "customer_no",
            sa.String(40),
            sa.ForeignKey("customer.customer_no"),
            nullable=False,
        ),
        sa.Column("from_condition", sa.String(20), nullable=True),
        sa.Column("to_condition", sa.String(20), nullable=False),
        sa.Column("from_segment", sa.String(20), nullable=True),
        sa.Column("segment", sa.String(20), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_segment_change_customer", "segment_change", ["customer_no"])


def downgrade() -> None:
    for table in (
        "segment_change",
        "apply_batch",
        "proposal",
        "proposal_run",
        "setup_version",
        "reminder",
        "ledger_entry",
        "customer",
        "dunning_condition",
    ):
        op.drop_table(table)
