"""Who sent a request, from its headers: npm's identity and the credentials it carried (never their values).

Shared by the live capture and the HAR reader, so both describe a request the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from . import redact
from .records import CredentialInfo, NpmIdentity

Header = Callable[[str], "str | None"]


def npm_identity(header: Header) -> NpmIdentity:
    """``header(name)`` returns a request header's first value, or ``None``."""
    return NpmIdentity(
        command=header("npm-command"),
        session=header("npm-session"),
        user_agent=header("user-agent"),
        auth_type=header("npm-auth-type"),
        scope=header("npm-scope"),
        request_type=header("pacote-req-type"),
    )


def credential(value: str | None) -> CredentialInfo | None:
    """An Authorization-style value as scheme, keyed fingerprint and (for Basic) user name."""
    if not value:
        return None
    return CredentialInfo(
        scheme=redact.auth_scheme(value),
        fingerprint=redact.fingerprint(redact.auth_secret(value)),
        username=redact.credential_username(value),
    )
