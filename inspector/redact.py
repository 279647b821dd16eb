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
from collections.abc import Iterable, Iterator, Sequence
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

_SECRET_NAME_WORDS = ("token", "secret", "key", "auth", "session", "cookie", "password", "passwd", "signature", "credential")
"""A custom header whose name holds one of these (``X-Custom-Token``, ``X-Api-Key``) is masked whole."""

NEVER_REDACTED_HEADERS = frozenset({"npm-auth-type", "authentication-info", "keep-alive"})
"""Names that hold a secret word but never a secret (``*-Authenticate`` challenges are kept too)."""

HEADER_VALUE_LIMIT = 4096
"""Characters of one header value (or a URL) a record keeps; the rest becomes a "truncated" marker."""
_SCRUB_LIMIT = 64 * 1024
"""Characters scrubbed before truncating: a secret straddling :data:`HEADER_VALUE_LIMIT` is still found."""

_key = b"npm-inspect fingerprint v1"


def set_fingerprint_key(key: bytes) -> None:
    """Use a per-installation key, so a fingerprint cannot be checked against guesses elsewhere."""
    global _key
    _key = bytes(key)
    _fingerprint_cache.clear()
    _redact_short.cache_clear()
    _redact_short_pair.cache_clear()


_fingerprint_cache: dict[str, str] = {}


def fingerprint(secret: str) -> str:
    """A short, stable, keyed fingerprint of a secret (8 hex digits)."""
    cached = _fingerprint_cache.get(secret)
    if cached is None:
        cached = hmac.new(_key, secret.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:8]
        if len(_fingerprint_cache) < 4096 and len(secret) <= 1024:  # bounded: hostile values can be megabytes
            _fingerprint_cache[secret] = cached
    return cached


def mask(secret: str) -> str:
    """The replacement for one secret value."""
    return f"[redacted:{fingerprint(secret)}]"


_SCHEME_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)(\s+)(\S.*)$", re.S)
_MASKED_VALUE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_-]* )?\[redacted:[0-9a-f]{8}\]$")
_AUTH_SCHEMES = {"basic", "bearer", "token", "ntlm", "negotiate", "digest", "aws4-hmac-sha256"}


@lru_cache(maxsize=1024)
def is_secret_header(name: str) -> bool:
    """True when a header's whole value is secret: the known ones, and custom names that say so.

    ``*-Authenticate`` challenges (``Basic realm="Corp Proxy"``) hold no secret and are evidence: never masked.
    """
    lowered = name.lower()
    if lowered in SECRET_HEADERS:
        return True
    if lowered.endswith("-authenticate") or lowered in NEVER_REDACTED_HEADERS:
        return False
    return any(word in lowered for word in _SECRET_NAME_WORDS)


def redact_header_value(name: str, value: str) -> str:
    """Mask a secret header entirely (keeping its auth scheme); scrub token shapes from others; keep challenges."""
    if is_secret_header(name):
        if _MASKED_VALUE.match(value):  # already redacted (a record read back from a file): keep its fingerprint
            return value
        match = _SCHEME_VALUE.match(value)
        if match and match.group(1).lower() in _AUTH_SCHEMES:
            return f"{match.group(1)} {mask(match.group(3).strip())}"
        return mask(value)
    if name.lower().endswith("-authenticate"):
        return value
    return redact_text(value)


def redact_header_pair(name: str, value: str) -> tuple[str, str]:
    """``(name, redact_header_value(name, value))``, remembered for short values (headers repeat on every request)."""
    if len(value) <= 512 and len(name) <= 256:
        return _redact_short_pair(name, value)
    return name, redact_header_value(name, value)


@lru_cache(maxsize=8192)
def _redact_short_pair(name: str, value: str) -> tuple[str, str]:
    return name, redact_header_value(name, value)


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Redact every header of a list, keeping order and names."""
    return tuple((name, redact_header_value(name, value)) for name, value in headers)


def truncate(text: str, limit: int = HEADER_VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} bytes]"


def bounded_text(text: str, limit: int = HEADER_VALUE_LIMIT) -> str:
    """Scrub, then keep at most ``limit`` characters: a record's size does not depend on what a peer sends."""
    if len(text) <= limit:
        return redact_text(text)
    return f"{redact_text(text[:_SCRUB_LIMIT])[:limit]}…[truncated {len(text) - limit} bytes]"


def bounded_headers(
    headers: Iterable[tuple[str, str]], *, max_count: int = 100, limit: int = HEADER_VALUE_LIMIT
) -> tuple[tuple[str, str], ...]:
    """Redacted headers with at most ``max_count`` entries and ``limit`` characters per name and value.

    A secret header is fingerprinted whole (so the fingerprint still matches the real value); the rest
    is scrubbed before it is cut. The dropped tail is counted in a last ``X-Npm-Inspect-Truncated`` entry.
    """
    out: list[tuple[str, str]] = []
    dropped = 0
    for name, value in headers:
        if len(out) >= max_count:
            dropped += 1
            continue
        if len(value) <= limit and len(name) <= 256:
            out.append((name, redact_header_value(name, value)))
            continue
        short_name = truncate(name, 256)
        if is_secret_header(name):
            out.append((short_name, truncate(redact_header_value(name, value), limit)))
        elif name.lower().endswith("-authenticate"):
            out.append((short_name, truncate(value, limit)))
        else:
            out.append((short_name, bounded_text(value, limit)))
    if dropped:
        out.append(("X-Npm-Inspect-Truncated", f"{dropped} more headers not kept"))
    return tuple(out)


