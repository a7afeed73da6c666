"""Writing a proposal run's proposals: up to a million rows in one transaction.

The open proposals are replaced as a whole, and the list's sort indexes (schema
version 0002) would make every one of a million inserts, and every delete before
them, a write into five b-trees in scattered places. On SQLite the writer therefore
drops the proposal table's own indexes first, deletes and inserts into the bare
table, and creates the indexes again from their stored definitions at the end,
which sorts each index once: measured five times faster at 800,000 proposals. This
happens inside the run's transaction, so readers never see the table without its
indexes: in write-ahead-log mode they keep reading the state before the run until
it commits.

On PostgreSQL dropping an index would lock out every reader until the commit, so
there the indexes stay and the rows go in through SQLAlchemy's batched inserts.

Rows go to SQLite in the columns' storage form (`models.cents_from_money` for the
amount, the column type's own conversion for the ratio), which skips SQLAlchemy's
per-row parameter handling.
"""

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, text

from segment_tui.jsonout import RawJSON
from segment_tui.store.models import Proposal, cents_from_money

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


class ProposalWriter:
    """Replaces the open proposals with those of run `run_id`.

    `clear` first, then `add` each proposal, then `finish`; all inside one write
    transaction, which makes the replacement all or nothing.
    """

    def __init__(self, connection: Connection, run_id: int) -> None:
        self.connection = connection
        self.run_id = run_id
        self.sqlite = connection.dialect.name == "sqlite"
        self.count = 0
        self._rows: list[Any] = []
        self._indexes: list[str] = []
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

    def clear(self) -> int:
        """Delete every open proposal; how many there were."""
        if self.sqlite:
            self._drop_indexes()
        return self.connection.execute(delete(Proposal)).rowcount or 0

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
        if self.sqlite:
            stored_ratio = self._stored_ratios.get(late_ratio)
            if stored_ratio is None:
                stored_ratio = self._ratio(round(late_ratio, 4))
                self._stored_ratios[late_ratio] = stored_ratio
            row: Any = (
                self.run_id,
                customer_no,
                current_condition,
                segment,
                proposed_condition,
                reason_json,
                cents_from_money(overdue_amount) if overdue_amount else 0,
                stored_ratio,
            )
        else:
            row = {
                "run_id": self.run_id,
                "customer_no": customer_no,
                "current_condition": current_condition,
                "segment": segment,
                "proposed_condition": proposed_condition,
                "reason": RawJSON(reason_json),
                "overdue_amount": overdue_amount,
                "late_ratio": round(late_ratio, 4),
            }
        self._rows.append(row)
        if len(self._rows) >= BATCH:
            self._flush()

    def finish(self) -> int:
        """Write what is left and index the table again; how many were added."""
        # Limitation: every run builds the list's four sort indexes over all its
        # proposals, about 2 s of a run at a million customers, however few of the
        # proposals differ from the run before.
        self._flush()
        create_indexes(self.connection, self._indexes)
        self._indexes = []
        return self.count

    def _flush(self) -> None:
        if not self._rows:
            return
        if self.sqlite:
            self.connection.exec_driver_sql(self._insert_sql, self._rows)
        else:
            self.connection.execute(insert(Proposal), self._rows)
        self.count += len(self._rows)
        self._rows = []

    def _drop_indexes(self) -> None:
        self._indexes = drop_own_indexes(self.connection)


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
