"""Opening a store: an engine from a URL or a file path, and the schema.

SQLite gets foreign keys, write-ahead logging and a busy timeout on every connection;
JSON columns keep decimals exact in both databases. A writer that has to wait for
another one waits at most the busy timeout (`SEGMENT_TUI_BUSY_TIMEOUT` seconds, on
both databases) and then gives up with `StoreBusyError`. Bound parameters are kept
out of error messages, so that a logged error never carries a name or an amount.
"""

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from segment_tui import jsonout
from segment_tui.errors import InputError

if TYPE_CHECKING:
    from segment_tui.store.schema import Upgrade

BUSY_TIMEOUT_VARIABLE = "SEGMENT_TUI_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 10

# Every writer of the store takes this lock first, so that writes are serialised:
# PostgreSQL by an advisory lock for the transaction, SQLite by BEGIN IMMEDIATE.
_PG_WRITE_LOCK_KEY = 0x5E67_7001
_WRITER = "segment_tui_writer"
_BUSY_TIMEOUT_MS = "segment_tui_busy_timeout_ms"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_PG_LOCK_NOT_AVAILABLE = "55P03"


class StoreBusyError(InputError):
    """Another writer held the store for longer than the busy timeout."""

    def __init__(self) -> None:
        super().__init__(
            "the store is busy (another operator is writing); try again in a moment"
        )


