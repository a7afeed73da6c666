"""The command line (contract section 2): every command calls the service layer.

Exit status: 0 done; 2 the input was refused (one sentence on standard error, no
traceback, nothing changed); 1 anything else (the details go to the log file).
"""

import argparse
import csv
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

from segment_tui import __version__, jsonout, services
from segment_tui.errors import InputError
from segment_tui.logs import configure_logging
from segment_tui.paths import default_database, demo_database
from segment_tui.rules.conditions import FLAG_NAMES, shown_value
from segment_tui.rules.metrics import METRIC_NAMES
from segment_tui.rules.setup import load_setup
from segment_tui.rules.window import (
    EARLIEST_REFERENCE,
    LATEST_REFERENCE,
    is_reference_date,
)
from segment_tui.store.engine import (
    create_schema,
    database_url,
    make_engine,
    remedy,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_REFUSED = 0, 1, 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a refusal is one line on standard error and exit status 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_REFUSED, f"{self.prog}: {message} (see {self.prog} --help)\n")


def iso_date(text: str) -> date:
    """A reference date written YYYY-MM-DD, within the range the metrics take."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write YYYY-MM-DD"
        ) from None
    if not is_reference_date(day):
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range; a reference date lies from "
            f"{EARLIEST_REFERENCE} to {LATEST_REFERENCE}"
        )
    return day


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="segment-tui",
        description="Segment customers by payment behaviour and set their dunning "
        "condition.",
    )
    parser.add_argument(
        "--db",
        metavar="URL_OR_PATH",
        help="the store: a SQLAlchemy URL or a SQLite file "
        "(default: $SEGMENT_TUI_DB, else a file in the user data directory)",
    )
    parser.add_argument(
        "--operator",
        metavar="NAME",
        help="who is recorded in runs and history (default: the OS user)",
    )
    parser.add_argument(
        "--demo",
        dest="open_demo",
        action="store_true",
        help="open the UI on a demo store with generated data",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="create the schema and the default setup")
    init.add_argument("--demo", action="store_true", help="add generated demo data")
    init.add_argument(
        "--customers",
        type=int,
        default=400,
        metavar="N",
        help="how many demo customers (default 400)",
    )
    init.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)

    setup = commands.add_parser("setup", help="load or show the setup")
    setup_commands = setup.add_subparsers(dest="setup_command", required=True)
    load = setup_commands.add_parser("load", help="validate and store a setup file")
    load.add_argument("file", type=Path)
    show = setup_commands.add_parser("show", help="print the current setup")
    show.add_argument("--format", choices=("toml", "json"), default="toml")

    importing = commands.add_parser(
        "import", help="import customers, ledger, reminders"
    )
    import_commands = importing.add_subparsers(dest="import_kind", required=True)
    for kind in ("customers", "ledger", "reminders"):
        sub = import_commands.add_parser(kind, help=f"import {kind} from a CSV file")
        sub.add_argument("file", type=Path)
        sub.add_argument("--mapping", type=Path, required=True, metavar="M.toml")
        if kind == "ledger":
            sub.add_argument(
                "--condition",
                metavar="CODE",
                help="dunning condition of customers that the import creates",
            )

    metrics = commands.add_parser("metrics", help="every customer's metrics")
    metrics.add_argument("--date", type=iso_date, default=None, metavar="D")
    metrics.add_argument("--format", choices=("table", "json", "csv"), default="table")

    propose = commands.add_parser("propose", help="create proposals")
    propose.add_argument("--date", type=iso_date, default=None, metavar="D")
    propose.add_argument(
        "--setup",
        type=Path,
        metavar="FILE",
        help="evaluate this setup file without storing it as the current setup",
    )
    propose.add_argument("--format", choices=("table", "json"), default="table")

    proposals = commands.add_parser("proposals", help="list the open proposals")
    proposals.add_argument("--format", choices=("table", "json"), default="table")

    for name, what in (("delete", "delete open proposals"), ("apply", "apply them")):
        sub = commands.add_parser(name, help=what)
        sub.add_argument("customers", nargs="*", metavar="CUSTOMER")
        sub.add_argument("--all", action="store_true", help="every open proposal")
        if name == "apply":
            sub.add_argument("--format", choices=("table", "json"), default="table")

    history = commands.add_parser("history", help="applied changes, newest first")
    history.add_argument("--format", choices=("table", "json"), default="table")
    return parser


# ---------------------------------------------------------------------------
# Output


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO
) -> None:
    """Rows as aligned text columns; numbers are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [
        bool(rows) and all(_is_number(row[i]) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(headers) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) or type(value).__name__ == "Decimal"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(str(value))


# Control characters (C0, DEL, C1) as Python writes them in a literal: \x1b.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """`text` for the terminal: control characters shown, not obeyed.

    Names and numbers come from import files and arguments; an escape sequence in
    one would clear the screen or retitle the window, a line break would split a
    table row or a one-line message.
    """
    return text.translate(_CONTROLS)


def reason_text(reason: Sequence[dict[str, Any]]) -> str:
    """A reason as one short line: "late_ratio 0.6 >= 0.5; max_days_overdue 75 > 60"."""
    if not reason:
        return "no conditions (everyone else)"
    parts = []
    for item in reason:
        if item.get("threshold") is None:
            parts.append(str(item["condition"]))
        else:
            parts.append(
                f"{item['metric']} {item['value']} {item['op']} {item['threshold']}"
            )
    return "; ".join(parts)


def write_json(value: object, out: TextIO) -> None:
    out.write(jsonout.dumps(value, indent=2) + "\n")


def masked(url: str) -> str:
    """The database URL as it may be shown: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unreadable URL is shown as typed, without credentials
        return url.split("@")[-1]


# ---------------------------------------------------------------------------
# Commands


class Context:
    """What every command needs: the store, the operator, the output stream."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.args = args
        self.out = out
        self.operator: str = args.operator or services.default_operator()
        given = args.db or default_database()
        try:
            self.url = database_url(given)
        except ValueError:  # a URL that SQLAlchemy cannot parse, e.g. port "abc"
            raise InputError(
                f"--db: {masked(given)!r} is not a database URL; write "
                "sqlite:///FILE, postgresql+psycopg://USER@HOST:PORT/DB (PORT a "
                "number) or a file path"
            ) from None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
            services.initialise(self._engine, self.operator)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def cmd_init(ctx: Context) -> int:
    engine = make_engine(ctx.url)
    upgrade = create_schema(engine)
    stored_default = services.initialise(engine, ctx.operator)
    ctx._engine = engine
    setup = "default setup stored" if stored_default else "the stored setup was kept"
    if upgrade is None:
        ctx.out.write(f"Schema is up to date; {setup}.\n")
    elif upgrade.from_revision is None:
        ctx.out.write(f"Schema created; {setup}.\n")
    else:
        ctx.out.write(
            f"Schema upgraded from version {upgrade.from_revision} to "
            f"{upgrade.to_revision}; {setup}.\n"
        )
    if ctx.args.demo:
        from segment_tui.demo import generate_demo

        if ctx.args.customers < 1:
            raise InputError("--customers: give a number of 1 or more")
        result = generate_demo(engine, ctx.args.customers, seed=ctx.args.seed)
        ctx.out.write(
            f"Demo data: {_count(result.customers, 'customer')}, "
            f"{_count(result.ledger_entries, 'ledger entry', 'ledger entries')}, "
            f"{_count(result.reminders, 'reminder')}.\n"
        )
    return EXIT_OK


def cmd_setup(ctx: Context) -> int:
    if ctx.args.setup_command == "load":
        setup = load_setup(ctx.args.file)
        version = services.load_setup_file(
            ctx.engine, setup, str(ctx.args.file), ctx.operator
        )
        ctx.out.write(
            f"Setup version {version} stored: {len(setup.segment)} segments, "
            f"{len(setup.dunning_condition)} dunning conditions.\n"
        )
        return EXIT_OK
    with ctx.engine.connect() as connection:
        _, current = services.require_setup(connection)
    if ctx.args.format == "json":
        write_json(current.model_dump(mode="json"), ctx.out)
    else:
        ctx.out.write(current.to_toml())
    return EXIT_OK


def cmd_import(ctx: Context) -> int:
    from segment_tui import importing

    kind = ctx.args.import_kind
    mapping = importing.load_mapping(ctx.args.mapping, kind)
    if kind == "customers":
        result = importing.import_customers(ctx.engine, ctx.args.file, mapping)
    elif kind == "ledger":
        result = importing.import_ledger(
            ctx.engine, ctx.args.file, mapping, ctx.args.condition
        )
    else:
        result = importing.import_reminders(ctx.engine, ctx.args.file, mapping)
    ctx.out.write(
        f"{ctx.args.file.name}: {_count(result.rows, 'row')}; "
        f"{result.inserted} new, {result.updated} updated, "
        f"{result.unchanged} unchanged; "
        f"{_count(result.customers_created, 'customer')} created.\n"
    )
    for warning in result.warnings:
        sys.stderr.write(f"warning: {printable(warning)}\n")
    return EXIT_OK


def cmd_metrics(ctx: Context) -> int:
    reference = ctx.args.date or date.today()
    fields = ["customer_no", *METRIC_NAMES, *FLAG_NAMES, "segment"]
    with ctx.engine.connect() as connection:
        _, setup = services.require_setup(connection)
        evaluations = services.iter_evaluations(connection, setup, reference)
        records = (_metrics_record(evaluation) for evaluation in evaluations)
        if ctx.args.format == "json":
            # One customer a line, written as it is computed: a million customers
            # never sit in memory at once.
            ctx.out.write("[")
            for number, record in enumerate(records):
                ctx.out.write(",\n  " if number else "\n  ")
                ctx.out.write(jsonout.dumps(record))
            ctx.out.write("\n]\n")
        elif ctx.args.format == "csv":
            writer = csv.writer(ctx.out, lineterminator="\n")
            writer.writerow(fields)
            for record in records:
                writer.writerow([_csv_value(record[f]) for f in fields])
        else:
            shown = [f for f in fields if f not in FLAG_NAMES]
            rows = [[_rounded(record[f]) for f in shown] for record in records]
            print_table(shown, rows, ctx.out)
    return EXIT_OK


def _metrics_record(evaluation: services.Evaluation) -> dict[str, Any]:
    """One customer's metrics, flags and segment; ratios to four decimals.

    Conditions compare the exact ratio (1/3 is not 0.3333); the output shows four
    decimals rather than twenty-eight.
    """
    segment = evaluation.choice.segment
    metrics = {
        name: shown_value(value) for name, value in evaluation.metrics.as_dict().items()
    }
    return (
        {"customer_no": evaluation.customer.customer_no}
        | metrics
        | evaluation.customer.flags
        | {"segment": segment.code if segment else None}
    )


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def _rounded(value: object) -> object:
    """Ratios and averages with two decimals for the eye; JSON and CSV stay exact."""
    from decimal import Decimal

    if isinstance(value, Decimal) and value.as_tuple().exponent < -2:  # type: ignore[operator]
        return value.quantize(Decimal("0.01"))
    return value


def _proposals_document(
    run: services.RunInfo | None, proposals: Sequence[services.ProposalView]
) -> dict[str, Any]:
    return {
        "run_id": run.run_id if run else None,
        "reference_date": run.reference_date if run else None,
        "proposals": [
            {
                "customer_no": p.customer_no,
                "customer_name": p.customer_name,
                "current_condition": p.current_condition,
                "segment": p.segment,
                "proposed_condition": p.proposed_condition,
                "reason": p.reason,
            }
            for p in proposals
        ],
    }


def _print_proposals(
    ctx: Context,
    run: services.RunInfo | None,
    proposals: Sequence[services.ProposalView],
) -> None:
    if ctx.args.format == "json":
        write_json(_proposals_document(run, proposals), ctx.out)
        return
    if run is not None:
        ctx.out.write(
            f"Run {run.run_id} as of {run.reference_date}: "
            f"{len(proposals)} open proposals.\n"
        )
    if not proposals:
        ctx.out.write("No open proposals; create them with 'segment-tui propose'.\n")
        return
    print_table(
        ["customer", "name", "current", "segment", "proposed", "reason"],
        [
            [
                p.customer_no,
                p.customer_name,
                p.current_condition,
                p.segment,
                p.proposed_condition,
                reason_text(p.reason),
            ]
            for p in proposals
        ],
        ctx.out,
    )


def cmd_propose(ctx: Context) -> int:
    reference = ctx.args.date or date.today()
    setup = load_setup(ctx.args.setup) if ctx.args.setup else None
    summary = services.create_proposals(
        ctx.engine,
        reference,
        ctx.operator,
        setup=setup,
        setup_source=str(ctx.args.setup or ""),
    )
    if ctx.args.format == "table":
        ctx.out.write(
            f"Run {summary.run_id} as of {summary.reference_date}: "
            f"{_count(summary.customer_count, 'customer')} evaluated, "
            f"{_count(summary.proposal_count, 'proposal')} "
            f"({summary.excluded_count} excluded, {summary.unmatched_count} in no "
            f"segment, {summary.replaced_count} earlier "
            f"{'proposal' if summary.replaced_count == 1 else 'proposals'} "
            "replaced).\n"
        )
    # Another operator may have replaced, applied or deleted some of this run's
    # proposals already: list what is still open of this run, and say so.
    proposals = [
        p for p in services.list_proposals(ctx.engine) if p.run_id == summary.run_id
    ]
    with ctx.engine.connect() as connection:
        run = services.run_info(connection, summary.run_id)
    if len(proposals) != summary.proposal_count:
        sys.stderr.write(
            f"segment-tui: {summary.proposal_count - len(proposals)} of the "
            f"proposals of run {summary.run_id} were applied, deleted or replaced "
            "by another operator before they could be listed\n"
        )
    _print_proposals(ctx, run, proposals)
    return EXIT_OK


def cmd_proposals(ctx: Context) -> int:
    proposals = services.list_proposals(ctx.engine)
    # The run of the proposals read, not the newest one: a run may have been made
    # between the two reads.
    with ctx.engine.connect() as connection:
        run = services.run_info(connection, proposals[0].run_id) if proposals else None
    _print_proposals(ctx, run, proposals)
    return EXIT_OK


def _selection(ctx: Context) -> services.Selection:
    if ctx.args.all and ctx.args.customers:
        raise InputError("give --all or customer numbers, not both")
    if ctx.args.all:
        return services.Selection.everything()
    if not ctx.args.customers:
        raise InputError(
            f"name the customers whose proposals to {ctx.args.command}, or give --all"
        )
    return services.Selection(customer_nos=tuple(ctx.args.customers))


def _count(number: int, one: str, many: str = "") -> str:
    """`number` and the noun, singular for 1: "1 proposal", "3 proposals"."""
    return f"{number} {one if number == 1 else (many or one + 's')}"


def cmd_delete(ctx: Context) -> int:
    deleted = services.delete_proposals(ctx.engine, _selection(ctx))
    ctx.out.write(f"{_count(deleted, 'proposal')} deleted.\n")
    return EXIT_OK


def cmd_apply(ctx: Context) -> int:
    result = services.apply_proposals(ctx.engine, _selection(ctx), ctx.operator)
    if ctx.args.format == "json":
        write_json(
            {
                "batch_id": result.batch_id,
                "applied": result.applied,
                "skipped": [
                    {"customer_no": s.customer_no, "why": s.why} for s in result.skipped
                ],
            },
            ctx.out,
        )
        return EXIT_OK
    batch = f" (batch {result.batch_id})" if result.batch_id else ""
    ctx.out.write(
        f"{_count(len(result.applied), 'proposal')} applied{batch}, "
        f"{len(result.skipped)} skipped.\n"
    )
    if result.skipped:
        print_table(
            ["customer", "why skipped"],
            [[s.customer_no, s.why] for s in result.skipped],
            ctx.out,
        )
    return EXIT_OK


def cmd_history(ctx: Context) -> int:
    changes = services.history(ctx.engine)
    if ctx.args.format == "json":
        write_json(
            [
                {
                    "customer_no": c.customer_no,
                    "from_condition": c.from_condition,
                    "to_condition": c.to_condition,
                    "segment": c.segment,
                    "applied_at": c.applied_at,
                    "applied_by": c.applied_by,
                    "run_id": c.run_id,
                    "batch_id": c.batch_id,
                }
                for c in changes
            ],
            ctx.out,
        )
        return EXIT_OK
    if not changes:
        ctx.out.write("No changes applied yet.\n")
        return EXIT_OK
    print_table(
        ["applied at (UTC)", "by", "customer", "from", "to", "segment", "run", "batch"],
        [
            [
                c.applied_at.strftime("%Y-%m-%d %H:%M:%S"),
                c.applied_by,
                c.customer_no,
                c.from_condition,
                c.to_condition,
                c.segment,
                c.run_id,
                c.batch_id,
            ]
            for c in changes
        ],
        ctx.out,
    )
    return EXIT_OK


def open_ui(ctx: Context, demo: bool) -> int:
    if demo:
        ctx.url = database_url(ctx.args.db or demo_database())
        engine = ctx.engine
        with engine.connect() as connection:
            empty = services.customer_count(connection) == 0
        if empty:
            from segment_tui.demo import generate_demo

            generate_demo(engine, 400)
        with engine.connect() as connection:
            fresh = services.latest_run(connection) is None
        if fresh:
            services.create_proposals(engine, date.today(), ctx.operator)
    else:
        ctx.engine  # noqa: B018 - creates the schema before the screens open
    from segment_tui.app import run_app

    run_app(ctx.url, ctx.operator)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Context], int]] = {
    "init": cmd_init,
    "setup": cmd_setup,
    "import": cmd_import,
    "metrics": cmd_metrics,
    "propose": cmd_propose,
    "proposals": cmd_proposals,
    "delete": cmd_delete,
    "apply": cmd_apply,
    "history": cmd_history,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; the exit status is returned (and used by the script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    log_file = configure_logging()
    stream = out or sys.stdout
    ctx: Context | None = None
    try:
        ctx = Context(args, stream)
        if args.command is None:
            return open_ui(ctx, args.open_demo)
        if args.open_demo:
            raise InputError("--demo opens the UI; for demo data use 'init --demo'")
        return COMMANDS[args.command](ctx)
    except InputError as exc:
        sys.stderr.write(f"segment-tui: {printable(str(exc))}\n")
        return EXIT_REFUSED
    except (IntegrityError, ProgrammingError, DataError):
        # The store refused what the program asked: a bug, not an unusable store.
        log.exception("command %s failed in the database", args.command)
        sys.stderr.write(
            f"segment-tui: {args.command or 'the UI'} failed in the database and "
            "changed nothing; details in "
            f"{log_file or 'no log file (the log folder is not writable)'}\n"
        )
        return EXIT_ERROR
    except DBAPIError as exc:
        where = masked(ctx.url) if ctx else "the store"
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        log.error("database error on %s: %s", where, type(exc.orig).__name__)
        sys.stderr.write(
            f"segment-tui: the store at {where} cannot be used: {reason}; "
            f"{remedy(exc)}\n"
        )
        return EXIT_REFUSED
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("segment-tui: interrupted; nothing half-done was kept\n")
        return EXIT_ERROR
    except Exception:  # the last resort: a sentence here, the traceback in the log
        log.exception("command %s failed", args.command)
        sys.stderr.write(
            f"segment-tui: {args.command or 'the UI'} failed unexpectedly; "
            f"details in {log_file or 'no log file (the log folder is not writable)'}\n"
        )
        return EXIT_ERROR
    finally:
        if ctx is not None:
            ctx.close()
