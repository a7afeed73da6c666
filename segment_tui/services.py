"""The operations of the segmentation cycle, shared by the command line and the screens.

Create proposals, list them, delete them, apply them, read the history, and keep the
setup. Each operation that writes runs in one transaction, serialised with every other
writer (`write_transaction`): it happens entirely or not at all. No logic about
segments lives anywhere else: the screens and the CLI only call these functions.
"""

import getpass
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, Select

from segment_tui.errors import InputError
from segment_tui.reasons import ReasonWriter
from segment_tui.rules.chooser import (
    EXCLUDED,
    VALUE_NAMES,
    SegmentChooser,
    metrics_read,
)
from segment_tui.rules.metrics import Metrics
from segment_tui.rules.segments import Choice, choose_segment
from segment_tui.rules.setup import Setup, parse_setup
from segment_tui.rules.window import (
    EARLIEST_REFERENCE,
    LATEST_REFERENCE,
    is_reference_date,
)
from segment_tui.store.engine import checkpoint_log, create_schema, write_transaction
from segment_tui.store.metrics_sql import (
    CustomerRow,
    iter_customer_totals,
    iter_customer_values,
)
from segment_tui.store.models import (
    ApplyBatch,
    Customer,
    DunningCondition,
    Proposal,
    ProposalRun,
    SegmentChange,
    SetupVersion,
)
from segment_tui.store.proposal_source import any_filter
from segment_tui.store.proposal_writer import ProposalWriter
from segment_tui.store.selection import SelectedProposals, selected_proposals

log = logging.getLogger(__name__)

BATCH = 10_000
READ_AHEAD_FROM = 20_000
"""From this many customers on, a proposal run reads the ledger in a second process
(on SQLite): below it, starting the process costs more than it saves."""
PROPOSAL_METRICS = frozenset({"overdue_amount", "late_ratio"})
"""The metrics a proposal keeps besides its reason, for the list to sort on."""
Progress = Callable[[int, int], None]
"""Called with (customers done, customers in all) while proposals are created."""


def default_operator() -> str:
    """The operator recorded in runs and history when none is named: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid, e.g. in a container
        return "unknown"


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------
# The setup


def default_setup_text() -> str:
    """The shipped default setup (data/segments.toml)."""
    return files("segment_tui").joinpath("data/segments.toml").read_text("utf-8")


def store_setup(
    connection: Connection,
    setup: Setup,
    source: str,
    operator: str,
    *,
    trial: bool = False,
) -> int:
    """Record a setup as a new version (the current one unless `trial`); its id.

    The dunning conditions it declares are added to the store, or their description
    updated, so that customers can carry them.
    """
    version_id = connection.execute(
        insert(SetupVersion)
        .values(
            created_at=now_utc(),
            created_by=operator,
            source=source[:400],
            toml=setup.to_toml(),
            trial=trial,
        )
        .returning(SetupVersion.id)
    ).scalar_one()
    ensure_conditions(
        connection, {c.code: c.description for c in setup.dunning_condition}
    )
    return int(version_id)


def ensure_conditions(connection: Connection, conditions: dict[str, str]) -> None:
    """Add dunning conditions that the store does not know yet; describe known ones."""
    if not conditions:
        return
    query = select(DunningCondition.code, DunningCondition.description).where(
        DunningCondition.code.in_(list(conditions))
    )
    known = {code: text for code, text in connection.execute(query)}
    new = [
        {"code": code, "description": text}
        for code, text in conditions.items()
        if code not in known
    ]
    if new:
        connection.execute(insert(DunningCondition), new)
    for code, text in conditions.items():
        if code in known and text and known[code] != text:
            connection.execute(
                update(DunningCondition)
                .where(DunningCondition.code == code)
                .values(description=text)
            )


def current_setup(connection: Connection) -> tuple[int, Setup] | None:
    """The newest setup that is not a trial, with its version id, or None."""
    row = connection.execute(
        select(SetupVersion.id, SetupVersion.toml, SetupVersion.source)
        .where(SetupVersion.trial.is_(False))
        .order_by(SetupVersion.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return int(row.id), parse_setup(row.toml, f"stored setup version {row.id}")


def require_setup(connection: Connection) -> tuple[int, Setup]:
    stored = current_setup(connection)
    if stored is None:
        raise InputError(
            "the store has no setup yet; run 'segment-tui init' for the default "
            "setup or 'segment-tui setup load FILE'"
        )
    return stored


def load_setup_file(engine: Engine, setup: Setup, source: str, operator: str) -> int:
    """Store a validated setup as the new current setup; its version id."""
    with write_transaction(engine) as connection:
        version = store_setup(connection, setup, source, operator)
    log.info("setup version %s stored", version)
    return version


def initialise(engine: Engine, operator: str) -> bool:
    """Create the schema and store the default setup if none is stored.

    True when the default setup was stored now.
    """
    create_schema(engine)
    # Read first: every command opens the store this way, and a read does not wait
    # for another operator's write.
    with engine.connect() as connection:
        if current_setup(connection) is not None:
            return False
    with write_transaction(engine) as connection:
        if current_setup(connection) is not None:
            return False
        setup = parse_setup(default_setup_text(), "the default setup")
        store_setup(connection, setup, "default setup", operator)
        return True


def customer_count(connection: Connection) -> int:
    return int(
        connection.execute(select(func.count()).select_from(Customer)).scalar_one()
    )


# ---------------------------------------------------------------------------
# Metrics and segment choice


@dataclass(frozen=True)
class Evaluation:
    """One customer's metrics as of the reference date and the segment it would get."""

    customer: CustomerRow
    metrics: Metrics
    choice: Choice

    @property
    def values(self) -> dict[str, Any]:
        return self.metrics.as_dict() | self.customer.flags


