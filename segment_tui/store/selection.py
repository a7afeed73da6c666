"""The proposals an apply or a delete acts on, held in the database, not in Python.

An operator may apply every open proposal, or a hundred thousand marked ones, at
once. Rather than read them into Python and write them back one statement per
chunk, the selection is a condition in SQL, and each step of the operation is one
statement under it: the stale ones are found by a join, the history rows are copied
from the proposals with `INSERT ... SELECT`, the customers change in one
`UPDATE ... FROM`, and the proposals go in one `DELETE`. Only what the caller
reports comes back: how many changed (their customer numbers when asked), and the
few proposals skipped.

A selection has two parts, either of which may be empty:

- **named** proposals, by id or by customer number, held in a temporary table;
- **described** ones: every open proposal that one of some list filters shows
  (the empty filter shows every one), except some ids, held in a second temporary
  table with the stale proposals set aside. "Mark all" on the proposals page is
  such a description, so selecting a million proposals costs nothing, and every
  proposal with no exception needs no table at all: the statements run without a
  WHERE clause.

The temporary tables live in the operation's transaction (PostgreSQL drops them at
its end; on SQLite `SelectedProposals` drops them), are private to its connection,
and vanish with a rollback, so a failed operation leaves nothing behind.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, Delete, Select, Update

from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.store.models import Customer, Proposal, SegmentChange
from segment_tui.store.proposal_source import any_filter, filter_condition
from segment_tui.store.proposal_writer import create_indexes, drop_own_indexes

_temporary = MetaData()


def _temporary_table(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        _temporary,
        *columns,
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


SELECTED = _temporary_table(
    "selected_proposal", Column("id", Integer, primary_key=True, autoincrement=False)
)
"""The open proposals the operation acts on."""

WANTED_CUSTOMERS = _temporary_table(
    "wanted_customer", Column("customer_no", String(40), primary_key=True)
)
"""The customer numbers the operator named, found or not."""

SET_ASIDE = _temporary_table(
    "set_aside_proposal", Column("id", Integer, primary_key=True, autoincrement=False)
)
"""Proposals the filters of a described selection show that it leaves out: the
exceptions it was given, and the stale proposals an apply set aside."""

_TABLES = (SELECTED, WANTED_CUSTOMERS, SET_ASIDE)

_Statement = TypeVar("_Statement", Select[Any], Update, Delete)


class SelectedProposals:
    """The selected open proposals of one operation, as a condition in SQL.

    Made by `selected_proposals`; every method runs statements on the operation's
    connection, within its transaction.
    """

    def __init__(
        self,
        connection: Connection,
        customer_nos: Sequence[str],
        proposal_ids: Sequence[int],
        filters: Iterable[str],
        except_ids: Sequence[int],
    ) -> None:
        self.connection = connection
        self.customer_nos = list(dict.fromkeys(customer_nos))
        self.proposal_ids = list(dict.fromkeys(proposal_ids))
        texts = {text.strip() for text in filters}
        self.filters = ("",) if "" in texts else tuple(sorted(texts))
        """The described part: the filters whose proposals are selected."""
        self._named = bool(self.customer_nos or self.proposal_ids)
        self._set_aside = False
        self._closed_ids: list[int] = []
        self._made: list[Table] = []
        if connection.dialect.name == "sqlite":
            # Left by an operation that committed without dropping them.
            self.drop(leftovers=True)
        if self._named:
            self._name()
        if self.filters and except_ids:
            self._leave_out(except_ids)

    def _name(self) -> None:
        """Put the named proposals in `SELECTED`: by id, then by customer."""
        connection = self.connection
        p = Proposal.__table__.c
        self._make(SELECTED)
        if self.proposal_ids:
            self._fill(SELECTED, "id", self.proposal_ids)
            closed = set(
                connection.execute(
                    select(SELECTED.c.id).where(SELECTED.c.id.not_in(select(p.id)))
                ).scalars()
            )
            if closed:
                self._closed_ids = [i for i in self.proposal_ids if i in closed]
                self._unselect(self._closed_ids)
        if self.customer_nos:
            self._make(WANTED_CUSTOMERS)
            self._fill(WANTED_CUSTOMERS, "customer_no", self.customer_nos)
            wanted = WANTED_CUSTOMERS.c.customer_no
            # A proposal named by its id and by its customer is one proposal:
            # applied twice, it would write two history rows for one change.
            connection.execute(
                insert(SELECTED).from_select(
                    ["id"],
                    select(p.id)
                    .join_from(Proposal, WANTED_CUSTOMERS, p.customer_no == wanted)
                    .where(p.id.not_in(select(SELECTED.c.id))),
                )
            )

    def _leave_out(self, ids: Sequence[int]) -> None:
        """Take these proposals out of the described part (once each)."""
        if not self._set_aside:
            self._make(SET_ASIDE)
            self._set_aside = True
        self._fill(SET_ASIDE, "id", list(dict.fromkeys(ids)), skip_known=True)

    def _unselect(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.connection.execute(delete(SELECTED).where(SELECTED.c.id.in_(chunk)))

    def _fill(
        self,
        table: Table,
        column: str,
        keys: Sequence[Any],
        *,
        skip_known: bool = False,
    ) -> None:
        """Write the keys in one statement: a JSON array (SQLite) or an array
        (PostgreSQL) unpacked by the database, instead of a statement per key.

        With `skip_known`, keys that the table holds already are left out.
        """
        target = table.c[column]
        if self.connection.dialect.name == "sqlite":
            values = func.json_each(literal(json.dumps(list(keys)))).table_valued(
                "value"
            )
            rows = select(values.c.value)
        else:
            array = literal(list(keys), ARRAY(target.type))
            rows = select(func.unnest(array))
        if skip_known:
            unpacked = rows.subquery("unpacked")
            value = next(iter(unpacked.c))
            rows = select(value).where(value.not_in(select(target)))
        self.connection.execute(insert(table).from_select([column], rows))

    def condition(self) -> ColumnElement[bool] | None:
        """The condition "the proposal is selected"; None when every one is.

        The named part is written as `id IN (SELECT ...)` rather than as a join:
        SQLite then walks the selection and finds each proposal by its key, where
        for a join it may choose to walk the whole proposal table (it has no
        statistics of the temporary table), which on a million open proposals
        costs several times as much.
        """
        p = Proposal.__table__.c
        parts: list[ColumnElement[bool]] = []
        if self._named:
            parts.append(p.id.in_(select(SELECTED.c.id)))
        if self.filters:
            described = any_filter(self.filters, p.customer_no, _name_of(), p.segment)
            if self._set_aside:
                kept = p.id.not_in(select(SET_ASIDE.c.id))
                described = kept if described is None else and_(described, kept)
            if described is None:
                return None
            parts.append(described)
        if not parts:
            return false()
        return parts[0] if len(parts) == 1 else or_(*parts)

    def _where(self, statement: _Statement) -> _Statement:
        """`statement` restricted to the selected proposals."""
        condition = self.condition()
        return statement if condition is None else statement.where(condition)

    def unknown_customers(self) -> list[str]:
        """The named customer numbers that no customer has, in the order named."""
        if not self.customer_nos:
            return []
        cu = Customer.__table__.c
        wanted = WANTED_CUSTOMERS.c.customer_no
        unknown = set(
            self.connection.execute(
                select(wanted).where(wanted.not_in(select(cu.customer_no)))
            ).scalars()
        )
        return [no for no in self.customer_nos if no in unknown]

    def not_open(self) -> tuple[list[str], list[int]]:
        """The named customers without an open proposal, and the named proposal ids
        that are no longer open, each in the order named."""
        customers: list[str] = []
        if self.customer_nos:
            p = Proposal.__table__.c
            wanted = WANTED_CUSTOMERS.c.customer_no
            missing = set(
                self.connection.execute(
                    select(wanted).where(wanted.not_in(select(p.customer_no)))
                ).scalars()
            )
            customers = [no for no in self.customer_nos if no in missing]
        return customers, self._closed_ids

    def set_aside_stale(self, exclude: Sequence[str]) -> list[Any]:
        """Take out the proposals that may no longer be applied, and return them.

        A proposal is stale when its customer's dunning condition is no longer the
        one it was made against, or the customer now has a flag of `exclude`. The
        stale proposals come with their `id`, `customer_no` and
        `current_condition`, the customer's `dunning_condition` and its flags, in
        customer number order.
        """
        p = Proposal.__table__.c
        cu = Customer.__table__.c
        query = self._where(
            select(
                p.id,
                p.customer_no,
                p.current_condition,
                cu.dunning_condition,
                *(cu[flag] for flag in FLAG_NAMES),
            ).join_from(Proposal, Customer, cu.customer_no == p.customer_no)
        )
        stale_rows = list(
            self.connection.execute(
                query.where(_is_stale(exclude)).order_by(p.customer_no)
            )
        )
        if stale_rows:
            ids = [row.id for row in stale_rows]
            if self._named:
                self._unselect(ids)
            if self.filters:
                self._leave_out(ids)
        return stale_rows

    def customer_numbers(self) -> list[str]:
        """The customer numbers of the selected proposals, in code point order."""
        p = Proposal.__table__.c
        # Sorted here: the same order on every database, whatever its collation,
        # and in proposal id order the numbers come nearly sorted already.
        query = self._where(select(p.customer_no))
        return sorted(self.connection.execute(query).scalars())

    def transitions(self) -> Counter[tuple[str | None, str]]:
        """How many selected proposals go from which condition to which."""
        p = Proposal.__table__.c
        query = self._where(
            select(p.current_condition, p.proposed_condition, func.count())
        ).group_by(p.proposed_condition, p.current_condition)  # as indexed
        counts: Counter[tuple[str | None, str]] = Counter()
        for current, proposed, number in self.connection.execute(query):
            counts[(current, proposed)] += int(number)
        return counts

    def count_hidden(self, filter_text: str) -> int:
        """How many selected proposals the list does not show under `filter_text`."""
        if not filter_text.strip():
            return 0
        p = Proposal.__table__.c
        shown = filter_condition(filter_text, p.customer_no, _name_of(), p.segment)
        query = self._where(select(func.count()).select_from(Proposal.__table__))
        return int(self.connection.execute(query.where(not_(shown))).scalar_one())

    def write_history(
        self,
        batch_id: int,
        applied_at: datetime,
        operator: str,
        exclude: Sequence[str],
    ) -> int:
        """One history row per selected proposal that is not stale (see
        `set_aside_stale`), copied from it and its customer; how many were written.

        Fewer than `count()` means that some are stale: those must then be set
        aside before the customers change. Testing here costs nothing (the
        customer is read anyway), which spares a pass over the selection when,
        as usually, none is.
        """
        p = Proposal.__table__.c
        cu = Customer.__table__.c
        changes = SegmentChange.__table__.c
        rows = (
            select(
                literal(batch_id, Integer()),
                p.run_id,
                p.customer_no,
                cu.dunning_condition,
                p.proposed_condition,
                cu.segment,
                p.segment,
                p.reason,
                literal(applied_at, changes.applied_at.type),
                literal(operator, changes.applied_by.type),
            )
            .join_from(Proposal, Customer, cu.customer_no == p.customer_no)
            .where(not_(_is_stale(exclude)))
            .order_by(p.customer_no)
        )
        rows = self._where(rows)
        columns = [
            "batch_id",
            "run_id",
            "customer_no",
            "from_condition",
            "to_condition",
            "from_segment",
            "segment",
            "reason",
            "applied_at",
            "applied_by",
        ]
        # Counted by id rather than taken from the row count, which not every
        # driver reports for INSERT ... SELECT: writers are serialised, so the rows
        # written here are those past the newest before.
        newest = select(func.coalesce(func.max(changes.id), 0))
        before = int(self.connection.execute(newest).scalar_one())
        self.connection.execute(insert(SegmentChange).from_select(columns, rows))
        written = select(func.count()).where(changes.id > before)
        return int(self.connection.execute(written).scalar_one())

    def update_customers(self) -> None:
        """Each selected proposal's customer gets its condition and segment."""
        p = Proposal.__table__.c
        chosen = self._where(
            select(p.customer_no, p.proposed_condition, p.segment)
        ).subquery("chosen")
        self.connection.execute(
            update(Customer)
            .where(Customer.customer_no == chosen.c.customer_no)
            .values(
                dunning_condition=chosen.c.proposed_condition, segment=chosen.c.segment
            )
        )

    def delete_proposals(self, *, applied: bool = False) -> int:
        """Delete the selected proposals; how many were deleted.

        With `applied` (their history rows are written), SQLite is let keep the
        old content of the pages the proposals leave empty, where it would
        otherwise overwrite every one with zeros (some builds do by default): the
        history holds a copy of each proposal and the ledger every amount, so
        zeroing them hides nothing, and it doubled what an apply of every
        proposal writes.
        """
        if applied and self.connection.dialect.name == "sqlite":
            with _freed_pages_unzeroed(self.connection):
                return self._delete()
        return self._delete()

    def _delete(self) -> int:
        condition = self.condition()
        if condition is None:
            # Every open proposal: without a WHERE the database deletes in table
            # order, sparing a search per row (SQLite, when it need not check
            # references, empties the table at once).
            return self.connection.execute(delete(Proposal)).rowcount or 0
        selected = self.count()
        open_count = int(
            self.connection.execute(
                select(func.count()).select_from(Proposal)
            ).scalar_one()
        )
        if selected == open_count:
            return self.connection.execute(delete(Proposal)).rowcount or 0
        # Limitation: taking 100,000 of a million open proposals out of the list
        # and its indexes costs about twice a bare UPDATE of those customers.
        statement = delete(Proposal).where(condition)
        if self.connection.dialect.name != "sqlite" or selected * 2 < open_count:
            return self.connection.execute(statement).rowcount or 0
        # Most of them: dropping the list's sort indexes and making them again for
        # the proposals left costs less than taking each row out of each index.
        # Readers keep the state before this transaction until it commits.
        indexes = drop_own_indexes(self.connection)
        deleted = self.connection.execute(statement).rowcount or 0
        create_indexes(self.connection, indexes)
        return deleted

    def count(self) -> int:
        """How many open proposals are selected."""
        query = self._where(select(func.count()).select_from(Proposal))
        return int(self.connection.execute(query).scalar_one())

    def _make(self, table: Table) -> None:
        table.create(self.connection)
        self._made.append(table)

    def drop(self, *, leftovers: bool = False) -> None:
        """Drop the temporary tables made here; with `leftovers`, any of the
        module's that this connection still has."""
        for table in _TABLES if leftovers else self._made:
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
        self._made = []


