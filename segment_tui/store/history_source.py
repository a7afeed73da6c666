"""The history of applied changes, newest first, a page at a time.

The history grows by one row for every applied proposal and is never pruned, so
after a few large applies it holds millions of rows. The History page shows it
through this source, which reads only the page on screen: by id, newest first,
each page continuing from the last id of the one before it. No Textual here.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from segment_tui.store.models import SegmentChange

KEYS_BATCH = 10_000


@dataclass(frozen=True)
class ChangeRecord:
    """One applied change of a customer's dunning condition."""

    id: int
    customer_no: str
    from_condition: str | None
    to_condition: str
    segment: str
    applied_at: datetime
    applied_by: str
    run_id: int
    batch_id: int
    reason: list[dict[str, Any]]


class HistorySource:
    """Every applied change, newest first, fetched a page at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The id of the last row before each page seen so far: the next page is
        # the rows with smaller ids, which the primary key finds at once.
        self._before: dict[int, int] = {}

    def count(self) -> int:
        query = select(func.count()).select_from(SegmentChange)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def fetch(self, offset: int, limit: int) -> list[ChangeRecord]:
        """At most `limit` changes, newest first, from position `offset`."""
        query = select(*SegmentChange.__table__.c).order_by(SegmentChange.id.desc())
        if offset in self._before:
            query = query.where(SegmentChange.id < self._before[offset])
        elif offset:
            # Limitation: a jump far down the history (End, or the scroll bar)
            # steps over every newer row with OFFSET; going back from the newest
            # rows page by page does not.
            query = query.offset(offset)
        with self._engine.connect() as connection:
            rows = list(connection.execute(query.limit(limit)))
        if rows:
            self._before[offset + len(rows)] = int(rows[-1].id)
        return [_record(row) for row in rows]

    def keys(self) -> Iterator[int]:
        """Every change id, newest first, streamed."""
        query = select(SegmentChange.id).order_by(SegmentChange.id.desc())
        with self._engine.connect() as connection:
            result = connection.execution_options(yield_per=KEYS_BATCH).execute(query)
            for (change_id,) in result:
                yield int(change_id)

    def reload(self) -> None:
        """Forget the page boundaries: changes were added."""
        self._before.clear()


def _record(row: Any) -> ChangeRecord:
    applied_at: datetime = row.applied_at
    if applied_at.tzinfo is None:  # SQLite hands back naive times; all are UTC
        applied_at = applied_at.replace(tzinfo=UTC)
    return ChangeRecord(
        id=int(row.id),
        customer_no=row.customer_no,
        from_condition=row.from_condition,
        to_condition=row.to_condition,
        segment=row.segment,
        applied_at=applied_at,
        applied_by=row.applied_by,
        run_id=int(row.run_id),
        batch_id=int(row.batch_id),
        reason=list(row.reason or []),
    )
