"""Schema versions: create the schema of an empty store, or upgrade an older one.

The versions are the Alembic migrations in `migrations/`, run in code on a connection
that holds the store's write lock: two programs opening a new store at the same time
create it once, and an upgrade that fails leaves the store as it was. A store whose
version this program does not know was made by a newer segment-tui and is refused
rather than guessed at.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from segment_tui.errors import InputError
from segment_tui.store.engine import write_transaction

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

FIRST_REVISION = "0001"
FIRST_TABLES = frozenset(
    {
        "apply_batch",
        "customer",
        "dunning_condition",
        "ledger_entry",
        "proposal",
        "proposal_run",
        "reminder",
        "segment_change",
        "setup_version",
    }
)
"""The tables of schema version 0001, which segment-tui created before it kept a
schema version in the store."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini is needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema version this program makes."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def stored_revisions(connection: Connection) -> tuple[str, ...]:
    """The schema version recorded in the store; empty when it records none."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade_to_head` did to a store's schema."""

    from_revision: str | None
    """The version the store had; None when it had no schema yet."""
    to_revision: str


def upgrade_to_head(engine: Engine) -> Upgrade | None:
    """Bring the store's schema to this program's version; refuse a newer store.

    None when the schema was at this version already.
    """
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    with engine.connect() as connection:
        stored = stored_revisions(connection)
    if stored == (head,):
        return None
    _refuse_unknown(script, stored)

    with write_transaction(engine, schema_change=True) as connection:
        # Another program may have upgraded the store while this one waited.
        stored = stored_revisions(connection)
        if stored == (head,):
            return None
        _refuse_unknown(script, stored)
        config = alembic_config(connection)
        if not stored and _adopt_unversioned(connection):
            command.stamp(config, FIRST_REVISION)
            stored = (FIRST_REVISION,)
        command.upgrade(config, "head")
    upgrade = Upgrade(stored[0] if stored else None, head)
    log.info("schema upgraded from %s to %s", upgrade.from_revision or "none", head)
    return upgrade


def _refuse_unknown(script: ScriptDirectory, stored: tuple[str, ...]) -> None:
    known = {revision.revision for revision in script.walk_revisions()}
    if len(stored) > 1 or any(revision not in known for revision in stored):
        raise InputError(
            f"this store was made by a newer segment-tui (schema {', '.join(stored)}); "
            "upgrade segment-tui"
        )


def _adopt_unversioned(connection: Connection) -> bool:
    """Whether a store without a schema version is one of schema version 0001.

    Before the schema had versions, segment-tui created the tables of version 0001
    directly; such a store is adopted as version 0001 and upgraded from there. A
    database without any of those tables is new. One that holds some of them but not
    all is not a segment-tui store, and is refused rather than written to.
    """
    present = FIRST_TABLES & set(inspect(connection).get_table_names())
    if not present:
        return False
    if present == FIRST_TABLES:
        return True
    missing = ", ".join(sorted(FIRST_TABLES - present))
    raise InputError(
        f"this database holds some of segment-tui's tables but not {missing}; point "
        "--db at a segment-tui store or at an empty database"
    )
