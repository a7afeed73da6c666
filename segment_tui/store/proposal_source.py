"""The open proposals, a page at a time, in the order and under the filter asked for.

The Segmentation Proposals page shows up to a million proposals but only draws the
few dozen on screen; this source answers its questions in SQL: how many rows match
(`count`), the rows of one page (`fetch`, ORDER BY with LIMIT and OFFSET), and, for
marks kept as "everything under these filters", how many proposals some filters
show (`count_in`) and which of some ids they show (`keys_in`). It returns plain
records; turning them into table cells is the screen's business, so nothing here
imports Textual.

User input never becomes SQL text: the filter is a bound LIKE pattern with its
wildcards escaped, and the sort column is looked up in a fixed table of columns.
`filter_condition` is the one place that says what a filter matches; apply and
delete use it too, so that they act on exactly the proposals the list showed.
"""

from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, false, func, or_, select, true
from sqlalchemy.sql import ColumnElement, Select

from segment_tui.store.models import Customer, Proposal

CHUNK = 500
"""Ids per IN (...) list: well below every database's limit on bound parameters."""

KEYS_BATCH = 10_000
"""Rows fetched at a time while streaming the ids for "mark all"."""

ESCAPE = "/"
"""Escapes the LIKE wildcards; not a backslash, which PostgreSQL reads differently."""

# The columns the list can be sorted by, by the key the screen uses for its column:
# the columns the order goes by, before the proposal id that breaks the last tie.
# Conditions can be NULL (a customer without one). The current condition's own
# column is coalesced, so that NULLs sort as the empty text on every database.
# Limitation: no index serves the coalesced current condition, so with that sort
# every page is sorted afresh from all open proposals: about half a second a page
# on 770,000 proposals in SQLite. The other orders have an index.
# The proposed condition's ties go by the current condition as stored: one index
# (schema version 0008) serves that order and the apply dialog's count by change
# of condition. Its NULLs sort where the database puts them (first on SQLite,
# last on PostgreSQL), so that the index serves the order on both.
_proposal = Proposal.__table__.c
_customer = Customer.__table__.c

SORT_COLUMNS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "customer_no": (_proposal.customer_no,),
    "name": (_customer.name,),
    "current_condition": (func.coalesce(_proposal.current_condition, ""),),
    "segment": (_proposal.segment,),
    "proposed_condition": (_proposal.proposed_condition, _proposal.current_condition),
    "overdue_amount": (_proposal.overdue_amount,),
    "late_ratio": (_proposal.late_ratio,),
}
"""The first column of each order is never NULL: the database seeks in its index
by a range on it."""

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


def filter_condition(
    text: str,
    customer_no: ColumnElement[Any],
    name: ColumnElement[Any],
    segment: ColumnElement[Any],
) -> ColumnElement[bool]:
    """Whether the customer number, the customer's name or the segment contains
    `text`, case ignored; true for an empty text.

    The columns are arguments so that the same test serves the list (proposals
    joined with customers) and the statements of an apply or a delete, which
    cannot always join.
    """
    # Limitation: a pattern that starts with a wildcard cannot use an index, so
    # each filter reads every open proposal once; on SQLite, moreover, case is
    # ignored for the letters A to Z only.
    text = text.strip()
    if not text:
        return true()
    pattern = like_pattern(text)
    return or_(
        customer_no.ilike(pattern, escape=ESCAPE),
        name.ilike(pattern, escape=ESCAPE),
        segment.ilike(pattern, escape=ESCAPE),
    )