def evaluate(customer: CustomerRow, setup: Setup) -> Evaluation:
    metrics = Metrics.derive(customer.totals)
    values: dict[str, Any] = metrics.as_dict() | customer.flags
    return Evaluation(customer, metrics, choose_segment(values, setup))


def iter_evaluations(
    connection: Connection,
    setup: Setup,
    reference: date,
    customer_nos: list[str] | None = None,
) -> Iterator[Evaluation]:
    """Every customer (or the given ones), in customer number order, evaluated."""
    _check_reference(reference)
    settings = setup.settings
    rows = iter_customer_totals(
        connection,
        reference,
        settings.lookback_months,
        settings.late_tolerance_days,
        customer_nos,
    )
    for row in rows:
        yield evaluate(row, setup)


def _check_reference(reference: date) -> None:
    if not is_reference_date(reference):
        raise InputError(
            f"reference date {reference} is out of range; a reference date lies "
            f"from {EARLIEST_REFERENCE} to {LATEST_REFERENCE}"
        )


# ---------------------------------------------------------------------------
# Creating proposals


@dataclass(frozen=True)
class RunSummary:
    """What a proposal run did."""

    run_id: int
    reference_date: date
    setup_version_id: int
    customer_count: int
    proposal_count: int
    excluded_count: int
    unmatched_count: int
    replaced_count: int
    duration_ms: int


