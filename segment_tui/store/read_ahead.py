"""A query over a SQLite store read by a second process, a few batches ahead.

A proposal run spends most of its time in one aggregate over the ledger, and the
rest in Python: choosing segments and writing proposals. A thread cannot share that
work out: the sqlite3 driver lets go of the interpreter while SQLite steps, but
takes it back for every row, and a busy interpreter hands it over only every few
milliseconds, so a reading thread starves. A second process reads on its own
interpreter and core and sends its rows pickled through a pipe; the pipe keeps it
at most a batch or so ahead, so memory stays flat.

The reader opens the same file and sees the last committed state. The caller must
hold the store's write lock already (`write_transaction`) and not have written to
the tables the query reads: then nobody can change them while the reader reads,
and it sees exactly what the caller's transaction sees.

This module imports only the standard library, so that the process starts fast.
"""

# Limitation: the second process gains only where a core is free for it. On a
# machine whose other core is busy, a run takes about as long as reading the ledger
# in one process, plus the cost of sending the rows through the pipe.

import os
import pickle
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

_CHILD_COMMAND = "from segment_tui.store.read_ahead import serve; serve()"


class SecondProcessReader:
    """The rows of one query, read by a second process; see the module docstring."""

    def __init__(
        self, database: str, sql: str, batch_size: int, busy_timeout: float
    ) -> None:
        # -P and PYTHONPATH: the child imports this module from where this process
        # has it, not from the current folder.
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [
                str(Path(__file__).resolve().parents[2]),
                environment.get("PYTHONPATH", ""),
            ]
        )
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", _CHILD_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.results = self.process.stdout
        try:
            with self.process.stdin as orders:
                pickle.dump((database, sql, batch_size, busy_timeout), orders)
        except BrokenPipeError:
            pass  # the child has ended already; rows() finds out

    def batches(self) -> Generator[list[Any], None, None]:
        """The query's rows in order, in batches; the process ends with this."""
        done = False
        try:
            while True:
                try:
                    kind, payload = pickle.load(self.results)
                except EOFError:
                    code = self.process.wait()
                    raise RuntimeError(
                        f"the process reading the ledger ended with exit code {code} "
                        "before it was done"
                    ) from None
                if kind == "rows":
                    yield payload
                elif kind == "done":
                    done = True
                    return
                else:
                    raise RuntimeError(f"reading the ledger failed:\n{payload}")
        finally:
            self.results.close()
            if not done:
                self.process.kill()
            self.process.wait()


def serve() -> None:
    """The second process: an order on stdin, batches of rows on stdout."""
    results = sys.stdout.buffer

    def send(kind: str, payload: Any) -> None:
        pickle.dump((kind, payload), results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()

    try:
        database, sql, batch_size, busy_timeout = pickle.load(sys.stdin.buffer)
        connection = sqlite3.connect(
            database, timeout=busy_timeout, isolation_level=None
        )
        try:
            cursor = connection.execute(sql)
            while rows := cursor.fetchmany(batch_size):
                send("rows", rows)
        finally:
            connection.close()
        send("done", None)
    except BrokenPipeError:
        pass  # the proposal run has gone: nobody to tell
    except Exception:
        send("failed", traceback.format_exc())