@contextmanager
def _freed_pages_unzeroed(connection: Connection) -> Iterator[None]:
    """SQLite's secure delete in its "fast" mode for the block: deleted content is
    still zeroed on pages that are written anyway, but no page is written only to
    zero it."""
    previous = int(connection.exec_driver_sql("PRAGMA secure_delete").scalar_one())
    connection.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA secure_delete = {previous}")


def _is_stale(exclude: Sequence[str]) -> ColumnElement[bool]:
    """Whether a proposal (joined with its customer) may no longer be applied: the
    customer's condition is no longer the one it was made against, or the customer
    has a flag of `exclude`."""
    p = Proposal.__table__.c
    cu = Customer.__table__.c
    changed = p.current_condition.is_distinct_from(cu.dunning_condition)
    return or_(changed, *(cu[flag].is_(True) for flag in exclude))


def _name_of() -> ColumnElement[Any]:
    """The name of the proposal's customer, for a filter in a statement on proposals.

    A subquery on its own alias of the customer table, so that it stays tied to the
    proposal in statements that join customers too.
    """
    named = Customer.__table__.alias("named_customer")
    return (
        select(named.c.name)
        .where(named.c.customer_no == Proposal.__table__.c.customer_no)
        .correlate_except(named)
        .scalar_subquery()
    )


@contextmanager
def selected_proposals(
    connection: Connection,
    *,
    everything: bool = False,
    customer_nos: Sequence[str] = (),
    proposal_ids: Sequence[int] = (),
    filters: Iterable[str] = (),
    except_ids: Sequence[int] = (),
) -> Iterator[SelectedProposals]:
    """The open proposals selected: all of them; by customer number and by id;
    and those that any of `filters` shows, but for `except_ids`.

    The temporary tables are dropped when the block ends; when it raises, the
    rollback that follows drops them.
    """
    described = ("",) if everything else tuple(filters)
    chosen = SelectedProposals(
        connection, customer_nos, proposal_ids, described, except_ids
    )
    yield chosen
    if connection.dialect.name == "sqlite":
        chosen.drop()