def create_proposals(
    engine: Engine,
    reference: date,
    operator: str,
    *,
    setup: Setup | None = None,
    setup_source: str = "",
    progress: Progress | None = None,
    checkpoint_now: bool = True,
) -> RunSummary:
    """Evaluate every customer as of `reference` and replace the open proposals.

    A customer gets a proposal when it is not excluded, a segment matches, and that
    segment's dunning condition differs from the customer's current one. With `setup`
    given, that setup is used and recorded as a trial version instead of the current.
    `checkpoint_now` as for `apply_proposals`: a run that writes every proposal
    leaves a log that takes a third of a second to copy at a million customers.
    """
    _check_reference(reference)
    started = time.perf_counter()
    # Unchecked references: every proposal names the run made here and a customer
    # read from the store in this transaction, which holds the write lock; checking
    # a million of them one by one would cost a tenth of the run.
    with write_transaction(
        engine, check_references=False, checkpoint=checkpoint_now
    ) as connection:
        if setup is None:
            version_id, setup = require_setup(connection)
        else:
            version_id = store_setup(
                connection, setup, setup_source or "trial", operator, trial=True
            )
        total = customer_count(connection)
        run_id = int(
            connection.execute(
                insert(ProposalRun)
                .values(
                    reference_date=reference,
                    setup_version_id=version_id,
                    created_at=now_utc(),
                    created_by=operator,
                )
                .returning(ProposalRun.id)
            ).scalar_one()
        )
        writer = ProposalWriter(connection, run_id)
        settings = setup.settings
        rows = iter_customer_values(
            connection,
            reference,
            settings.lookback_months,
            settings.late_tolerance_days,
            read_ahead=total >= READ_AHEAD_FROM,
            metrics=metrics_read(setup) | PROPOSAL_METRICS,
        )
        done = excluded = unmatched = 0
        chooser = SegmentChooser(setup)
        reasons = ReasonWriter(setup)
        segments = setup.segment
        overdue_at = VALUE_NAMES.index("overdue_amount")
        ratio_at = VALUE_NAMES.index("late_ratio")
        try:
            replaced = writer.begin(may_drop_indexes=rows.elsewhere)
            if progress is not None:
                progress(0, total)
            for customer_no, condition, values in rows:
                done += 1
                index, held = chooser.choose(values)
                if index < 0:
                    if index == EXCLUDED:
                        excluded += 1
                    else:
                        unmatched += 1
                elif segments[index].dunning_condition != condition:
                    segment = segments[index]
                    writer.add(
                        customer_no,
                        condition,
                        segment.code,
                        segment.dunning_condition,
                        reasons.json(index, held, values),
                        values[overdue_at],
                        values[ratio_at],
                    )
                if progress is not None and done % BATCH == 0:
                    progress(done, total)
            proposals = writer.finish()
        finally:
            rows.close()
            writer.close()
        if progress is not None:
            progress(done, total)

        duration_ms = int((time.perf_counter() - started) * 1000)
        connection.execute(
            update(ProposalRun)
            .where(ProposalRun.id == run_id)
            .values(
                customer_count=done,
                proposal_count=proposals,
                excluded_count=excluded,
                unmatched_count=unmatched,
                duration_ms=duration_ms,
            )
        )
    log.info(
        "proposal run %s: %s customers, %s proposals (%s as they were), "
        "%s excluded, %s unmatched, %s replaced, %s ms",
        run_id,
        done,
        proposals,
        writer.kept,
        excluded,
        unmatched,
        replaced,
        duration_ms,
    )
    return RunSummary(
        run_id=run_id,
        reference_date=reference,
        setup_version_id=version_id,
        customer_count=done,
        proposal_count=proposals,
        excluded_count=excluded,
        unmatched_count=unmatched,
        replaced_count=replaced,
        duration_ms=duration_ms,
    )


# ---------------------------------------------------------------------------
# Reading proposals


@dataclass(frozen=True)
class ProposalView:
    """An open proposal as the operator sees it."""

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


@dataclass(frozen=True)
class RunInfo:
    """The run that the open proposals come from."""

    run_id: int
    reference_date: date
    created_at: datetime
    created_by: str
    proposal_count: int


def proposals_query() -> Select[Any]:
    """The open proposals with their customers' names, in customer number order."""
    return (
        select(
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
        )
        .join(Customer, Customer.customer_no == Proposal.customer_no)
        .order_by(Proposal.customer_no)
    )


def to_view(row: Any) -> ProposalView:
    return ProposalView(
        id=row.id,
        run_id=row.run_id,
        customer_no=row.customer_no,
        customer_name=row.name,
        current_condition=row.current_condition,
        segment=row.segment,
        proposed_condition=row.proposed_condition,
        reason=list(row.reason or []),
        overdue_amount=row.overdue_amount,
        late_ratio=Decimal(row.late_ratio),
    )