def redact_url(url: str) -> str:
    """Hide the password in a URL's userinfo (``http://user:***@host:port``), secret query values and token shapes."""
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

_SECRET_PARAM = re.compile(
    r"""([?&;](?:x-amz-[^=&#\s]*|x-goog-[^=&#\s]*|[^=&#\s?;]*?(?:token|sig|key|secret|pass|pwd|auth|credential|session|otp)[^=&#\s]*)=)"""
    r"""([^&#\s"'<>]+)""",
    re.I,
)
"""``?sig=…``, ``&X-Amz-Signature=…``, ``?access_token=…``: query parameters whose names say they are secret."""

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
    # secret query parameters (signed tarball URLs, tokens in query strings)
    (_SECRET_PARAM, 2, ("=",)),
    # auth header shapes anywhere; not a challenge's parameters (Basic realm="…")
    (
        re.compile(r"(\b(?:Basic|Bearer|Token|NTLM|Negotiate)\s+)([A-Za-z0-9+/_\-.~]{6,}=*)(?![A-Za-z0-9+/=_\-.~\"])", re.I),
        2,
        ("basic", "bearer", "token", "ntlm", "negotiate"),
    ),
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
        for word in words:  # cheap: most text has none of a pattern's words
            if word in lowered:
                text = pattern.sub(lambda m: _replace(m, group), text)
                lowered = text.lower()
                break
    return text


def _replace(match: re.Match[str], group: int) -> str:
    secret = match.group(group)
    if _ALREADY.match(secret) or secret.startswith("[redacted:") or secret == "***":
        return match.group(0)
    start, end = match.span(group)
    whole_start = match.start()
    return match.group(0)[: start - whole_start] + mask(secret) + match.group(0)[end - whole_start :]


# -- npm's command line ---------------------------------------------------------------

_SECRET_FLAGS = frozenset({"otp", "password", "auth", "authtoken", "_authtoken", "_auth", "_password", "token", "npm-token"})
_SECRET_FLAG_WORDS = ("token", "password", "secret", "passwd")


def _is_secret_flag(name: str) -> bool:
    lowered = name.lower()
    last = lowered.rpartition(":")[2]  # //host/path/:_authToken
    return lowered in _SECRET_FLAGS or last in _SECRET_FLAGS or any(word in lowered for word in _SECRET_FLAG_WORDS)


def _argv_secrets(argv: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """Each argument with the secret value it carries as a whole (a secret flag's value), or ``None``.

    ``--otp 123456`` gives ``("--otp", None), ("123456", "123456")``; ``--otp=123456`` gives
    ``("--otp=123456", "123456")``. Other arguments may still hold secret shapes (URLs with passwords).
    """
    expect = False
    for arg in argv:
        if expect:
            expect = False
            yield arg, arg
            continue
        if arg.startswith("-") and len(arg) > 1:
            name, sep, value = arg.lstrip("-").partition("=")
            if _is_secret_flag(name):
                expect = not sep
                yield arg, value if sep else None
                continue
        yield arg, None


def argv_secrets(argv: Sequence[str]) -> list[str]:
    """The secret values on a command line (for the leak check): flag values, URL passwords, token shapes."""
    secrets: list[str] = []
    for arg, secret in _argv_secrets(argv):
        if secret is not None:
            secrets.append(secret)
        elif (scrubbed := redact_text(arg)) != arg:
            secrets.extend(_masked_parts(arg, scrubbed))
    return [s for s in secrets if s]


def _masked_parts(original: str, scrubbed: str) -> list[str]:
    """The substrings of ``original`` that :func:`redact_text` replaced (aligned on the unchanged text)."""
    pieces = _MASKED.split(scrubbed)
    match = re.fullmatch("(.+?)".join(re.escape(p) for p in pieces), original, re.S)
    return [g for g in match.groups() if g] if match else []


_MASKED = re.compile(r"\[redacted:[0-9a-f]{8}\]")


def redact_argv(argv: Sequence[str]) -> list[str]:
    """npm's command line as it may be shown or saved: one pass for the journal, screens, reports, HAR and file names.

    Values of secret flags (``--otp``, ``--password``, ``--//host/:_authToken=…``), URL passwords
    (``--registry https://user:pass@host/``, a tarball URL), secret query parameters and token shapes
    become ``[redacted:…]``.
    """
    out: list[str] = []
    for arg, secret in _argv_secrets(argv):
        if secret is None:
            out.append(redact_text(arg))
        elif secret == arg:  # the separate value of a secret flag
            out.append(mask(arg))
        else:
            out.append(arg[: len(arg) - len(secret)] + (mask(secret) if secret else ""))
    return out


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
