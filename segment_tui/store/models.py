"""The tables of the store (contract section 7), as typed SQLAlchemy 2 models.

Money is `Money` and comes back as `Decimal`; dates are `Day` and come back as `date`.
Timestamps are stored in UTC. Table and column names are part of the contract:
operators query them with their own SQL tools, so rename nothing.
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

CENT = Decimal("0.01")


def money_from_cents(cents: int) -> Decimal:
    """The amount that a whole number of cents stands for (SQLite's storage form)."""
    return Decimal(cents).scaleb(-2)


def cents_from_money(value: Decimal) -> int:
    """An amount as whole cents, rounded to the cent (SQLite's storage form)."""
    return int(Decimal(value).quantize(CENT).scaleb(2))


class Money(TypeDecorator[Decimal]):
    """An amount of money, exact to the cent.

    PostgreSQL stores it as NUMERIC(18, 2). SQLite has no exact decimal type (its
    NUMERIC is a float), so there the column holds whole cents as an INTEGER, which
    sums exactly and fast; the value read back is the same `Decimal` on both.
    """

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(18, 2))

    def process_bind_param(
        self, value: Decimal | None, dialect: Dialect
    ) -> Decimal | int | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return cents_from_money(value)
        return value

    def process_result_value(
        self, value: object | None, dialect: Dialect
    ) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return money_from_cents(int(value))  # type: ignore[call-overload]
        return Decimal(value)  # type: ignore[arg-type]


# SQLite's date() reads a whole Julian day number as that day: date(2451545) is
# 2000-01-01. The proleptic ordinal of date(2000, 1, 1) is 730120.
JULIAN_DAY_OFFSET = 2451545 - 730120


