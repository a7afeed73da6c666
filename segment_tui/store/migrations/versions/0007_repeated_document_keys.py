"""Schema version 0007: a repeated document number's entry is keyed "dup:N#2".

Until now a document number that a customer's rows repeat was keyed "doc:N#2", the
key a document numbered "N#2" has as well; an import took the next free number
when both were in one file. A later export holding only one of them then found
the other: an entry was overwritten and an invoice kept twice. Repeats now have a
prefix of their own. This rewrites the stored keys as an import now makes them:
of the entries of one customer and document number, in the order the import
numbered them, the first is "doc:N" and the k-th "dup:N#k". Only customers and
document numbers with such an entry are read.
"""

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

_ENTRIES = sa.table(
    "ledger_entry",
    sa.column("id", sa.Integer),
    sa.column("customer_no", sa.String),
    sa.column("document_no", sa.String),
    sa.column("entry_key", sa.String),
)


def upgrade() -> None:
    e = _ENTRIES.c
    first = "doc:" + e.document_no
    # Keys that an import numbered: "doc:", the document number, "#", a number.
    # Compared as text, not with LIKE, where "%" and "_" in a number would match.
    numbered = sa.func.substr(e.entry_key, 1, sa.func.length(first) + 1) == first + "#"
    groups = (
        sa.select(e.customer_no, e.document_no)
        .where(e.document_no.is_not(None), numbered)
        .distinct()
        .subquery()
    )
    rows = op.get_bind().execute(
        sa.select(e.id, e.customer_no, e.document_no, e.entry_key)
        .join(
            groups,
            sa.and_(
                e.customer_no == groups.c.customer_no,
                e.document_no == groups.c.document_no,
            ),
        )
        .where(sa.or_(e.entry_key == first, numbered))
        .order_by(e.customer_no, e.document_no, e.id)
    )
    entries: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for entry_id, customer_no, document_no, key in rows:
        entries.setdefault((customer_no, document_no), []).append((entry_id, key))
    keys = {
        entry_id: key
        for (_customer_no, document_no), found in entries.items()
        for entry_id, key in _new_keys(document_no, found)
    }
    # Through keys of their own first: a new key may be another entry's old one.
    _rekey((entry_id, f"tmp:{entry_id}") for entry_id in keys)
    _rekey(keys.items())


def _new_keys(
    document_no: str, entries: Sequence[tuple[int, str]]
) -> list[tuple[int, str]]:
    """The entries of one customer and document number, keyed anew in the order
    the import numbered them."""
    first = "doc:" + document_no

    def occurrence(entry: tuple[int, str]) -> tuple[int, int]:
        entry_id, key = entry
        number = key[len(first) + 1 :]
        return (int(number) if key != first and number.isdigit() else 1, entry_id)

    ordered = sorted(entries, key=occurrence)
    return [
        (entry_id, first if rank == 1 else f"dup:{document_no}#{rank}")
        for rank, (entry_id, _key) in enumerate(ordered, start=1)
    ]


def _rekey(keys: Iterable[tuple[int, str]]) -> None:
    parameters = [{"entry": entry_id, "key": key} for entry_id, key in keys]
    if parameters:
        op.get_bind().execute(
            sa.update(_ENTRIES)
            .where(_ENTRIES.c.id == sa.bindparam("entry"))
            .values(entry_key=sa.bindparam("key")),
            parameters,
        )


def downgrade() -> None:
    # The old keys numbered repeats like documents named "N#2"; each "dup:N#k"
    # goes back to "doc:N#k", which for most stores is what it was.
    e = _ENTRIES.c
    op.get_bind().execute(
        sa.update(_ENTRIES)
        .where(e.entry_key.like("dup:%"))
        .values(entry_key="doc:" + sa.func.substr(e.entry_key, 5))
    )
