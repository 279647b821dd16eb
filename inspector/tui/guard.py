"""Keep a widget's bug from taking the dashboard down.

Textual stops a widget's message loop (and usually the app) when a handler
raises. The dashboard's own drawing and updating code is wrapped instead: the
error is logged, shown (rate-limited) and the widget shows what it can, while
the proxy, the store and the journal — which never depend on the screen —
carry on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def guarded(fallback: Callable[[Any, Exception], Any] | None = None):
    def decorate(function):
        @functools.wraps(function)
        def wrapper(self, *args, **kwargs):
            try:
                return function(self, *args, **kwargs)
            except Exception as error:
                logger.exception("dashboard error in %s", function.__qualname__)
                app = getattr(self, "app", self)
                report = getattr(app, "report_error", None)
                if report is not None:
                    try:
                        report(error)
                    except Exception:
                        logger.exception("could not report a dashboard error")
                return fallback(self, error) if fallback is not None else None

        return wrapper

    return decorate