class Day(TypeDecorator[date]):
    """A calendar date.

    PostgreSQL stores it as DATE. SQLite has no date type, and the metrics subtract
    dates by the million, so there the column holds the Julian day number as an
    INTEGER: differences are plain subtraction, and `date(column)` in SQLite shows
    the ISO date. The value read back is the same `date` on both.
    """

    impl = Date
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Date())

    def process_bind_param(self, value: date | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.toordinal() + JULIAN_DAY_OFFSET

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        if value is None or dialect.name != "sqlite":
            return value  # type: ignore[no-any-return]
        return date.fromordinal(int(value) - JULIAN_DAY_OFFSET)


def _only_on(dialect: str, index: Index) -> Index:
    """`index` as made on one kind of database only (see `include_object`)."""
    index.info["dialect"] = dialect
    return index.ddl_if(dialect=dialect)


def _sort_index(*columns: str) -> tuple[Index, Index]:
    """The proposal list's index for one sort: these columns, then the id.

    SQLite ends every index with the rowid, which the id is, so there the index
    leaves the id out: the same order in smaller entries, and a large proposal
    run, which builds the four sort indexes anew, builds them a sixth faster
    (schema version 0009). PostgreSQL reads the ties in order only with the id in
    the index; its name says so.
    """
    name = f"ix_proposal_{columns[0]}"
    return (
        _only_on("sqlite", Index(name, *columns)),
        _only_on("postgresql", Index(f"{name}_id", *columns, "id")),
    )


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for comparing a store on `dialect` with the models.

    It leaves out the models' indexes that are made on another kind of database
    only; what the store itself holds is always compared.
    """

    def include(
        item: object, _name: str | None, type_: str, reflected: bool, _other: object
    ) -> bool:
        if reflected or type_ != "index" or not isinstance(item, Index):
            return True
        return bool(item.info.get("dialect", dialect) == dialect)

    return include


class Base(DeclarativeBase):
    pass


class DunningCondition(Base):
    """A dunning condition (Reminder Terms Code) a customer can carry."""

    __tablename__ = "dunning_condition"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class Customer(Base):
    """A customer, with its current dunning condition, segment and flags."""

    __tablename__ = "customer"
    __table_args__ = (Index("ix_customer_name", "name"),)

    customer_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    dunning_condition: Mapped[str | None] = mapped_column(
        String(20), ForeignKey("dunning_condition.code"), nullable=True
    )
    segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    segmentation_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_arrangement: Mapped[bool] = mapped_column(Boolean, default=False)
    debt_restructuring: Mapped[bool] = mapped_column(Boolean, default=False)
    handed_over: Mapped[bool] = mapped_column(Boolean, default=False)


class LedgerEntry(Base):
    """A customer ledger entry; only amounts > 0 count as invoices.

    `entry_key` identifies the entry within its customer so that a re-import finds it:
    the document number where the file has one, else the content and the occurrence of
    identical rows in the file.
    """

    __tablename__ = "ledger_entry"
    # The unique index starts with the customer, so it also finds a customer's
    # entries: an index on the customer alone (dropped in schema version 0005)
    # only made every import write two.
    __table_args__ = (
        UniqueConstraint("customer_no", "entry_key", name="uq_ledger_entry_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_no: Mapped[str] = mapped_column(
        String(40), ForeignKey("customer.customer_no")
    )
    entry_key: Mapped[str] = mapped_column(String(120))
    document_no: Mapped[str | None] = mapped_column(String(40), nullable=True)
    posting_date: Mapped[date] = mapped_column(Day())
    due_date: Mapped[date] = mapped_column(Day())
    amount: Mapped[Decimal] = mapped_column(Money())
    remaining_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    closed_at: Mapped[date | None] = mapped_column(Day(), nullable=True)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)


class Reminder(Base):
    """A reminder issued to a customer, at a reminder level."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("customer_no", "issued_on", "level", name="uq_reminder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_no: Mapped[str] = mapped_column(
        String(40), ForeignKey("customer.customer_no"), index=True
    )
    issued_on: Mapped[date] = mapped_column(Day())
    level: Mapped[int] = mapped_column(Integer)


class SetupVersion(Base):
    """A stored setup; the newest is the current one, proposal runs name theirs."""

    __tablename__ = "setup_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(400), default="")
    toml: Mapped[str] = mapped_column(Text)
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    """A setup tried out by `propose --setup FILE`: recorded, never the current one."""


class ProposalRun(Base):
    """One run of "create proposals": when, by whom, on what setup, with what result."""

    __tablename__ = "proposal_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference_date: Mapped[date] = mapped_column(Day())
    setup_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("setup_version.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    customer_count: Mapped[int] = mapped_column(Integer, default=0)
    proposal_count: Mapped[int] = mapped_column(Integer, default=0)
    excluded_count: Mapped[int] = mapped_column(Integer, default=0)
    unmatched_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Proposal(Base):
    """An open proposal: set this customer's dunning condition to the proposed one.

    Only open proposals are kept: a deleted or applied proposal is removed, and an
    applied one leaves a `segment_change` row. `overdue_amount` and `late_ratio` are
    copied from the metrics so that the list can sort on them.
    """

    __tablename__ = "proposal"
    # The list sorts by these columns, then by id (schema version 0002). Every
    # open proposal belongs to the newest run: an index on the run would never
    # narrow a search (dropped in schema version 0004). The proposed condition's
    # index also serves the apply dialog's count of the proposals by their change
    # of condition; the list's ties of that sort go by the current condition
    # (schema version 0008, which merged the two indexes of that column).
    __table_args__ = (
        *_sort_index("segment"),
        *_sort_index("proposed_condition", "current_condition"),
        *_sort_index("overdue_amount"),
        *_sort_index("late_ratio"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("proposal_run.id"))
    customer_no: Mapped[str] = mapped_column(
        String(40), ForeignKey("customer.customer_no"), unique=True
    )
    current_condition: Mapped[str | None] = mapped_column(String(20), nullable=True)
    segment: Mapped[str] = mapped_column(String(20))
    proposed_condition: Mapped[str] = mapped_column(String(20))
    reason: Mapped[Any] = mapped_column(JSON)
    overdue_amount: Mapped[Decimal] = mapped_column(Money())
    late_ratio: Mapped[Decimal] = mapped_column(Numeric(9, 4))


class ApplyBatch(Base):
    """One apply: the changes it made share its id, so it can be reported or undone."""

    __tablename__ = "apply_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str] = mapped_column(String(100))
    applied_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)


class SegmentChange(Base):
    """The history: one row per applied change of a customer's dunning condition.

    Rows are only ever added: triggers in the database refuse UPDATE and DELETE.
    """

    __tablename__ = "segment_change"
    __table_args__ = (Index("ix_segment_change_customer", "customer_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("apply_batch.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("proposal_run.id"))
    customer_no: Mapped[str] = mapped_column(
        String(40), ForeignKey("customer.customer_no")
    )
    from_condition: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_condition: Mapped[str] = mapped_column(String(20))
    from_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    segment: Mapped[str] = mapped_column(String(20))
    reason: Mapped[Any] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str] = mapped_column(String(100))
