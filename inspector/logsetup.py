"""Logging for npm-inspect and the mitmproxy inside it: to a file, never to the terminal, always redacted.

A dashboard owns the terminal and npm's output must pass through untouched,
so nothing logs to stderr. Every record goes through :class:`RedactingFilter`
first, at every level, so no secret reaches a log file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import InspectorError
from .output import open_private_append
from .paths import private_dir, state_dir
from .redact import redact_text

LEVELS = ("debug", "info", "warning", "error")


class RedactingFilter(logging.Filter):
    """Replace the message of each record by its redacted text (arguments merged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            record.msg = f"{record.msg}\n{redact_text(text)}"
            record.exc_info = None
            record.exc_text = None
        return True


def default_log_file() -> Path:
    return state_dir() / "npm-inspect.log"


def configure(level: str = "info", log_file: Path | None = None) -> Path | None:
    """Send all logging (ours and mitmproxy's) to ``log_file``; return its path, or ``None`` if unwritable."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    path = log_file or default_log_file()
    try:
        private_dir(path.parent) if log_file is None else path.parent.mkdir(parents=True, exist_ok=True)
        open_private_append(path).close()  # created 0600, or an existing log of ours narrowed to 0600
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except (OSError, InspectorError):
        handler, path = logging.NullHandler(), None
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path
