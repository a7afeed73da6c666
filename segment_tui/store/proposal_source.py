"""The open proposals, a page at a time, in the order and under the filter asked for.

The Segmentation Proposals page shows up to a million proposals but only draws the
few dozen on screen; this source answers its three questions in SQL: how many rows
match (`count`), the rows of one page (`fetch`, ORDER BY with LIMIT and OFFSET), and
every proposal id under the filter (`keys`, streamed, for "mark all"). It returns
plain records; turning them into table cells is the screen's business, so nothing
here imports Textual.

User input never becomes SQL text: the filter is a bound LIKE pattern with its
wildcards escaped, and the sort column is looked up in a fixed table of columns.
"""

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

from segment_tui.store.models import Customer, Proposal

CHUNK = 500
"""Ids per IN (...) list: well below every database's limit on bound parameters."""

KEYS_BATCH = 10_000
"""Rows fetched at a time while streaming the ids for "mark all"."""

ESCAPE = "/"
"""Escapes the LIKE wildcards; not a backslash, which PostgreSQL reads differently."""

# The columns the list can be sorted by, by the key the screen uses for its column.
# Conditions can be NULL (a customer without one); coalesced, so that NULLs sort as
# the empty text on every database and the page boundaries can be compared.
_proposal = Proposal.__table__.c
_customer = Customer.__table__.c

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "customer_no": _proposal.customer_no,
    "name": _customer.name,
    "current_condition": func.coalesce(_proposal.current_condition, ""),
    "segment": _proposal.segment,
    "proposed_condition": _proposal.proposed_condition,
    "overdue_amount": _proposal.overdue_amount,
    "late_ratio": _proposal.late_ratio,
}

DEFAULT_SORT = "customer_no"


