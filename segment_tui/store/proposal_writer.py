"""Writing a proposal run's proposals: up to a million rows in one transaction.

A run replaces the open proposals as a whole. Most of them are usually what they
were: the customers whose behaviour or condition changed since the last run are
few. On a SQLite store in write-ahead-log mode the writer therefore reads the open
proposals beside the run, in customer number order, through a connection of its
own (which sees them as the run found them), and writes only the difference: a
proposal equal to the open one in every column stays where it is, with its id,
and only moves to the new run; the others are deleted or inserted.

The list's four sort indexes (schema versions 0002, 0008, 0009) make every insert
and delete a write into four more b-trees, in scattered places. When the
difference grows large (a first run, a new setup) the writer drops the proposal
table's own indexes, goes on in the bare table, and creates the indexes again
from their stored definitions at the end, which sorts each index once: measured
five times faster at 800,000 proposals. It may do so only while its connection
runs no other statement, so only when the customers' values are read by another
process (`may_drop_indexes`).
This happens inside the run's transaction, so readers never see the table
without its indexes: in write-ahead-log mode they keep reading the state before
the run until it commits. A store without the log is rewritten whole, its indexes
dropped before the run reads anything.

On PostgreSQL dropping an index would lock out every reader until the commit, so
there the indexes stay, and the rows are replaced through SQLAlchemy's batched
inserts.

Rows go to SQLite in the columns' storage form (`models.cents_from_money` for the
amount, the column type's own conversion for the ratio), which skips SQLAlchemy's
per-row parameter handling and lets a new row be compared with a stored one as is.
"""

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text, update

from segment_tui.jsonout import RawJSON
from segment_tui.store.engine import busy_timeout
from segment_tui.store.models import Proposal, cents_from_money
from segment_tui.store.sqlite_values import snapshot_database

BATCH = 10_000

_COLUMNS = (
    "run_id",
    "customer_no",
    "current_condition",
    "segment",
    "proposed_condition",
    "reason",
    "overdue_amount",
    "late_ratio",
)

_OPEN_PROPOSALS = (
    "SELECT ? AS run_id, customer_no, current_condition, segment, "
    "proposed_condition, reason, overdue_amount, late_ratio FROM proposal "
    "ORDER BY customer_no"
)
"""The open proposals in the insert's column order, as if made by the new run (the
one parameter), so that an unchanged proposal equals its new row as a whole."""

_DELETE = "DELETE FROM proposal WHERE customer_no = ?"


