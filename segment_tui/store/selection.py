"""The proposals an apply or a delete acts on, held in the database, not in Python.

An operator may apply every open proposal, or a hundred thousand marked ones, at
once. Rather than read them into Python and write them back one statement per
chunk, the selection goes into a temporary table of proposal ids, and each step of
the operation is one statement over it: the stale ones are found by a join, the
history rows are copied from the proposals with `INSERT ... SELECT`, the customers
change in one `UPDATE ... FROM`, and the proposals go in one `DELETE`. Only what
the caller reports comes back: the customer numbers changed, and the few proposals
skipped.

The temporary tables live in the operation's transaction (PostgreSQL drops them at
its end; on SQLite `SelectedProposals` drops them), are private to its connection,
and vanish with a rollback, so a failed operation leaves nothing behind.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from segment_tui.rules.conditions import FLAG_NAMES
from segment_tui.store.models import Customer, Proposal, SegmentChange
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

_TABLES = (SELECTED, WANTED_CUSTOMERS)


class SelectedProposals:
    """The selected open proposals of one operation, in a temporary table.

    Made by `selected_proposals`; every method runs statements on the operation's
    connection, within its transaction.
    """

    def __init__(
        self,
        connection: Connection,
        everything: bool,
        customer_nos: Sequence[str],
        proposal_ids: Sequence[int],
    ) -> None:
        self.connection = connection
        self.customer_nos = list(dict.fromkeys(customer_nos))
        self.proposal_ids = list(dict.fromkeys(proposal_ids))
        if connection.dialect.name == "sqlite":
            self.drop()  # left by an operation that committed without dropping them
        for table in _TABLES:
            table.create(connection)
        p = Proposal.__table__.c
        self._closed_ids: list[int] = []
        if everything:
            connection.execute(insert(SELECTED).from_select(["id"], select(p.id)))
            return
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

    def _unselect(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.connection.execute(delete(SELECTED).where(SELECTED.c.id.in_(chunk)))

    def _fill(self, table: Table, column: str, keys: Sequence[Any]) -> None:
        """Write the named keys in one statement: a JSON array (SQLite) or an array
        (PostgreSQL) unpacked by the database, instead of a statement per key."""
        target = table.c[column]
        if self.connection.dialect.name == "sqlite":
            values = func.json_each(literal(json.dumps(list(keys)))).table_valued(
                "value"
            )
            rows = select(values.c.value)
        else:
            array = literal(list(keys), ARRAY(target.type))
            rows = select(func.unnest(array))
        self.connection.execute(insert(table).from_select([column], rows))

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

    def set_aside_stale(self, exclude: Sequence[str]) -> tuple[list[str], list[Any]]:
        """Take out the proposals that may no longer be applied; who is left, and
        the stale ones.

        A proposal is stale when its customer's dunning condition is no longer the
        one it was made against, or the customer now has a flag of `exclude`. The
        first list holds the customer numbers of the proposals left, the second the
        stale proposals with their `id`, `customer_no` and `current_condition`, the
        customer's `dunning_condition` and its flags; both in customer number order.
        """
        p = Proposal.__table__.c
        cu = Customer.__table__.c
        changed = p.current_condition.is_distinct_from(cu.dunning_condition)
        is_stale = or_(changed, *(cu[flag].is_(True) for flag in exclude))
        joined = (
            select(p.id)
            .join_from(Proposal, Customer, cu.customer_no == p.customer_no)
            .where(_selected())
        )
        stale_rows = list(
            self.connection.execute(
                joined.add_columns(
                    p.customer_no,
                    p.current_condition,
                    cu.dunning_condition,
                    *(cu[flag] for flag in FLAG_NAMES),
                )
                .where(is_stale)
                .order_by(p.customer_no)
            )
        )
        if stale_rows:
            self._unselect([row.id for row in stale_rows])
        # In proposal id order, which is nearly customer number order: sorting here
        # costs less than a sort in the database.
        left = self.connection.execute(
            joined.with_only_columns(p.customer_no)
        ).scalars()
        return sorted(left), stale_rows

    def write_history(self, batch_id: int, applied_at: datetime, operator: str) -> None:
        """One history row per selected proposal, copied from it and its customer."""
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
            .where(_selected())
            .order_by(p.customer_no)
        )
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
        self.connection.execute(insert(SegmentChange).from_select(columns, rows))

    def update_customers(self) -> None:
        """Each selected proposal's customer gets its condition and segment."""
        p = Proposal.__table__.c
        chosen = (
            select(p.customer_no, p.proposed_condition, p.segment)
            .where(_selected())
            .subquery("chosen")
        )
        self.connection.execute(
            update(Customer)
            .where(Customer.customer_no == chosen.c.customer_no)
            .values(
                dunning_condition=chosen.c.proposed_condition, segment=chosen.c.segment
            )
        )

    def delete_proposals(self) -> int:
        """Delete the selected proposals; how many were deleted."""
        selected = self.count()
        open_count = int(
            self.connection.execute(
                select(func.count()).select_from(Proposal)
            ).scalar_one()
        )
        if selected == open_count:
            # Every open proposal (the selection holds only open ones): without a
            # WHERE the database deletes in table order, sparing a search per row.
            result = self.connection.execute(delete(Proposal))
            return result.rowcount or 0
        # Limitation: taking 100,000 of a million open proposals out of the list
        # and its five indexes costs about twice a bare UPDATE of those customers.
        statement = delete(Proposal).where(_selected())
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
        return int(
            self.connection.execute(
                select(func.count()).select_from(SELECTED)
            ).scalar_one()
        )

    def drop(self) -> None:
        for table in _TABLES:
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


def _selected() -> Any:
    """The condition "the proposal is selected".

    Written as `id IN (SELECT ...)` rather than as a join: SQLite then walks the
    selection and finds each proposal by its key, where for a join it may choose to
    walk the whole proposal table (it has no statistics of the temporary table),
    which on a million open proposals costs several times as much.
    """
    return Proposal.__table__.c.id.in_(select(SELECTED.c.id))


@contextmanager
def selected_proposals(
    connection: Connection,
    *,
    everything: bool = False,
    customer_nos: Sequence[str] = (),
    proposal_ids: Sequence[int] = (),
) -> Iterator[SelectedProposals]:
    """The open proposals selected: all of them, or by customer number and by id.

    The temporary tables are dropped when the block ends; when it raises, the
    rollback that follows drops them.
    """
    chosen = SelectedProposals(connection, everything, customer_nos, proposal_ids)
    yield chosen
    if connection.dialect.name == "sqlite":
        chosen.drop()