def any_filter(
    filters: Iterable[str],
    customer_no: ColumnElement[Any],
    name: ColumnElement[Any],
    segment: ColumnElement[Any],
) -> ColumnElement[bool] | None:
    """Whether any of `filters` matches (see `filter_condition`); None when one of
    them is empty, since that one matches every proposal."""
    texts = sorted({text.strip() for text in filters})
    if not texts or "" in texts:
        return None
    return or_(*(filter_condition(text, customer_no, name, segment) for text in texts))


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
        self._count: int | None = None
        # The (sort value, id) of the rows on either side of each page boundary
        # seen so far: the row just before a position (`_before`) and the row at
        # it (`_at`). A neighbouring page then starts from there (keyset) instead
        # of counting past every earlier row (OFFSET).
        self._before: dict[int, tuple[Any, int]] = {}
        self._at: dict[int, tuple[Any, int]] = {}
        # How many proposals some filters show together (`count_in`): kept over
        # changes of order and filter, forgotten when the proposals change.
        self._counts: dict[frozenset[str], int] = {}

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
        """Order by a column of `SORT_COLUMNS`; the last ties go by proposal id."""
        if column_key not in SORT_COLUMNS:
            raise ValueError(
                f"cannot sort by {column_key!r}; sortable: " + ", ".join(SORT_COLUMNS)
            )
        self._sort_key = column_key
        self._reverse = reverse
        self._forget_pages()

    def set_filter(self, text: str) -> None:
        """Keep the proposals whose customer number, name or segment contains `text`.

        Case is ignored; an empty text shows everything.
        """
        self._filter = text.strip()
        self._forget_pages()

    def reload(self) -> None:
        """Forget what was learnt about the rows: they changed."""
        self._counts.clear()
        self._forget_pages()

    def _forget_pages(self) -> None:
        """Forget the row count and the page edges: the order or the filter changed."""
        self._count = None
        self._before.clear()
        self._at.clear()

    # The three questions of the table

    def count(self) -> int:
        """The number of open proposals under the filter."""
        query = select(func.count()).select_from(self._from())
        query = self._filtered(query)
        with self._engine.connect() as connection:
            self._count = int(connection.execute(query).scalar_one())
        self._counts[frozenset([self._filter])] = self._count
        return self._count

    def fetch(self, offset: int, limit: int) -> list[ProposalRecord]:
        """At most `limit` proposals in the current order, from position `offset`.

        A page next to one fetched before starts from that page's edge row
        (keyset), forwards or backwards; a page in the second half of the list
        is counted from the end, in the opposite order. Only a jump into the
        middle steps over the rows before it.
        """
        if offset < 0 or limit <= 0:
            return []
        sort = SORT_COLUMNS[self._sort_key]
        query = self._filtered(self._rows_query(_sort_labels(sort)))
        backwards = False
        if offset in self._before:
            query = query.where(self._beyond(sort, self._before[offset], forward=True))
        elif offset + limit in self._at:
            backwards = True
            query = query.where(
                self._beyond(sort, self._at[offset + limit], forward=False)
            )
        else:
            total = self._count if self._count is not None else self.count()
            if offset >= total:
                return []
            if offset > total // 2:
                backwards = True
                skip = max(0, total - offset - limit)
                limit = min(limit, total - offset)
            else:
                skip = offset
            # Limitation: a page that is no neighbour of one fetched before (a
            # jump into the middle with the scroll bar) is found with OFFSET, which
            # the database answers by stepping over every row before it: on a
            # million proposals, sorted by a column without an index (name,
            # current condition), that takes seconds.
            query = query.offset(skip)
        query = self._ordered(query, sort, backwards).limit(limit)

        with self._engine.connect() as connection:
            rows = list(connection.execute(query))
        if backwards:
            rows.reverse()
            offset = offset + limit - len(rows)
        if rows:
            self._at[offset] = _edge(rows[0], len(sort))
            self._before[offset + len(rows)] = _edge(rows[-1], len(sort))
        return [_record(row) for row in rows]

    def keys(self) -> Iterator[int]:
        """Every proposal id under the filter, streamed rather than held in memory."""
        return self.keys_in([self._filter])

    # Marks kept as "every proposal under these filters"

    def count_in(self, filters: Collection[str]) -> int:
        """How many open proposals any of `filters` shows; each counted once."""
        key = frozenset(text.strip() for text in filters)
        if not key:
            return 0
        known = self._counts.get(key)
        if known is not None:
            return known
        query = self._within(select(func.count()), key)
        with self._engine.connect() as connection:
            counted = int(connection.execute(query).scalar_one())
        self._counts[key] = counted
        return counted

    def keys_in(
        self, filters: Collection[str], among: Collection[int] | None = None
    ) -> Iterator[int]:
        """The ids of the open proposals any of `filters` shows, streamed; with
        `among`, only those of these ids."""
        if not filters:
            return
        query = self._within(select(Proposal.id), filters)
        with self._engine.connect() as connection:
            if among is None:
                options = connection.execution_options(yield_per=KEYS_BATCH)
                for (proposal_id,) in options.execute(query):
                    yield int(proposal_id)
                return
            ids = list(among)
            for start in range(0, len(ids), CHUNK):
                chunk = query.where(Proposal.id.in_(ids[start : start + CHUNK]))
                for (proposal_id,) in connection.execute(chunk):
                    yield int(proposal_id)

    @staticmethod
    def _within(query: Select[Any], filters: Iterable[str]) -> Select[Any]:
        """`query` over the open proposals that any of `filters` shows."""
        condition = any_filter(
            filters, _proposal.customer_no, _customer.name, _proposal.segment
        )
        if condition is None:
            return query.select_from(Proposal)
        joined = Proposal.__table__.join(
            Customer.__table__, Customer.customer_no == Proposal.customer_no
        )
        return query.select_from(joined).where(condition)

    # Questions of the screen about particular proposals

    def customer_no(self, proposal_id: int) -> str | None:
        """The customer an open proposal is for, None when it is no longer open."""
        query = select(Proposal.customer_no).where(Proposal.id == proposal_id)
        with self._engine.connect() as connection:
            found = connection.execute(query).scalar_one_or_none()
        return None if found is None else str(found)

    def position(self, proposal_id: int) -> int | None:
        """Where an open proposal is in the current order and filter, or None."""
        sort = SORT_COLUMNS[self._sort_key]
        edge_query = self._filtered(
            select(Proposal.id, *_sort_labels(sort))
            .select_from(self._from(joined=True))
            .where(Proposal.id == proposal_id)
        )
        with self._engine.connect() as connection:
            edge = connection.execute(edge_query).first()
            if edge is None:
                return None
            before = self._filtered(
                select(func.count())
                .select_from(self._from(joined=True))
                .where(self._beyond(sort, _edge(edge, len(sort)), forward=False))
            )
            return int(connection.execute(before).scalar_one())

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
        ).group_by(Proposal.proposed_condition, Proposal.current_condition)
        with self._engine.connect() as connection:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                query = base.where(Proposal.id.in_(chunk))
                for current, proposed, number in connection.execute(query):
                    counts[(current, proposed)] += int(number)
        return counts

    def ids_for_customers(self, customer_nos: Iterable[str]) -> set[int]:
        """The ids of the open proposals of these customers."""
        found: set[int] = set()
        numbers = list(dict.fromkeys(customer_nos))
        with self._engine.connect() as connection:
            for start in range(0, len(numbers), CHUNK):
                chunk = numbers[start : start + CHUNK]
                query = select(Proposal.id).where(Proposal.customer_no.in_(chunk))
                found.update(int(i) for i in connection.execute(query).scalars())
        return found

    # Building the queries

    def _from(self, *, joined: bool = False) -> Any:
        """Proposals alone, or joined with customers when names are needed."""
        if joined or self._filter:
            return Proposal.__table__.join(
                Customer.__table__, Customer.customer_no == Proposal.customer_no
            )
        return Proposal.__table__

    def _filtered(self, query: Select[Any]) -> Select[Any]:
        if not self._filter:
            return query
        return query.where(
            filter_condition(
                self._filter, _proposal.customer_no, _customer.name, _proposal.segment
            )
        )

    @staticmethod
    def _rows_query(sort_values: list[ColumnElement[Any]]) -> Select[Any]:
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
            *sort_values,
        ).join(Customer, Customer.customer_no == Proposal.customer_no)

    def _ordered(
        self, query: Select[Any], sort: Sequence[ColumnElement[Any]], backwards: bool
    ) -> Select[Any]:
        """ORDER BY the sort columns, ties by id; `backwards` flips the direction."""
        if self._reverse != backwards:
            return query.order_by(*(c.desc() for c in sort), Proposal.id.desc())
        return query.order_by(*(c.asc() for c in sort), Proposal.id.asc())

    def _beyond(
        self,
        sort: Sequence[ColumnElement[Any]],
        edge: tuple[tuple[Any, ...], int],
        *,
        forward: bool,
    ) -> ColumnElement[bool]:
        """The rows after `edge` in the current order, or before it.

        Written as a range on the first sort column, and then column by column,
        so that the database can seek in its index rather than test every row.
        """
        values, edge_id = edge
        ascending = forward != self._reverse
        beyond: ColumnElement[bool] = (
            Proposal.id > edge_id if ascending else Proposal.id < edge_id
        )
        for column, value in reversed(list(zip(sort, values, strict=True))):
            beyond = or_(
                self._past(column, value, ascending),
                and_(column.is_(None) if value is None else column == value, beyond),
            )
        first, value = sort[0], values[0]
        return and_(first >= value if ascending else first <= value, beyond)

    def _past(
        self, column: ColumnElement[Any], value: Any, ascending: bool
    ) -> ColumnElement[bool]:
        """The rows whose `column` comes strictly after `value` (before it, when
        not `ascending`), NULLs where the database sorts them."""
        nullable = getattr(column, "nullable", False)
        # SQLite sorts NULL before every text, PostgreSQL after: going upwards
        # NULLs come first on SQLite, going downwards on PostgreSQL.
        nulls_first = (self._engine.dialect.name == "sqlite") == ascending
        if value is None:
            return column.is_not(None) if nulls_first else false()
        past: ColumnElement[bool] = column > value if ascending else column < value
        if not nullable:
            return past
        return past if nulls_first else or_(past, column.is_(None))


def _sort_labels(sort: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    return [column.label(f"sort_{number}") for number, column in enumerate(sort)]


def _edge(row: Any, columns: int) -> tuple[tuple[Any, ...], int]:
    """A row's place in the order: its sort values (`_sort_labels`) and its id."""
    mapping = row._mapping
    return tuple(mapping[f"sort_{n}"] for n in range(columns)), int(mapping["id"])


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