def list_proposals(engine: Engine) -> list[ProposalView]:
    with engine.connect() as connection:
        return [to_view(row) for row in connection.execute(proposals_query())]


def latest_run(connection: Connection) -> RunInfo | None:
    """The newest proposal run: the one every open proposal comes from."""
    return _run_info(
        connection,
        select(ProposalRun.__table__).order_by(ProposalRun.id.desc()).limit(1),
    )


def run_info(connection: Connection, run_id: int) -> RunInfo | None:
    """The proposal run `run_id`, None when there is none."""
    return _run_info(
        connection, select(ProposalRun.__table__).where(ProposalRun.id == run_id)
    )


def _run_info(connection: Connection, query: Select[Any]) -> RunInfo | None:
    run = connection.execute(query).first()
    if run is None:
        return None
    return RunInfo(
        run_id=run.id,
        reference_date=run.reference_date,
        created_at=run.created_at,
        created_by=run.created_by,
        proposal_count=run.proposal_count,
    )


def open_proposal_count(connection: Connection) -> int:
    return int(
        connection.execute(select(func.count()).select_from(Proposal)).scalar_one()
    )


# ---------------------------------------------------------------------------
# Selecting proposals: all, by customer number, or by proposal id


@dataclass(frozen=True)
class Selection:
    """Which open proposals an operation acts on.

    Those named (`customer_nos`, `proposal_ids`), and those described: every open
    proposal that the proposals list shows under one of `filters` (the empty
    filter shows every one), but for `except_ids`. `all` is the description of
    every open proposal. A description names no proposal, so it costs the same
    for ten proposals as for a million: the proposals page passes its marks so.
    """

    all: bool = False
    customer_nos: Sequence[str] = ()
    proposal_ids: Sequence[int] = ()
    filters: Sequence[str] = ()
    except_ids: Sequence[int] = ()

    @classmethod
    def everything(cls) -> "Selection":
        return cls(all=True)

    @property
    def described(self) -> bool:
        """Whether the selection describes proposals rather than only naming them."""
        return self.all or bool(self.filters)


@contextmanager
def _selected(
    connection: Connection, selection: Selection
) -> Iterator[SelectedProposals]:
    """The selected open proposals in the database, after checking the customers.

    A named customer number that no customer has refuses the whole operation.
    """
    with selected_proposals(
        connection,
        everything=selection.all,
        customer_nos=selection.customer_nos,
        proposal_ids=selection.proposal_ids,
        filters=selection.filters,
        except_ids=selection.except_ids,
    ) as chosen:
        unknown = chosen.unknown_customers()
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise InputError(
                f"unknown customer {shown}; see 'segment-tui proposals' for the open "
                "proposals"
            )
        yield chosen


def count_transitions(
    engine: Engine, selection: Selection
) -> Counter[tuple[str | None, str]]:
    """How many selected open proposals go from which condition to which.

    What an apply of `selection` would change, before it is made. Nothing is
    committed: the temporary tables of the selection go with the rollback.
    """
    return count_selection(engine, selection).transitions


@dataclass(frozen=True)
class SelectionCount:
    """What an apply of a selection would change, counted before it is made."""

    transitions: Counter[tuple[str | None, str]]
    """How many selected open proposals go from which condition to which."""
    hidden: int = 0
    """How many of them the proposals list does not show under its filter."""


def count_selection(
    engine: Engine, selection: Selection, filter_text: str = ""
) -> SelectionCount:
    """The selected open proposals by change of condition, and how many of them
    the list does not show under `filter_text`, the filter the operator sees."""
    with engine.connect() as connection, _selected(connection, selection) as chosen:
        return SelectionCount(chosen.transitions(), chosen.count_hidden(filter_text))


def count_hidden(engine: Engine, selection: Selection, filter_text: str) -> int:
    """How many selected open proposals the list does not show under
    `filter_text`: what a delete of `selection` takes out of the operator's view."""
    with engine.connect() as connection, _selected(connection, selection) as chosen:
        return chosen.count_hidden(filter_text)


