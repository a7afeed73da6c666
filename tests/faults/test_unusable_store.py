"""A store that cannot be used is reported in one sentence, exit 2, without a traceback.

A read-only location, a full disk, a file that is not a database, a server that does
not answer, a wrong password: each gives one line on standard error naming the store
and the way out. The password in a database URL is never printed nor logged.

The read-only and full locations are small tmpfs file systems mounted by the test,
which needs root; without it the read-only case falls back to a folder without write
permission, and the full disk is skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from store_data import prepared_store, snapshot

from segment_tui.cli import main

SECRET = "Pa55-never-shown"


@pytest.fixture(autouse=True)
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "log"
    monkeypatch.setenv("SEGMENT_TUI_LOG_DIR", str(folder))
    monkeypatch.delenv("SEGMENT_TUI_DB", raising=False)
    return folder


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command line, check it refused in one line, and return that line."""
    status = main(list(args))
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.out == ""
    assert captured.err.startswith("segment-tui: ")
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert "Traceback" not in captured.err
    return captured.err


def log_text(log_dir: Path) -> str:
    path = log_dir / "segment-tui.log"
    return path.read_text("utf-8") if path.exists() else ""


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A mount point for a small tmpfs, unmounted afterwards (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False, capture_output=True)


def mount(point: Path, *options: str) -> None:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def test_a_store_in_a_read_only_location_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        mount(folder, "size=1m", "ro")
    else:
        folder.chmod(0o500)
    try:
        message = refused(capsys, "--db", str(folder / "new.db"), "init")
        nested = refused(capsys, "--db", str(folder / "sub" / "new.db"), "init")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=False)
        else:
            folder.chmod(0o700)

    assert message.startswith(f"segment-tui: the store {folder / 'new.db'} cannot be ")
    assert message.endswith(
        "; choose a writable location with --db or SEGMENT_TUI_DB\n"
    )
    assert "cannot be created" in nested


def test_an_existing_store_on_a_location_made_read_only_is_reported(
    tmpfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount(tmpfs, "size=4m")
    store = tmpfs / "segment.db"
    prepared_store(f"sqlite:///{store}", 20)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)

    for command in (["proposals"], ["apply", "--all"]):
        message = refused(capsys, "--db", str(store), *command)
        assert message == (
            f"segment-tui: the store {store} is in a folder that cannot be written "
            "to, and SQLite keeps its -wal and -shm files next to the store; move it "
            "to a writable folder or choose another with --db or SEGMENT_TUI_DB\n"
        )


def test_a_full_disk_is_reported_and_the_store_kept(
    tmpfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount(tmpfs, "size=2m")
    store = tmpfs / "segment.db"
    url = f"sqlite:///{store}"
    prepared_store(url, 200, propose=False)
    before = snapshot(url)
    filler = tmpfs / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # the disk is full now
    finally:
        os.close(fd)

    message = refused(capsys, "--db", str(store), "propose", "--date", "2024-06-30")

    # SQLite says "database or disk is full", or "disk I/O error" when it is the
    # -shm file that cannot grow.
    assert message.startswith(f"segment-tui: the store at {url} cannot be used: ")
    assert message.endswith(
        "; free some space on the disk of the store and try again\n"
    )
    filler.unlink()
    assert snapshot(url) == before


def test_a_file_that_is_not_a_database_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("These are not the customers you are looking for.\n" * 100)

    message = refused(capsys, "--db", str(notes), "proposals")

    assert message == (
        f"segment-tui: the store at sqlite:///{notes} cannot be used: file is not a "
        "database; point --db or SEGMENT_TUI_DB at a segment-tui store\n"
    )
    assert notes.read_text().startswith("These are not")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_is_reported_without_the_password(
    capsys: pytest.CaptureFixture[str], log_dir: Path
) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://segment:{SECRET}@127.0.0.1:{port}/segment"

    message = refused(capsys, "--db", url, "proposals")

    assert message.startswith(
        f"segment-tui: the store at postgresql+psycopg://segment:***@127.0.0.1:{port}"
        "/segment cannot be used: connection failed: "
    )
    assert message.endswith(
        "Connection refused; check that the server is running and the host and "
        "port in the URL\n"
    )
    assert SECRET not in message
    assert SECRET not in log_text(log_dir)


@pytest.mark.postgres
def test_a_wrong_password_is_reported_without_either_password(
    pg_url: str, capsys: pytest.CaptureFixture[str], log_dir: Path
) -> None:
    real = make_url(pg_url)
    wrong = real.set(password=SECRET).render_as_string(hide_password=False)

    message = refused(capsys, "--db", wrong, "proposals")

    assert "password authentication failed" in message
    assert message.endswith("; check the user name and password in the URL\n")
    for password in (SECRET, str(real.password)):
        assert password not in message
        assert password not in log_text(log_dir)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://segment:{SECRET}@127.0.0.1:port/segment",
        f"postgresql+psycopg://segment:{SECRET}@x@127.0.0.1/segment",
    ],
)
def test_a_malformed_url_is_refused_without_its_password(
    url: str, capsys: pytest.CaptureFixture[str], log_dir: Path
) -> None:
    message = refused(capsys, "--db", url, "proposals")

    assert message.startswith("segment-tui: --db: 'postgresql+psycopg://***@")
    assert SECRET not in message
    assert SECRET not in log_text(log_dir)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_working_server_never_has_its_password_logged(
    db_url: str, capsys: pytest.CaptureFixture[str], log_dir: Path
) -> None:
    password = str(make_url(db_url).password)

    assert main(["--db", db_url, "init"]) == 0
    assert main(["--db", db_url, "propose", "--date", "2024-06-30"]) == 0

    captured = capsys.readouterr()
    assert password not in captured.out + captured.err
    assert password not in log_text(log_dir)
    assert "proposal run 1" in log_text(log_dir)
