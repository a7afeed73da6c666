"""Logging to a file in the user log directory, never to the terminal.

The log records what happened (runs, counts, durations) and never personal data. The
file is readable by its owner only.
"""

import logging
import os
import stat
from pathlib import Path

from segment_tui.paths import log_dir

LOG_FILE_NAME = "segment-tui.log"


def configure_logging(directory: Path | None = None) -> Path | None:
    """Send the package's log records to a file; the file's path, None if unwritable."""
    folder = directory or Path(os.environ.get("SEGMENT_TUI_LOG_DIR") or log_dir())
    path = folder / LOG_FILE_NAME
    root = logging.getLogger("segment_tui")
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
            os.close(fd)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        # No writable log location: run without a log rather than refuse to work.
        root.handlers[:] = [logging.NullHandler()]
        return None
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.handlers[:] = [handler]
    return path