def _not_open(chosen: SelectedProposals) -> list["Skipped"]:
    """Selected proposals that are no longer open: applied or deleted meanwhile."""
    customers, ids = chosen.not_open()
    skipped = [Skipped(no, "no open proposal for this customer") for no in customers]
    skipped += [
        Skipped(f"#{pid}", "the proposal is no longer open (applied or deleted)")
        for pid in ids
    ]
    return skipped


# ---------------------------------------------------------------------------
# Deleting proposals


def delete_proposals(
    engine: Engine,
    selection: Selection,
    *,
    expected_run_id: int | None = None,
    checkpoint_now: bool = True,
) -> int:
    """Delete the selected open proposals ("not this time"); how many were deleted.

    With `expected_run_id` (the run the operator is looking at), refused when a newer
    run has replaced those proposals. `--all` means all of the run that was newest
    when the call began, so a run made meanwhile is not deleted unseen.
    `checkpoint_now` as for `apply_proposals`.
    """
    seen = _seen_before_waiting(engine)
    # Unchecked references: taking proposals away breaks none (nothing refers to
    # a proposal), and SQLite, checking them, could not empty the table at once.
    with write_transaction(
        engine, check_references=False, checkpoint=checkpoint_now
    ) as connection:
        _check_run(connection, _expected_run(selection, expected_run_id, seen))
        with _selected(connection, selection) as chosen:
            deleted = chosen.delete_proposals()
    log.info("%s proposals deleted", deleted)
    return deleted


def tidy_store(engine: Engine) -> None:
    """Finish what a write with `checkpoint_now` false left: copy SQLite's
    write-ahead log into the store file. For a worker thread, after the operator
    has seen the result; nothing to do on PostgreSQL."""
    checkpoint_log(engine)


# ---------------------------------------------------------------------------
# Other operators: what changed while this one waited for the write lock


@dataclass(frozen=True)
class Seen:
    """The store as an operation found it before it waited for the write lock."""

    run_id: int | None
    last_change_id: int
    excepted_customers: frozenset[str] = frozenset()
    """The customers of the proposals a described selection leaves out."""


def _seen_before_waiting(engine: Engine, selection: Selection | None = None) -> Seen:
    excepted: set[str] = set()
    with engine.connect() as connection:
        run = latest_run(connection)
        last = connection.execute(select(func.max(SegmentChange.id))).scalar_one()
        if selection is not None and selection.described:
            # Read now, while those proposals are still open: another operator may
            # apply them while this operation waits.
            ids = list(selection.except_ids)
            for start in range(0, len(ids), 500):
                excepted.update(
                    connection.execute(
                        select(Proposal.customer_no).where(
                            Proposal.id.in_(ids[start : start + 500])
                        )
                    ).scalars()
                )
    return Seen(run.run_id if run else None, int(last or 0), frozenset(excepted))


def _expected_run(
    selection: Selection, expected_run_id: int | None, seen: Seen
) -> int | None:
    """The run the selected proposals must come from, if the selection names one."""
    if expected_run_id is not None:
        return expected_run_id
    return seen.run_id if selection.described else None


def _check_run(connection: Connection, expected_run_id: int | None) -> None:
    """Refuse when a newer run has replaced the proposals the operator is acting on."""
    if expected_run_id is None:
        return
    newest = latest_run(connection)
    if newest is None or newest.run_id != expected_run_id:
        raise InputError(
            f"these proposals come from run {expected_run_id}; run "
            f"{newest.run_id if newest else 'none'} has replaced them since: "
            "reload the proposals"
        )