def busy_timeout() -> float:
    """How many seconds a writer waits for another one: `SEGMENT_TUI_BUSY_TIMEOUT`."""
    raw = os.environ.get(BUSY_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0.1 <= seconds <= 3600:
        raise InputError(
            f"{BUSY_TIMEOUT_VARIABLE}: {raw!r} is not a number of seconds; give a "
            "number from 0.1 to 3600, or unset it for 10"
        )
    return seconds


def without_credentials(url: str) -> str:
    """A URL as typed, with the user name and password left out, for messages."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{path}"


def remedy(error: DBAPIError) -> str:
    """The way out of a database error that stops the store from being used."""
    original = error.orig
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        # The extended code first (a full disk can show as a failed -shm resize),
        # then the primary one in its low byte.
        return _SQLITE_REMEDIES.get(
            code, _SQLITE_REMEDIES.get(code & 0xFF, _CHECK_THE_URL)
        )
    message = str(original)
    if "password authentication failed" in message:
        return "check the user name and password in the URL"
    if "Connection refused" in message or "timeout expired" in message:
        return "check that the server is running and the host and port in the URL"
    if "does not exist" in message and "database" in message:
        return "check the database name in the URL"
    return _CHECK_THE_URL


_CHECK_THE_URL = "check --db or SEGMENT_TUI_DB"
_FREE_SPACE = "free some space on the disk of the store and try again"
_SQLITE_REMEDIES = {
    8: "make the store and its folder writable, or choose another with --db",
    10: "check the disk of the store: it may be full or failing",
    13: _FREE_SPACE,
    14: "check that the store's folder exists and can be written to",
    26: "point --db or SEGMENT_TUI_DB at a segment-tui store",
    4874: _FREE_SPACE,
}
"""By SQLite result code: READONLY, IOERR, FULL, CANTOPEN, NOTADB, IOERR_SHMSIZE."""


def is_busy(error: DBAPIError) -> bool:
    """Whether the database refused because another writer holds the store."""
    original = error.orig
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return getattr(original, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE


def database_url(url_or_path: str) -> str:
    """A SQLAlchemy URL from what the operator typed: a URL, or a SQLite file path."""
    if "://" in url_or_path:
        shown = without_credentials(url_or_path)
        authority = url_or_path.split("://", 1)[1].split("/", 1)[0]
        if authority.count("@") > 1:
            # The URL parser would take the rest of the password for the host name,
            # and show it in messages.
            raise InputError(
                f"--db: {shown!r} has more than one @ before the host; write an @ "
                "in the user name or password as %40"
            )
        try:
            make_url(url_or_path)
        except (ArgumentError, ValueError):
            raise InputError(
                f"--db: {shown!r} is not a database URL; write "
                "sqlite:///FILE, postgresql+psycopg://USER@HOST/DB or a file path"
            ) from None
        return url_or_path
    path = Path(url_or_path).expanduser().resolve()
    return f"sqlite:///{path}"


SORT_THREADS = min(4, os.cpu_count() or 1)
"""Helper threads SQLite may use for one large sort (`PRAGMA threads`)."""


def _sqlite_pragmas(timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so that writers can
        # take the write lock up front (BEGIN IMMEDIATE) instead of upgrading a
        # read lock, which fails at once instead of waiting when another writer
        # committed meanwhile.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        # SQLite itself retries a locked store until this many milliseconds pass.
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Large sorts (an index built anew, a GROUP BY without one) are sorted in
        # parts by helper threads: the proposal list's indexes, rebuilt after a
        # large proposal run, take a sixth less time on two cores.
        cursor.execute(f"PRAGMA threads = {SORT_THREADS}")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITER, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prepare_sqlite_file(path: str) -> None:
    """Create the parent folder and the file readable by the owner only.

    SQLite creates the -wal and -shm files next to it with the same permissions.
    """
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path)
    try:
        file.parent.mkdir(mode=stat.S_IRWXU, parents=True, exist_ok=True)
        if not file.exists():
            fd = os.open(file, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
            os.close(fd)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"the store {file} cannot be created: {reason.lower()}; choose a "
            "writable location with --db or SEGMENT_TUI_DB"
        ) from None
    if not os.access(file.parent, os.W_OK | os.X_OK):
        raise InputError(
            f"the store {file} is in a folder that cannot be written to, and SQLite "
            "keeps its -wal and -shm files next to the store; move it to a writable "
            "folder or choose another with --db or SEGMENT_TUI_DB"
        )


def make_engine(url_or_path: str) -> Engine:
    """An engine for the store at `url_or_path` (the schema is not touched)."""
    url = make_url(database_url(url_or_path))
    timeout = busy_timeout()
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_file(url.database or "")
        engine = create_engine(
            url,
            json_serializer=jsonout.dumps,
            json_deserializer=jsonout.loads,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas(int(timeout * 1000)))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        # A server that does not answer is reported instead of waited for.
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    try:
        return create_engine(
            url,
            json_serializer=jsonout.dumps,
            json_deserializer=jsonout.loads,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args=connect_args,
            execution_options={_BUSY_TIMEOUT_MS: int(timeout * 1000)},
        )
    except (ImportError, NoSuchModuleError):
        hint = (
            "pip install 'segment-tui[postgres]' and write "
            "postgresql+psycopg://USER@HOST/DB"
            if url.get_backend_name() == "postgresql"
            else "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
        raise InputError(
            f"--db: no database driver for {url.drivername!r} is installed; {hint}"
        ) from None


@contextmanager
def write_transaction(
    engine: Engine,
    *,
    schema_change: bool = False,
    check_references: bool = True,
    checkpoint: bool = True,
) -> Iterator[Connection]:
    """A transaction that writes to the store, serialised with every other writer.

    Committed when the block ends, rolled back when it raises: all or nothing. When
    another writer holds the store longer than the busy timeout, `StoreBusyError`.
    With `schema_change`, SQLite checks foreign keys at the end instead of on every
    statement, because a migration may have to copy a table to change it. With
    `check_references` false, SQLite does not check them at all: for bulk writes
    whose references hold by construction, where the check would cost a lookup
    per row (PostgreSQL checks them always).

    With `checkpoint` false, SQLite's commit does not copy its write-ahead log into
    the store file, as it does once the log has grown past a thousand pages: the
    caller does that later with `checkpoint_log`, off the operator's wait. The
    commit is as safe either way; the log just stays longer.
    """
    try:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            unchecked = sqlite and (schema_change or not check_references)
            deferred = sqlite and not checkpoint
            if unchecked:
                _sqlite_foreign_keys(connection, on=False)
            if deferred:
                _sqlite_driver_sql(connection, "PRAGMA wal_autocheckpoint = 0")
            try:
                connection = connection.execution_options(**{_WRITER: True})
                with connection.begin():
                    if engine.dialect.name == "postgresql":
                        _pg_write_lock(connection)
                    yield connection
                    if sqlite and schema_change:
                        _sqlite_check_foreign_keys(connection)
            finally:
                if unchecked:
                    _sqlite_foreign_keys(connection, on=True)
                if deferred:
                    _sqlite_driver_sql(connection, _DEFAULT_AUTOCHECKPOINT)
    except OperationalError as exc:
        if is_busy(exc):
            raise StoreBusyError() from None
        raise


WAL_AUTOCHECKPOINT = 1000
"""SQLite's own default: pages in the write-ahead log from which a commit copies
it into the store file."""
_DEFAULT_AUTOCHECKPOINT = f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}"


def checkpoint_log(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the store file, as far as no reader holds
    it back; a commit made with `checkpoint=False` leaves this to be done. Nothing
    to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        if driver is not None:
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _pg_write_lock(connection: Connection) -> None:
    timeout_ms = int(connection.get_execution_options().get(_BUSY_TIMEOUT_MS, 0))
    if timeout_ms:
        # The wait for the advisory lock is bounded like SQLite's busy timeout; it
        # stays in force for the transaction, so later lock waits are bounded too.
        connection.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK_KEY}
    )


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # Through the driver, outside any transaction: SQLite ignores this pragma
    # inside one, and SQLAlchemy would begin one for its own execute.
    _sqlite_driver_sql(connection, f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def _sqlite_driver_sql(connection: Connection, sql: str) -> None:
    """Run `sql` through the driver, outside SQLAlchemy's transaction handling."""
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.execute(sql)


def _sqlite_check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise RuntimeError(
            f"the schema change left a broken reference in table {broken[0]}"
        )


def create_schema(engine: Engine) -> "Upgrade | None":
    """Create the schema in an empty store, or upgrade an older store's (idempotent).

    What was done, None when the schema was up to date. Refused with `InputError`
    when the store was made by a newer segment-tui.
    """
    # The schema module runs its migrations through write_transaction above.
    from segment_tui.store.schema import upgrade_to_head

    return upgrade_to_head(engine)
