"""Where the store and the log live by default: looked up when asked, not at import."""

import os
from pathlib import Path

import platformdirs

APP_NAME = "segment-tui"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_database() -> str:
    """`SEGMENT_TUI_DB` if set, else a SQLite file in the user data directory."""
    return os.environ.get("SEGMENT_TUI_DB") or str(data_dir() / "segment-tui.db")


def demo_database() -> str:
    return str(data_dir() / "demo.db")