def _applied_meanwhile(
    connection: Connection,
    seen: Seen,
    customer_nos: Sequence[str] | None,
    filters: Sequence[str] = (),
) -> list["Skipped"]:
    """Changes that other operators applied since `seen`, as skipped proposals.

    Of the given customers; or, when `customer_nos` is None, of the customers that
    any of `filters` shows (every customer when there are none), but for the
    customers `seen` holds as excepted.
    """
    query = select(
        SegmentChange.customer_no, SegmentChange.applied_by, SegmentChange.batch_id
    ).where(SegmentChange.id > seen.last_change_id)
    if customer_nos is None:
        shown = _shown_by(filters)
        if shown is not None:
            query = query.where(shown)
        rows = [
            row
            for row in connection.execute(query.order_by(SegmentChange.customer_no))
            if row.customer_no not in seen.excepted_customers
        ]
    else:
        rows = []
        wanted = list(dict.fromkeys(customer_nos))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows.extend(
                connection.execute(query.where(SegmentChange.customer_no.in_(chunk)))
            )
    return [
        Skipped(
            row.customer_no,
            f"already applied by {row.applied_by} (batch {row.batch_id}) while "
            "this apply waited for the store",
        )
        for row in rows
    ]


def _shown_by(filters: Sequence[str]) -> ColumnElement[bool] | None:
    """Whether the list showed an applied change's proposal under any of `filters`,
    judged by what the change copied from it; None for every change."""
    change = SegmentChange.__table__.c
    customer = Customer.__table__.c
    name = (
        select(customer.name)
        .where(customer.customer_no == change.customer_no)
        .scalar_subquery()
    )
    return any_filter(filters or ("",), change.customer_no, name, change.segment)


# ---------------------------------------------------------------------------
# Applying proposals


@dataclass(frozen=True)
class Skipped:
    """A selected proposal that was not applied, and why."""

    customer_no: str
    why: str


@dataclass
class ApplyResult:
    """What an apply did: its batch id, who changed and who was skipped."""

    batch_id: int | None
    applied: list[str] = field(default_factory=list)
    """The customer numbers changed, in order; empty when not asked for."""
    skipped: list[Skipped] = field(default_factory=list)
    applied_at: datetime | None = None
    applied_count: int = 0
    """How many proposals were applied, whether or not `applied` names them."""


def _stale_reason(row: Any, exclude: Sequence[str]) -> str | None:
    if row.current_condition != row.dunning_condition:
        return (
            f"the customer's dunning condition changed from "
            f"{row.current_condition or 'none'} to {row.dunning_condition or 'none'} "
            "since the proposal was made"
        )
    flagged = [flag for flag in exclude if getattr(row, flag)]
    if flagged:
        return "the customer is now " + ", ".join(flagged).replace("_", " ")
    return None


def apply_proposals(
    engine: Engine,
    selection: Selection,
    operator: str,
    *,
    expected_run_id: int | None = None,
    name_applied: bool = True,
    checkpoint_now: bool = True,
) -> ApplyResult:
    """Apply the selected proposals in one transaction.

    Each customer's dunning condition becomes the proposed one and its segment the
    proposed segment, with one history row per change, all under one batch id. A
    proposal whose customer's condition changed since it was made, or who has since
    been given an excluding flag, is skipped with the reason and stays open.

    With `expected_run_id` (the run the operator is looking at), refused when a newer
    run has replaced those proposals; `--all` means all of the run that was newest
    when the call began. Proposals that another operator applied while this call
    waited for the store are reported as skipped, with who applied them. With
    `name_applied` false the result counts the applied proposals without naming
    their customers, which for a hundred thousand costs a fifth of the apply.
    With `checkpoint_now` false the caller calls `tidy_store` afterwards (see
    `write_transaction`): the UI does, once the operator sees the result.
    """
    started = time.perf_counter()
    seen = _seen_before_waiting(engine, selection)
    # Unchecked references on SQLite: each holds by construction. The history
    # rows name the batch made here and the run and customer of an open proposal
    # (joined with its customer); the customers get a proposed condition, which
    # the setup that made the proposal stored. Checking them would cost three
    # lookups per change, and would keep SQLite from emptying the proposal table
    # at once when every proposal is applied.
    with write_transaction(
        engine, check_references=False, checkpoint=checkpoint_now
    ) as connection:
        _check_run(connection, _expected_run(selection, expected_run_id, seen))
        with _selected(connection, selection) as chosen:
            result = _apply_selected(
                connection, chosen, selection, seen, operator, name_applied
            )
    if result.batch_id is None:
        log.info("apply: nothing applied, %s skipped", len(result.skipped))
        return result
    log.info(
        "apply batch %s: %s applied, %s skipped, %s ms",
        result.batch_id,
        result.applied_count,
        len(result.skipped),
        int((time.perf_counter() - started) * 1000),
    )
    return result


