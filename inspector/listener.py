"""The run's proxy credential: who may use npm-inspect's listener.

Kept apart from :mod:`inspector.proxy` (which imports mitmproxy) so the command line can make one cheaply.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ListenerCredential:
    """The run's proxy credential: the listener serves only clients that present it (mitmproxy's ``proxyauth``).

    A fresh random one per run; npm gets it inside the proxy URL in its environment, never on a command line.
    Another local user, or a web page that reaches 127.0.0.1, gets npm-inspect's own 407 and nothing goes upstream.
    """

    username: str
    password: str = field(repr=False)

    @classmethod
    def generate(cls) -> "ListenerCredential":
        return cls("npm-inspect", secrets.token_urlsafe(18))  # URL-safe: no percent-encoding, no ':'

    @property
    def proxyauth(self) -> str:
        """mitmproxy's ``proxyauth`` option value."""
        return f"{self.username}:{self.password}"

    def url(self, host: str, port: int) -> str:
        """``http://user:password@host:port``: the proxy URL a client needs."""
        host = LOOPBACK if host in ("0.0.0.0", "::", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{self.username}:{self.password}@{host}:{port}"
