"""How an exchange ended, as a word and a glyph — distinct with or without colour.

The dashboard colours rows by outcome; the word and glyph carry the same
meaning for NO_COLOR terminals, screen readers and copied text. Glyphs are
one cell wide: filled shapes for the proxy's refusals, hollow ones for the
registry's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import Exchange, Hop


@dataclass(frozen=True)
class Outcome:
    word: str
    glyph: str
    style: str
    """A Rich style name used when colour is on."""


OK = Outcome("ok", "✓", "green")
OPEN = Outcome("open", "…", "dim")
PROXY_AUTH = Outcome("proxy-auth", "◆", "bold magenta")
PROXY_DENIED = Outcome("proxy-deny", "■", "bold red")
PROXY_DOWN = Outcome("proxy-down", "▼", "red")
REGISTRY_AUTH = Outcome("reg-auth", "◇", "bold yellow")
REGISTRY_FORBIDDEN = Outcome("reg-forbid", "□", "bold dark_orange")
TLS = Outcome("tls", "◎", "bold cyan")
NETWORK = Outcome("network", "↯", "red")
CLIENT = Outcome("client", "←", "blue")
NOT_FOUND = Outcome("not-found", "?", "yellow")
PROXY_PAGE = Outcome("proxy-page", "▣", "bold red")
PROXY_SLOW = Outcome("proxy-slow", "◷", "yellow")
SERVER_ERROR = Outcome("error", "✗", "red")

ALL = (
    OK, OPEN, PROXY_AUTH, PROXY_DENIED, PROXY_DOWN, PROXY_PAGE, PROXY_SLOW, REGISTRY_AUTH, REGISTRY_FORBIDDEN, TLS, NETWORK, CLIENT,
    NOT_FOUND, SERVER_ERROR,
)


def outcome_of(e: Exchange) -> Outcome:
    """The one outcome that best describes an exchange."""
    if e.tls is not None and e.tls.failed_by is not None or (e.error is not None and e.error.kind == "tls"):
        return TLS
    if e.status is None:
        if e.error is None:
            return OPEN if e.state == "open" else OK
        if e.hop == Hop.CLIENT or e.error.kind == "client-abort":
            return CLIENT
        if e.error.kind == "proxy-slow":
            return PROXY_SLOW
        if e.hop == Hop.PROXY:
            return PROXY_DOWN
        return NETWORK
    if e.substituted:
        return PROXY_PAGE
    if e.status == 407:
        return PROXY_AUTH
    if e.hop == Hop.PROXY and e.status == 403:
        return PROXY_DENIED
    if e.hop == Hop.PROXY and e.status >= 500:
        return PROXY_DOWN
    if e.status == 401:
        return REGISTRY_AUTH
    if e.status == 403:
        return REGISTRY_FORBIDDEN
    if e.status == 404:
        return NOT_FOUND
    if e.status >= 400:
        return SERVER_ERROR
    return OK