def _apply_selected(
    connection: Connection,
    chosen: SelectedProposals,
    selection: Selection,
    seen: Seen,
    operator: str,
    name_applied: bool,
) -> ApplyResult:
    stored = current_setup(connection)
    exclude = stored[1].settings.exclude if stored else ()
    skipped = _not_open(chosen)
    if skipped:
        meanwhile = {
            s.customer_no: s
            for s in _applied_meanwhile(
                connection, seen, [s.customer_no for s in skipped]
            )
        }
        skipped = [meanwhile.get(s.customer_no, s) for s in skipped]
    if selection.described:
        named = {s.customer_no for s in skipped}
        filters = () if selection.all else selection.filters
        skipped += [
            s
            for s in _applied_meanwhile(connection, seen, None, filters)
            if s.customer_no not in named
        ]
    selected = chosen.count()
    if not selected:
        return ApplyResult(batch_id=None, skipped=skipped)

    # The batch first, for the history rows to name; its counts are right unless
    # some proposals turn out stale.
    applied_at = now_utc()
    batch_id = int(
        connection.execute(
            insert(ApplyBatch)
            .values(
                applied_at=applied_at,
                applied_by=operator,
                applied_count=selected,
                skipped_count=len(skipped),
            )
            .returning(ApplyBatch.id)
        ).scalar_one()
    )
    applied_count = chosen.write_history(batch_id, applied_at, operator, exclude)
    if applied_count < selected:
        for row in chosen.set_aside_stale(exclude):
            skipped.append(Skipped(row.customer_no, _stale_reason(row, exclude) or ""))
        if not applied_count:
            # Every one stale: no batch, as when nothing was selected. The row was
            # made in this transaction and nothing names it.
            connection.execute(delete(ApplyBatch).where(ApplyBatch.id == batch_id))
            return ApplyResult(batch_id=None, skipped=skipped)
        connection.execute(
            update(ApplyBatch)
            .where(ApplyBatch.id == batch_id)
            .values(applied_count=applied_count, skipped_count=len(skipped))
        )

    applied = chosen.customer_numbers() if name_applied else []
    _update_customers(chosen)
    chosen.delete_proposals(applied=True)
    return ApplyResult(
        batch_id=batch_id,
        applied=applied,
        skipped=skipped,
        applied_at=applied_at,
        applied_count=applied_count,
    )


def _update_customers(chosen: SelectedProposals) -> None:
    """Set each selected proposal's customer's condition and segment."""
    chosen.update_customers()


# ---------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class Change:
    """One applied change of a customer's dunning condition."""

    customer_no: str
    from_condition: str | None
    to_condition: str
    segment: str
    applied_at: datetime
    applied_by: str
    run_id: int
    batch_id: int
    reason: list[dict[str, Any]]


def history(engine: Engine, customer_no: str | None = None) -> list[Change]:
    """Applied changes, newest first; of one customer when `customer_no` is given."""
    query = select(SegmentChange.__table__).order_by(SegmentChange.id.desc())
    if customer_no is not None:
        query = query.where(SegmentChange.customer_no == customer_no)
    with engine.connect() as connection:
        return [
            Change(
                customer_no=c.customer_no,
                from_condition=c.from_condition,
                to_condition=c.to_condition,
                segment=c.segment,
                applied_at=_as_utc(c.applied_at),
                applied_by=c.applied_by,
                run_id=c.run_id,
                batch_id=c.batch_id,
                reason=list(c.reason or []),
            )
            for c in connection.execute(query)
        ]


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