class ProposalWriter:
    """Replaces the open proposals with those of run `run_id`.

    `begin` first, then `add` each proposal in customer number order, then
    `finish`; all inside one write transaction, which makes the replacement all or
    nothing. `close` (also after a failure) lets go of what `begin` opened.
    """

    def __init__(self, connection: Connection, run_id: int) -> None:
        self.connection = connection
        self.run_id = run_id
        self.sqlite = connection.dialect.name == "sqlite"
        self.count = 0
        self.kept = 0
        self._rows: list[Any] = []
        self._deletes: list[tuple[str]] = []
        self._indexes: list[str] | None = None
        self._may_drop_indexes = False
        self._rewrite_from = 0
        self._changes = 0
        self._open: _OpenProposals | None = None
        self._last_customer = ""
        table = Proposal.__table__
        if self.sqlite:
            compiled = insert(Proposal).compile(
                dialect=connection.dialect, column_keys=list(_COLUMNS)
            )
            # The driver binds by position, so the compiled order must be ours.
            if tuple(compiled.positiontup or ()) != _COLUMNS:
                raise RuntimeError("proposal: the insert binds its columns in order")
            self._insert_sql = str(compiled)
            dialect = connection.dialect
            ratio_type = table.c.late_ratio.type.dialect_impl(dialect)
            self._ratio = ratio_type.bind_processor(dialect) or _same
            # Ratios repeat (they are fractions of small counts): each is rounded
            # and converted once.
            self._stored_ratios: dict[Decimal, Any] = {}

    def begin(self, *, may_drop_indexes: bool = False) -> int:
        """Prepare the replacement; how many proposals are open now.

        `may_drop_indexes`: this connection runs no other statement until
        `finish` (the values are read elsewhere), so the writer may drop the
        proposal indexes once the difference is large.
        """
        replaced = int(
            self.connection.execute(
                select(func.count()).select_from(Proposal)
            ).scalar_one()
        )
        if not self.sqlite:
            self.connection.execute(delete(Proposal))
            return replaced
        database = snapshot_database(self.connection)
        if database is None:
            self._drop_indexes()
            self.connection.exec_driver_sql("DELETE FROM proposal")
            return replaced
        self._open = _OpenProposals(database, self.run_id)
        self._may_drop_indexes = may_drop_indexes
        # Past this many changes a rebuild of the indexes is cheaper than keeping
        # them up to date row by row.
        self._rewrite_from = max(BATCH, replaced // 4)
        return replaced

    def add(
        self,
        customer_no: str,
        current_condition: str | None,
        segment: str,
        proposed_condition: str,
        reason_json: str,
        overdue_amount: Decimal,
        late_ratio: Decimal,
    ) -> None:
        """One proposal; `reason_json` is the reason as JSON text."""
        self.count += 1
        if not self.sqlite:
            self._rows.append(
                {
                    "run_id": self.run_id,
                    "customer_no": customer_no,
                    "current_condition": current_condition,
                    "segment": segment,
                    "proposed_condition": proposed_condition,
                    "reason": RawJSON(reason_json),
                    "overdue_amount": overdue_amount,
                    "late_ratio": round(late_ratio, 4),
                }
            )
            if len(self._rows) >= BATCH:
                self._flush()
            return
        stored_ratio = self._stored_ratios.get(late_ratio)
        if stored_ratio is None:
            stored_ratio = self._ratio(round(late_ratio, 4))
            self._stored_ratios[late_ratio] = stored_ratio
        row = (
            self.run_id,
            customer_no,
            current_condition,
            segment,
            proposed_condition,
            reason_json,
            cents_from_money(overdue_amount) if overdue_amount else 0,
            stored_ratio,
        )
        open_proposals = self._open
        if open_proposals is not None:
            if customer_no <= self._last_customer:
                raise RuntimeError("proposal: customers must come in number order")
            self._last_customer = customer_no
            following = open_proposals.following
            if following is not None and following[1] <= customer_no:
                # Open proposals of customers before this one have no successor.
                if following[1] < customer_no:
                    self._deletes += open_proposals.up_to(customer_no)
                    following = open_proposals.following
                if following is not None and following[1] == customer_no:
                    open_proposals.advance()
                    if following == row:
                        self.kept += 1
                        return
                    self._deletes.append((customer_no,))
        self._rows.append(row)
        if len(self._rows) + len(self._deletes) >= BATCH:
            self._flush()

    def finish(self) -> int:
        """Write what is left and index the table again; how many proposals."""
        if self._open is not None:
            for passed in self._open.rest():
                self._deletes += passed
                self._flush()
            self._flush()
            if self.kept:
                # The proposals kept as they were belong to this run now.
                self.connection.execute(
                    update(Proposal)
                    .where(Proposal.run_id != self.run_id)
                    .values(run_id=self.run_id)
                )
        else:
            self._flush()
        if self._indexes is not None:
            create_indexes(self.connection, self._indexes)
            self._indexes = None
        self.close()
        return self.count

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def _flush(self) -> None:
        if self.sqlite:
            self._changes += len(self._deletes) + len(self._rows)
            if (
                self._indexes is None
                and self._may_drop_indexes
                and self._changes >= self._rewrite_from
            ):
                self._drop_indexes()
            # Deletes first: a changed proposal's customer is in both.
            if self._deletes:
                self.connection.exec_driver_sql(_DELETE, self._deletes)
                self._deletes = []
            if self._rows:
                self.connection.exec_driver_sql(self._insert_sql, self._rows)
        elif self._rows:
            self.connection.execute(insert(Proposal), self._rows)
        self._rows = []

    def _drop_indexes(self) -> None:
        self._indexes = drop_own_indexes(self.connection)


class _OpenProposals:
    """The open proposals as the run found them, in customer number order.

    Read through a connection of its own, in a read transaction begun before the
    run changes the table, so that the run's own deletes and inserts never show.
    `following` is the next proposal not yet passed, or None after the last.
    """

    def __init__(self, database: str, run_id: int) -> None:
        self._connection = sqlite3.connect(
            database, timeout=busy_timeout(), isolation_level=None
        )
        self._connection.execute("BEGIN")
        # The cursor itself is the iterator: a row costs no Python call of ours.
        self._rows: Iterator[tuple[Any, ...]] = self._connection.execute(
            _OPEN_PROPOSALS, (run_id,)
        )
        self.following: tuple[Any, ...] | None = next(self._rows, None)

    def advance(self) -> None:
        self.following = next(self._rows, None)

    def up_to(self, customer_no: str) -> list[tuple[str]]:
        """Pass the proposals of customers before `customer_no`; their customers."""
        passed = []
        row = self.following
        while row is not None and row[1] < customer_no:
            passed.append((row[1],))
            row = next(self._rows, None)
        self.following = row
        return passed

    def rest(self) -> Iterator[list[tuple[str]]]:
        """Pass the proposals not yet passed; their customers, in batches."""
        passed: list[tuple[str]] = []
        while self.following is not None:
            passed.append((self.following[1],))
            self.advance()
            if len(passed) >= BATCH:
                yield passed
                passed = []
        yield passed

    def close(self) -> None:
        self._connection.close()


def drop_own_indexes(connection: Connection) -> list[str]:
    """Drop the proposal table's own indexes (SQLite); their definitions.

    The indexes behind its primary key and its unique customer number have no
    stored definition and stay: inserts in customer number order extend them at
    the end. `create_indexes` makes the others again, as they were.
    """
    rows = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'proposal' AND sql IS NOT NULL ORDER BY name"
        )
    ).all()
    for name, _ in rows:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]


def create_indexes(connection: Connection, definitions: list[str]) -> None:
    for definition in definitions:
        connection.exec_driver_sql(definition)


def _same(value: Any) -> Any:
    return value
