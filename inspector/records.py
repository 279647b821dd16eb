"""The plain data every layer speaks.

An :class:`Exchange` is one CONNECT attempt or one HTTP request/response as
npm-inspect saw it, already redacted. Records are frozen dataclasses with no
mitmproxy or Textual import, so the diagnosis engine, reports, HAR export and
the dashboard can all be tested with small synthetic records.

A record may be emitted more than once with the same ``id`` while it is open
(a CONNECT tunnel is emitted when the proxy answers and again when it
closes); consumers keep the last one (upsert by id).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

SCHEMA_VERSION = 1


class Hop(StrEnum):
    """Who produced an answer or a failure."""

    CLIENT = "client"
    INSPECTOR = "inspector"
    PROXY = "proxy"
    REGISTRY = "registry"
    TLS = "tls"


ExchangeKind = Literal["connect", "http"]
ExchangeState = Literal["open", "done"]


@dataclass(frozen=True, slots=True)
class Timings:
    """Per-phase durations in milliseconds; ``None`` when a phase did not happen.

    A request on a reused connection has no connect/TLS phases, as in HAR.
    """

    client: float | None = None
    """npm → inspector: from npm's TCP connect to its request (incl. TLS with us)."""
    upstream_connect: float | None = None
    """inspector → upstream proxy (or registry, when direct): TCP connect."""
    connect: float | None = None
    """CONNECT sent to the upstream proxy → its answer."""
    tls: float | None = None
    """TLS handshake with the registry, through the tunnel."""
    send: float | None = None
    """Request sent (first byte → last byte of the request)."""
    wait: float | None = None
    """Request sent → first byte of the response (TTFB)."""
    receive: float | None = None
    """First → last byte of the response."""
    total: float | None = None
    """Start of the exchange → done."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the hop was assigned from: the answer's telling parts."""

    status_line: str = ""
    server: str | None = None
    via: str | None = None
    squid_error: str | None = None
    proxy_authenticate: tuple[str, ...] = ()
    www_authenticate: tuple[str, ...] = ()
    error_body: str | None = None
    """The registry's (or proxy's) error body, redacted, at most a few KB."""
    reason: str = ""
    """Plain words: why this hop was named."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failure with no HTTP answer (refused, reset, TLS, timeout, abort)."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class NpmIdentity:
    """What npm says about itself in its request headers."""

    command: str | None = None
    session: str | None = None
    user_agent: str | None = None
    auth_type: str | None = None
    scope: str | None = None
    request_type: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A credential that was sent, without its value: scheme and fingerprint."""

    scheme: str
    fingerprint: str
    username: str | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """The registry's certificate as the inspector saw it, and any TLS failure."""

    sni: str | None = None
    version: str | None = None
    subject: str | None = None
    issuer: str | None = None
    chain: tuple[str, ...] = ()
    """Issuer names up the chain, leaf first."""
    chain_pem: str | None = None
    """The chain's CA certificates as PEM, kept to name and save a re-signing CA."""
    failed_by: Hop | None = None
    """``client`` when npm rejected our certificate, ``registry`` when the upstream's was rejected."""
    error: str | None = None


Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One CONNECT attempt or HTTP exchange, redacted, ready for any consumer."""

    id: str
    seq: int
    kind: ExchangeKind
    started: float
    """Epoch seconds."""
    method: str
    scheme: str
    host: str
    port: int
    path: str = ""
    status: int | None = None
    reason: str = ""
    hop: Hop | None = None
    state: ExchangeState = "done"
    upstream: str | None = None
    """``host:port`` of the upstream proxy the exchange went through; ``None`` when direct."""
    timings: Timings = field(default_factory=Timings)
    evidence: Evidence = field(default_factory=Evidence)
    request_headers: tuple[Header, ...] = ()
    response_headers: tuple[Header, ...] = ()
    npm: NpmIdentity = field(default_factory=NpmIdentity)
    proxy_auth: CredentialInfo | None = None
    """The ``Proxy-Authorization`` npm sent (or the inspector added), without its value."""
    auth: CredentialInfo | None = None
    """The registry ``Authorization`` npm sent, without its value."""
    bytes_sent: int = 0
    bytes_received: int = 0
    content_type: str | None = None
    body_preview: str | None = None
    """A small, redacted excerpt of the response body (JSON, text); ``None`` for binaries."""
    tls: TlsInfo | None = None
    error: ErrorInfo | None = None
    decrypted: bool = True
    """False when the tunnel passed through unopened (metadata-only)."""
    run: int = 1
    """Which npm run of the session made it (1 for the first; files from before runs existed read as 1)."""

    @property
    def url(self) -> str:
        """A display URL (``host:port`` for CONNECT)."""
        if self.kind == "connect":
            return f"{self.host}:{self.port}"
        default = {"http": 80, "https": 443}.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}"

    @property
    def failed(self) -> bool:
        """True when the exchange got no answer, an error status, or a proxy's own page in place of the answer."""
        if self.error is not None:
            return True
        if self.status is None:
            return False
        return self.status >= 400 or (self.substituted and self.status < 300)

    @property
    def substituted(self) -> bool:
        """A proxy answered an HTTP request with its own HTML page (login portal, block page), not the registry."""
        return self.kind == "http" and self.hop == Hop.PROXY and "html" in (self.content_type or "").lower()

    def header(self, name: str, *, response: bool = True) -> str | None:
        """The first value of a header (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.response_headers if response else self.request_headers:
            if key.lower() == wanted:
                return value
        return None


# -- serialisation ----------------------------------------------------------------
#
# Records travel as JSON (journal, HAR ``_npmInspect``, reports, recordings).
# ``to_dict`` is ``asdict`` with tuples as lists and hops as strings, written
# out by hand because the journal calls it for every exchange (about 5× faster
# than ``dataclasses.asdict``); ``from_dict`` is tolerant: unknown keys are
# ignored and missing ones take their defaults, so older files stay readable.


def _flat(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


_TIMINGS = tuple(f.name for f in dataclasses.fields(Timings))
_NPM = tuple(f.name for f in dataclasses.fields(NpmIdentity))
_CREDENTIAL = tuple(f.name for f in dataclasses.fields(CredentialInfo))


def _evidence_dict(ev: Evidence) -> dict[str, Any]:
    return {
        "status_line": ev.status_line,
        "server": ev.server,
        "via": ev.via,
        "squid_error": ev.squid_error,
        "proxy_authenticate": list(ev.proxy_authenticate),
        "www_authenticate": list(ev.www_authenticate),
        "error_body": ev.error_body,
        "reason": ev.reason,
    }


def _tls_dict(tls: TlsInfo) -> dict[str, Any]:
    return {
        "sni": tls.sni,
        "version": tls.version,
        "subject": tls.subject,
        "issuer": tls.issuer,
        "chain": list(tls.chain),
        "chain_pem": tls.chain_pem,
        "failed_by": tls.failed_by.value if tls.failed_by is not None else None,
        "error": tls.error,
    }


def to_dict(exchange: Exchange) -> dict[str, Any]:
    """The record as JSON-ready data (every field; :func:`from_dict` reads it back equal)."""
    e = exchange
    return {
        "id": e.id,
        "seq": e.seq,
        "kind": e.kind,
        "started": e.started,
        "method": e.method,
        "scheme": e.scheme,
        "host": e.host,
        "port": e.port,
        "path": e.path,
        "status": e.status,
        "reason": e.reason,
        "hop": e.hop.value if e.hop is not None else None,
        "state": e.state,
        "upstream": e.upstream,
        "timings": _flat(e.timings, _TIMINGS),
        "evidence": _evidence_dict(e.evidence),
        "request_headers": [[k, v] for k, v in e.request_headers],
        "response_headers": [[k, v] for k, v in e.response_headers],
        "npm": _flat(e.npm, _NPM),
        "proxy_auth": _flat(e.proxy_auth, _CREDENTIAL) if e.proxy_auth is not None else None,
        "auth": _flat(e.auth, _CREDENTIAL) if e.auth is not None else None,
        "bytes_sent": e.bytes_sent,
        "bytes_received": e.bytes_received,
        "content_type": e.content_type,
        "body_preview": e.body_preview,
        "tls": _tls_dict(e.tls) if e.tls is not None else None,
        "error": {"kind": e.error.kind, "message": e.error.message} if e.error is not None else None,
        "decrypted": e.decrypted,
        "run": e.run,
    }


_NAMES: dict[type, frozenset[str]] = {}


def _build(cls: type, data: Any) -> Any:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} expects an object, got {type(data).__name__}")
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    if names.issuperset(data):
        return cls(**data)
    return cls(**{k: v for k, v in data.items() if k in names})


def _headers(data: Any) -> tuple[Header, ...]:
    return tuple((str(k), str(v)) for k, v in (data or ()))


def from_dict(data: dict[str, Any]) -> Exchange:
    """Rebuild a record from :func:`to_dict` output; raises ``TypeError``/``ValueError`` when malformed."""
    if not isinstance(data, dict):
        raise TypeError("an exchange must be a JSON object")
    evidence = dict(data.get("evidence") or {})
    for key in ("proxy_authenticate", "www_authenticate"):
        evidence[key] = tuple(evidence.get(key) or ())
    tls = data.get("tls")
    if isinstance(tls, dict):
        tls = dict(tls)
        tls["chain"] = tuple(tls.get("chain") or ())
        if tls.get("failed_by"):
            tls["failed_by"] = Hop(tls["failed_by"])
    hop = data.get("hop")
    return Exchange(
        id=str(data["id"]),
        seq=int(data.get("seq") or 0),
        kind="connect" if data.get("kind") == "connect" else "http",
        started=float(data.get("started") or 0.0),
        method=str(data.get("method") or ""),
        scheme=str(data.get("scheme") or ""),
        host=str(data.get("host") or ""),
        port=int(data.get("port") or 0),
        path=str(data.get("path") or ""),
        status=None if data.get("status") is None else int(data["status"]),
        reason=str(data.get("reason") or ""),
        hop=Hop(hop) if hop else None,
        state="open" if data.get("state") == "open" else "done",
        upstream=data.get("upstream"),
        timings=_build(Timings, data.get("timings") or {}),
        evidence=_build(Evidence, evidence),
        request_headers=_headers(data.get("request_headers")),
        response_headers=_headers(data.get("response_headers")),
        npm=_build(NpmIdentity, data.get("npm") or {}),
        proxy_auth=_build(CredentialInfo, data.get("proxy_auth")),
        auth=_build(CredentialInfo, data.get("auth")),
        bytes_sent=int(data.get("bytes_sent") or 0),
        bytes_received=int(data.get("bytes_received") or 0),
        content_type=data.get("content_type"),
        body_preview=data.get("body_preview"),
        tls=_build(TlsInfo, tls),
        error=_build(ErrorInfo, data.get("error")),
        decrypted=bool(data.get("decrypted", True)),
        run=int(data.get("run") or 1),
    )
