"""npm-inspect's capture in stock mitmproxy: ``mitmdump -s addons/npm_capture.py``.

Prints one line per exchange (CONNECT attempts with the upstream proxy's
answer, and registry requests) naming the hop that answered. All logic lives
in :mod:`inspector.capture`; this script only wires it up.
"""

import logging
import sys
from pathlib import Path

try:
    import inspector  # noqa: F401  (installed with pip install npm-inspect)
except ImportError:  # running from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inspector.capture import NpmCapture
from inspector.lines import exchange_line

logger = logging.getLogger("npm_inspect")
_printed: set[str] = set()


def _print_once(exchange) -> None:
    """A CONNECT is emitted when answered and again when its tunnel closes: print it once."""
    if exchange.id in _printed:
        if exchange.state == "done":
            _printed.discard(exchange.id)
        return
    if exchange.state == "open":
        _printed.add(exchange.id)
    logger.info("npm-inspect: %s", exchange_line(exchange))


addons = [NpmCapture(sink=_print_once)]
