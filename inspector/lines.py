"""One line per exchange, for terminals and logs (mitmdump, ``npm-inspect run``)."""

from __future__ import annotations

from .records import Exchange


def exchange_line(exchange: Exchange) -> str:
    """``CONNECT registry.npmjs.org:443 407 proxy 12ms`` or ``GET https://… 200 registry 40ms``."""
    target = exchange.url
    if exchange.status is not None:
        outcome = str(exchange.status)
    elif exchange.error is not None:
        outcome = exchange.error.kind
    else:
        outcome = "-"
    total = exchange.timings.total
    duration = f"{total:.0f}ms" if total is not None else "open" if exchange.state == "open" else "-"
    hop = exchange.hop.value if exchange.hop else "?"
    line = f"{exchange.method} {target} {outcome} {hop} {duration}"
    if exchange.error is not None and exchange.status is None:
        line += f" ({exchange.error.message})"
    return line
