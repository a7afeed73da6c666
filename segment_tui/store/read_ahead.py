"""A query over a SQLite store read by a second process, a few batches ahead.

A proposal run spends most of its time in one aggregate over the ledger, and the
rest in Python: choosing segments and writing proposals. A thread cannot share that
work out: the sqlite3 driver lets go of the interpreter while SQLite steps, but
takes it back for every row, and a busy interpreter hands it over only every few
milliseconds, so a reading thread starves. A second process reads on its own
interpreter and core and sends its rows through a pipe; the pipe keeps it at most
a batch or so ahead, so memory stays flat.

The reader opens the same file and sees the last committed state. The caller must
hold the store's write lock already (`write_transaction`) and not have written to
the tables the query reads: then nobody can change them while the reader reads,
and it sees exactly what the caller's transaction sees.

This module imports only the standard library, so that the process starts fast.
"""

# Limitation: the second process gains only where a core is free for it. On a
# machine whose other core is busy, a run takes about as long as reading the ledger
# in one process, plus the cost of sending the rows through the pipe.

import marshal
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

_CHILD_COMMAND = "from segment_tui.store.read_ahead import serve; serve()"

PIPE_BYTES = 1 << 20
"""The pipe's capacity, where the system allows it (Linux): a batch of rows goes
through in one or two writes rather than sixteen of the default 64 KiB."""

_HEADER_BYTES = 8
"""Each message is its size in these many bytes (little-endian), then the message:
the receiving thread can take in whole messages without decoding them.

A message is written with `marshal`: the rows hold only what the driver gives
(numbers, text, None), which marshal writes in half the time pickle takes and
reads a sixth faster, and both ends run the same interpreter (`sys.executable`),
whose marshal format they share. The order to the process is a pickle."""


class SecondProcessReader:
    """The rows of one query, read by a second process; see the module docstring."""

    def __init__(
        self,
        database: str,
        sql: str,
        batch_size: int,
        busy_timeout: float,
        parameters: tuple[Any, ...] = (),
        *,
        buffered: bool = False,
    ) -> None:
        """Start the process. `buffered`: a thread takes in what the process sends as
        it comes, so that the process reads at full speed even while nobody asks for
        its rows yet (for a reader of a later part of the customers); its rows wait
        in memory until they are asked for."""
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
        self.results: IO[bytes] = self.process.stdout
        widen_pipe(self.results)
        self._taken: queue.SimpleQueue[bytes | None] | None = None
        self._taker: threading.Thread | None = None
        try:
            with self.process.stdin as orders:
                pickle.dump(
                    (database, sql, parameters, batch_size, busy_timeout), orders
                )
        except BrokenPipeError:
            pass  # the child has ended already; batches() finds out
        if buffered:
            self._taken = queue.SimpleQueue()
            self._taker = threading.Thread(
                target=self._take_all, name="ledger-reader", daemon=True
            )
            self._taker.start()

    def _take_all(self) -> None:
        # Reading a pipe lets go of the interpreter, and a message is kept as bytes
        # (decoded only when asked for), so this thread costs the run next to
        # nothing.
        taken = self._taken
        assert taken is not None
        try:
            while (message := _receive(self.results)) is not None:
                taken.put(message)
        except (OSError, ValueError):
            pass  # the pipe was closed by stop(); the end is told below
        taken.put(None)

    def _messages(self) -> Generator[bytes | None, None, None]:
        if self._taken is None:
            while True:
                yield _receive(self.results)
        else:
            while True:
                yield self._taken.get()

    def batches(self) -> Generator[list[Any], None, None]:
        """The query's rows in order, in batches; the process ends with this."""
        done = False
        try:
            for message in self._messages():
                if message is None:
                    code = self.process.wait()
                    raise RuntimeError(
                        f"the process reading the ledger ended with exit code {code} "
                        "before it was done"
                    )
                kind, payload = marshal.loads(message)
                if kind == "rows":
                    yield payload
                elif kind == "done":
                    done = True
                    return
                else:
                    raise RuntimeError(f"reading the ledger failed:\n{payload}")
        finally:
            if not done:
                self.process.kill()
            self.process.wait()
            if self._taker is not None:
                self._taker.join()
            self.results.close()

    def stop(self) -> None:
        """End the process if it still runs, whether or not its rows were read."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._taker is not None:
            self._taker.join()
        self.results.close()


def widen_pipe(pipe: IO[bytes]) -> None:
    """Give the pipe `PIPE_BYTES` of room where the system lets us; else leave it."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def _receive(source: IO[bytes]) -> bytes | None:
    """The next whole message from `source`, or None at its end."""
    header = source.read(_HEADER_BYTES)
    if len(header) < _HEADER_BYTES:
        return None
    size = int.from_bytes(header, "little")
    message = source.read(size)
    return message if len(message) == size else None


def serve() -> None:
    """The second process: an order on stdin, batches of rows on stdout."""
    results = sys.stdout.buffer

    def send(kind: str, payload: Any) -> None:
        message = marshal.dumps((kind, payload))
        results.write(len(message).to_bytes(_HEADER_BYTES, "little"))
        results.write(message)
        results.flush()

    try:
        database, sql, parameters, batch_size, busy_timeout = pickle.load(
            sys.stdin.buffer
        )
        connection = sqlite3.connect(
            database, timeout=busy_timeout, isolation_level=None
        )
        try:
            cursor = connection.execute(sql, parameters)
            while rows := cursor.fetchmany(batch_size):
                send("rows", rows)
        finally:
            connection.close()
        send("done", None)
    except BrokenPipeError:
        pass  # the proposal run has gone: nobody to tell
    except Exception:
        send("failed", traceback.format_exc())
