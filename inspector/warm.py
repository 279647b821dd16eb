"""Import modules on a thread of their own while this process waits for a child (npm's config, npm itself).

Importing is CPU work under the GIL; a child process runs on another core. Importing what comes *after* the
wait (the diagnosis rules, the report) during the wait takes it off the critical path of ``npm-inspect run``.
A failed import is left for the real import to raise where it is used.
"""

from __future__ import annotations

import importlib
import logging
import threading

logger = logging.getLogger(__name__)


def warm(*modules: str) -> threading.Thread:
    """Start importing ``modules`` in the background; the returned thread is a daemon (nothing needs to join it)."""

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                logger.debug("preloading %s failed", name, exc_info=True)

    thread = threading.Thread(target=run, name="npm-inspect-preload", daemon=True)
    thread.start()
    return thread
