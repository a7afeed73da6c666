"""A writer that finds the store busy waits for the busy timeout, then gives up clearly.

While another writer holds the store, a command waits and retries for
`SEGMENT_TUI_BUSY_TIMEOUT` seconds; when the store frees up in time it goes ahead,
otherwise it exits 2 with one sentence, changing nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from store_data import cli_env, snapshot, start_cli, write_lock_held

BUSY = (
    "segment-tui: the store is busy (another operator is writing); try again in a "
    "moment\n"
)


def test_a_writer_held_longer_than_the_busy_timeout_is_reported(
    small_store_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "log", SEGMENT_TUI_BUSY_TIMEOUT="1")
    before = snapshot(small_store_url)

    with write_lock_held(small_store_url):
        started = time.monotonic()
        process = start_cli(["--db", small_store_url, "apply", "--all"], env)
        out, err = process.communicate(timeout=60)
        waited = time.monotonic() - started

    assert (process.returncode, out, err) == (2, "", BUSY)
    assert waited >= 1.0
    assert snapshot(small_store_url) == before
    assert "Traceback" not in (tmp_path / "log" / "segment-tui.log").read_text()


def test_a_writer_that_finishes_within_the_busy_timeout_is_waited_for(
    small_store_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "log", SEGMENT_TUI_BUSY_TIMEOUT="30")
    proposals = snapshot(small_store_url)["proposal"]
    release = threading.Event()

    def hold() -> None:
        with write_lock_held(small_store_url):
            release.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)
    process = start_cli(["--db", small_store_url, "apply", "--all"], env)
    time.sleep(3.0)
    release.set()
    out, err = process.communicate(timeout=120)
    holder.join()

    assert (process.returncode, err) == (0, "")
    assert out.startswith(f"{proposals} proposals applied")


def test_a_busy_timeout_that_is_not_a_number_is_refused(
    small_store_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "log", SEGMENT_TUI_BUSY_TIMEOUT="soon")

    process = start_cli(["--db", small_store_url, "proposals"], env)
    out, err = process.communicate(timeout=60)

    assert (process.returncode, out) == (2, "")
    assert err == (
        "segment-tui: SEGMENT_TUI_BUSY_TIMEOUT: 'soon' is not a number of seconds; "
        "give a number from 0.1 to 3600, or unset it for 10\n"
    )
