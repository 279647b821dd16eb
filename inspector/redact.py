"""The one place that knows what a secret looks like.

Every output (records, screen, logs, reports, HAR, journal) goes through these
functions. A replaced value keeps a short fingerprint — a keyed hash, not the
value — so two exchanges that carried the same token can still be matched.

The token shapes follow npm's own scrubber (``@npmcli/redact``): Basic/Bearer
values, ``npm_`` tokens, JSON Web Tokens and UUIDs (npm's legacy tokens), plus
``.npmrc`` keys (``_authToken``, ``_auth``, ``_password``), JSON password and
token fields, and passwords in URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "npm-otp",
        "x-npm-otp",
        "x-auth-token",
        "x-api-key",
        "private-token",
    }
)
"""Headers whose whole value is secret (a scheme word such as ``Basic`` is kept)."""

_key = b"npm-inspect fingerprint v1"


def set_fingerprint_key(key: bytes) -> None:
    """Use a per-installation key, so a fingerprint cannot be checked against guesses elsewhere."""
    global _key
    _key = bytes(key)
    _fingerprint_cache.clear()
    _redact_short.cache_clear()


_fingerprint_cache: dict[str, str] = {}


def fingerprint(secret: str) -> str:
    """A short, stable, keyed fingerprint of a secret (8 hex digits)."""
    cached = _fingerprint_cache.get(secret)
    if cached is None:
        cached = hmac.new(_key, secret.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:8]
        if len(_fingerprint_cache) < 4096:
            _fingerprint_cache[secret] = cached
    return cached


def mask(secret: str) -> str:
    """The replacement for one secret value."""
    return f"[redacted:{fingerprint(secret)}]"


_SCHEME_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)(\s+)(\S.*)$", re.S)
_AUTH_SCHEMES = {"basic", "bearer", "token", "ntlm", "negotiate", "digest", "aws4-hmac-sha256"}


def redact_header_value(name: str, value: str) -> str:
    """Mask a secret header entirely (keeping its auth scheme); scrub token shapes from others."""
    if name.lower() in SECRET_HEADERS:
        match = _SCHEME_VALUE.match(value)
        if match and match.group(1).lower() in _AUTH_SCHEMES:
            return f"{match.group(1)} {mask(match.group(3).strip())}"
        return mask(value)
    return redact_text(value)


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Redact every header of a list, keeping order and names."""
    return tuple((name, redact_header_value(name, value)) for name, value in headers)


def redact_url(url: str) -> str:
    """Hide the password in a URL's userinfo (``http://user:***@host:port``) and token shapes in the rest."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is not None or "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
        parts = parts._replace(netloc=netloc)
    return redact_text(urlunsplit(parts))


# -- free text --------------------------------------------------------------------

_KEY_WORDS = ("token", "auth", "pass", "secret")
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], int, tuple[str, ...]], ...] = (
    # (pattern, the group that is secret, lowercase words one of which must be in the text for it to match)
    # JSON string fields, whole value (spaces and quotes included): "password": "…"
    (
        re.compile(
            r"""("(?:_authToken|_auth|_password|password|passwd|token|access_token|secret|npm_token)"\s*:\s*")"""
            r"""((?:[^"\\]|\\.){1,})(?=")""",
            re.I,
        ),
        2,
        _KEY_WORDS,
    ),
    # key=value / key: value / "key": "value" for npmrc and JSON secret fields
    (
        re.compile(
            r"""((?:_authToken|_auth|_password|password|passwd|token|access_token|secret|npm_token|NPM_TOKEN)"""
            r"""["']?\s*[:=]\s*["']?)([^\s"',;}\]&]{3,})""",
            re.I,
        ),
        2,
        _KEY_WORDS,
    ),
    # passwords in URLs: scheme://user:secret@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)([^\s/@]+)(?=@)", re.I), 2, ("://",)),
    # auth header shapes anywhere
    (re.compile(r"(\b(?:Basic|Bearer|Token|NTLM|Negotiate)\s+)([A-Za-z0-9+/=_\-.~]{6,})", re.I), 2, ("basic", "bearer", "token", "ntlm", "negotiate")),
    # npm tokens
    (re.compile(r"()(\bnpms?_[A-Za-z0-9]{36,48}\b)"), 2, ("npm",)),
    # GitHub tokens (GitHub Packages registries)
    (re.compile(r"()(\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}))"), 2, ("gh",)),
    # JSON Web Tokens
    (re.compile(r"()(\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*)"), 2, ("eyj",)),
    (re.compile(r"()(\b[A-Za-z0-9_-]{10,}(?!\.\d+\.)\.[A-Za-z0-9_-]{3,}\.[A-Za-z0-9_-]{20,}\b)"), 2, (".",)),
    # UUIDs: npm's legacy tokens look like these
    (re.compile(r"()(\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)", re.I), 2, ("-",)),
)

_ALREADY = re.compile(r"^\[redacted:[0-9a-f]{8}\]$")


def redact_text(text: str) -> str:
    """Replace every secret shape found in free text (bodies, messages, config values)."""
    if not text:
        return text
    if len(text) <= 512:
        return _redact_short(text)
    return _redact(text)


@lru_cache(maxsize=8192)
def _redact_short(text: str) -> str:
    """Header values repeat on every request (user-agent, accept, host): remember their redaction."""
    return _redact(text)


def _redact(text: str) -> str:
    lowered = text.lower()
    for pattern, group, words in _TEXT_PATTERNS:
        if any(word in lowered for word in words):  # cheap: most text has none of a pattern's words
            text = pattern.sub(lambda m: _replace(m, group), text)
            lowered = text.lower()
    return text


def _replace(match: re.Match[str], group: int) -> str:
    secret = match.group(group)
    if _ALREADY.match(secret) or secret.startswith("[redacted:") or secret == "***":
        return match.group(0)
    start, end = match.span(group)
    whole_start = match.start()
    return match.group(0)[: start - whole_start] + mask(secret) + match.group(0)[end - whole_start :]


def credential_username(header_value: str) -> str | None:
    """The user name inside a Basic credential (not secret), or ``None``."""
    import base64
    import binascii

    match = _SCHEME_VALUE.match(header_value or "")
    if not match or match.group(1).lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(match.group(3).strip(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep else None


def auth_scheme(header_value: str) -> str:
    """The scheme word of an Authorization-style header (``Basic``, ``Bearer``), or ``?``."""
    match = _SCHEME_VALUE.match(header_value or "")
    return match.group(1) if match else "?"


def auth_secret(header_value: str) -> str:
    """The part of an Authorization-style value that is secret (after the scheme)."""
    match = _SCHEME_VALUE.match(header_value or "")
    return match.group(3).strip() if match else (header_value or "")