@dataclass(frozen=True)
class ProposalRecord:
    """One open proposal with its customer's name, as one line of the list."""

    id: int
    run_id: int
    customer_no: str
    customer_name: str
    current_condition: str | None
    segment: str
    proposed_condition: str
    reason: list[dict[str, Any]]
    overdue_amount: Decimal
    late_ratio: Decimal


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % and _ taken literally."""
    escaped = (
        text.replace(ESCAPE, ESCAPE * 2)
        .replace("%", ESCAPE + "%")
        .replace("_", ESCAPE + "_")
    )
    return f"%{escaped}%"


class ProposalSource:
    """The open proposals in the store, filtered and sorted, fetched a page at a time.

    Change the order with `set_sort` and the filter with `set_filter`; call `reload`
    after the proposals themselves changed (created, deleted, applied).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sort_key = DEFAULT_SORT
        self._reverse = False
        self._filter = ""
        # The sort value and id of the last row before an offset, for each page
        # boundary seen so far: the next page then starts from there (keyset)
        # instead of counting past every earlier row (OFFSET).
        self._boundaries: dict[int, tuple[Any, int]] = {}

    @property
    def sort_key(self) -> str:
        return self._sort_key

    @property
    def reverse(self) -> bool:
        return self._reverse

    @property
    def filter_text(self) -> str:
        return self._filter

    @staticmethod
    def can_sort_by(column_key: str) -> bool:
        return column_key in SORT_COLUMNS

    def set_sort(self, column_key: str, reverse: bool = False) -> None:
        """Order by a column of `SORT_COLUMNS`; ties are broken by proposal id."""
        if column_key not in SORT_COLUMNS:
            raise ValueError(
                f"cannot sort by {column_key!r}; sortable: " + ", ".join(SORT_COLUMNS)
            )
        self._sort_key = column_key
        self._reverse = reverse
        self.reload()

    def set_filter(self, text: str) -> None:
        """Keep the proposals whose customer number, name or segment contains `text`.

        Case is ignored; an empty text shows everything.
        """
        self._filter = text.strip()
        self.reload()

    def reload(self) -> None:
        """Forget what was learnt about page boundaries: the rows have changed."""
        self._boundaries.clear()

    # The three questions of the table

    def count(self) -> int:
        """The number of open proposals under the filter."""
        query = select(func.count()).select_from(self._from())
        query = self._filtered(query)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def fetch(self, offset: int, limit: int) -> list[ProposalRecord]:
        """At most `limit` proposals in the current order, from position `offset`."""
        sort = SORT_COLUMNS[self._sort_key]
        query = self._filtered(self._rows_query(sort.label("sort_value")))
        if self._reverse:
            query = query.order_by(sort.desc(), Proposal.id.desc())
        else:
            query = query.order_by(sort.asc(), Proposal.id.asc())

        boundary = self._boundaries.get(offset) if offset else None
        if boundary is not None:
            value, last_id = boundary
            query = query.where(self._after(sort, value, last_id))
        elif offset:
            # Limitation: a page that does not follow one already fetched (a jump
            # to the end, or to the middle with the scroll bar) is found with
            # OFFSET, which the database answers by stepping over every earlier
            # row: a jump to the end of a million proposals takes a moment.
            query = query.offset(offset)
        query = query.limit(limit)

        with self._engine.connect() as connection:
            rows = list(connection.execute(query))
        if rows:
            last = rows[-1]
            self._boundaries[offset + len(rows)] = (last.sort_value, last.id)
        return [_record(row) for row in rows]

    def keys(self) -> Iterator[int]:
        """Every proposal id under the filter, streamed rather than held in memory."""
        query = self._filtered(select(Proposal.id).select_from(self._from()))
        with self._engine.connect() as connection:
            result = connection.execution_options(yield_per=KEYS_BATCH).execute(query)
            for (proposal_id,) in result:
                yield int(proposal_id)

    # Questions of the screen about particular proposals

    def customer_no(self, proposal_id: int) -> str | None:
        """The customer an open proposal is for, None when it is no longer open."""
        query = select(Proposal.customer_no).where(Proposal.id == proposal_id)
        with self._engine.connect() as connection:
            found = connection.execute(query).scalar_one_or_none()
        return None if found is None else str(found)

    def transitions(
        self, proposal_ids: Collection[int]
    ) -> Counter[tuple[str | None, str]]:
        """How many of these open proposals go from which condition to which.

        Ids of proposals that are no longer open are not counted.
        """
        counts: Counter[tuple[str | None, str]] = Counter()
        ids = list(proposal_ids)
        base = select(
            Proposal.current_condition, Proposal.proposed_condition, func.count()
        ).group_by(Proposal.current_condition, Proposal.proposed_condition)
        with self._engine.connect() as connection:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                query = base.where(Proposal.id.in_(chunk))
                for current, proposed, number in connection.execute(query):
                    counts[(current, proposed)] += int(number)
        return counts

    def open_ids(self, proposal_ids: Collection[int]) -> set[int]:
        """Those of these ids that are still open proposals."""
        found: set[int] = set()
        ids = list(proposal_ids)
        with self._engine.connect() as connection:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                query = select(Proposal.id).where(Proposal.id.in_(chunk))
                found.update(int(i) for i in connection.execute(query).scalars())
        return found

    # Building the queries

    def _from(self) -> Any:
        """Proposals alone, or joined with customers when the filter needs names."""
        if self._filter:
            return Proposal.__table__.join(
                Customer.__table__, Customer.customer_no == Proposal.customer_no
            )
        return Proposal.__table__

    def _filtered(self, query: Select[Any]) -> Select[Any]:
        # Limitation: a pattern that starts with a wildcard cannot use an index,
        # so each filter reads every open proposal once; on SQLite, moreover, case
        # is ignored for the letters A to Z only.
        if not self._filter:
            return query
        pattern = like_pattern(self._filter)
        return query.where(
            or_(
                Proposal.customer_no.ilike(pattern, escape=ESCAPE),
                Customer.name.ilike(pattern, escape=ESCAPE),
                Proposal.segment.ilike(pattern, escape=ESCAPE),
            )
        )

    @staticmethod
    def _rows_query(sort_value: ColumnElement[Any]) -> Select[Any]:
        return select(
            Proposal.id,
            Proposal.run_id,
            Proposal.customer_no,
            Customer.name,
            Proposal.current_condition,
            Proposal.segment,
            Proposal.proposed_condition,
            Proposal.reason,
            Proposal.overdue_amount,
            Proposal.late_ratio,
            sort_value,
        ).join(Customer, Customer.customer_no == Proposal.customer_no)

    def _after(
        self, sort: ColumnElement[Any], value: Any, last_id: int
    ) -> ColumnElement[bool]:
        """Rows that come after (value, last_id) in the current order."""
        if self._reverse:
            return or_(sort < value, and_(sort == value, Proposal.id < last_id))
        return or_(sort > value, and_(sort == value, Proposal.id > last_id))


def _record(row: Any) -> ProposalRecord:
    return ProposalRecord(
        id=int(row.id),
        run_id=int(row.run_id),
        customer_no=row.customer_no,
        customer_name=row.name,
        current_condition=row.current_condition,
        segment=row.segment,
        proposed_condition=row.proposed_condition,
        reason=list(row.reason or []),
        overdue_amount=row.overdue_amount,
        late_ratio=Decimal(row.late_ratio),
    )
