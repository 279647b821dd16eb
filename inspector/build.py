"""One record builder: the facts of one exchange → a redacted, bounded :class:`~inspector.records.Exchange`.

The live capture (:mod:`inspector.capture`) and the HAR reader (:mod:`inspector.har`)
both describe what they saw as :class:`ExchangeFacts` — plain, raw-ish data:
method, URL parts, status, headers as the wire had them, whether the
exchange went through a proxy or inside a tunnel, timings, error text, TLS
facts, the head of the body — and hand them to :func:`build_exchange`. This is
the one place where headers and text are redacted (:mod:`inspector.redact`),
where the hop is named (:mod:`inspector.hops`) and where peer-controlled sizes
are capped (:mod:`inspector.bounds`), so a record means the same whether it
came from a live flow or from a HAR attached to a ticket.

No mitmproxy import: facts are immutable snapshots, so the capture can take
them on the proxy's loop and build the record elsewhere (:mod:`inspector.handoff`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from . import hops, redact
from .bounds import MAX_HEADERS, bound_exchange
from .identity import credential, npm_identity
from .records import ErrorInfo, Evidence, Exchange, ExchangeKind, ExchangeState, Hop, Timings, TlsInfo

if TYPE_CHECKING:
    from .vault import SecretVault

ERROR_BODY_LIMIT = 4096
"""Characters of an error body (or a proxy's HTML page) kept as evidence."""
PREVIEW_LIMIT = 1024
"""A successful text/JSON body is kept for the detail pane only if it is this small (whoami, pings):
packuments are summarised instead — scrubbing each one would cost more than it shows."""
DECODE_LIMIT = 64 * 1024
"""Raw (possibly compressed) bytes of a body ever looked at for an excerpt."""

Source = Literal["capture", "probe", "direct", "inspector", "har"]
"""Who saw the exchange, which decides how its hop is named:

- ``capture``: an HTTP request (or a CONNECT read from a HAR) and its answer or failure, as relayed;
- ``probe``: npm-inspect's own CONNECT to the upstream proxy (its answer is the proxy's);
- ``direct``: a CONNECT npm-inspect answered itself after reaching the host (no upstream proxy);
- ``inspector``: npm-inspect's own 407 to a client without this run's credential;
- ``har``: an entry of someone else's HAR file (DevTools, mitmproxy), classified like ``capture``.
"""

RawHeaders = Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]
"""Headers as the wire had them: ``str`` pairs, or mitmproxy's ``Headers.fields`` (``bytes`` pairs, decoded here)."""


@dataclass(frozen=True, slots=True)
class ExchangeFacts:
    """What was seen of one exchange, before any redaction, classification or cap.

    Immutable and free of mitmproxy objects: safe to hand to another thread.
    Holds raw secrets (headers, credentials): never store, log or show it —
    only :func:`build_exchange` turns it into something that may be.
    """

    source: Source
    id: str
    seq: int
    started: float
    method: str
    host: str
    port: int
    kind: ExchangeKind = "http"
    scheme: str = ""
    path: str = ""
    http_version: str = "HTTP/1.1"
    status: int | None = None
    """``None``: no answer (see ``error``)."""
    reason: str = ""
    request_headers: RawHeaders = ()
    response_headers: RawHeaders = ()
    proxy_authorization: str | None = None
    """The credential sent to the upstream proxy (raw); ``None``: the request's ``Proxy-Authorization``, if any."""
    via_proxy: bool = False
    """The exchange went through an upstream proxy."""
    in_tunnel: bool = False
    """The request travelled inside a CONNECT tunnel (TLS end to end with the registry)."""
    upstream: str | None = None
    """``host:port`` of the upstream proxy."""
    error: str | None = None
    """Error text (raw): no answer, or the transfer broke off after the answer began."""
    error_kind: str | None = None
    """An error kind already known (the probe's ``proxy-slow``); otherwise classified from ``error``."""
    reached_registry: bool = False
    """The tunnel (or direct connection) to the registry was up before the failure."""
    reused: bool = False
    """``probe``: a recent "200" for the same tunnel, not a new probe."""
    tls: TlsInfo | None = None
    """The registry's certificate and any TLS failure (``error`` raw)."""
    body: bytes | str | None = None
    """The head of the response body: raw bytes (``body_encoding`` applies) or text (a HAR's)."""
    body_encoding: str | None = None
    body_size: int = 0
    """Bytes of the response body received (all of it, not only ``body``)."""
    bytes_sent: int = 0
    content_type: str | None = None
    """``None``: read from ``response_headers``."""
    timings: Timings = Timings()
    state: ExchangeState = "done"
    decrypted: bool = True
    run: int = 1


# -- the builder --------------------------------------------------------------------------------------


def build_exchange(facts: ExchangeFacts, *, vault: "SecretVault | None" = None) -> Exchange:
    """The redacted, bounded record of one exchange; ``vault`` (live sessions) keeps the secrets seen."""
    f = facts
    request_headers = text_headers(f.request_headers)
    response_headers = text_headers(f.response_headers)
    req, resp = _Index(request_headers), _Index(response_headers)
    if vault is not None:
        vault.remember_headers(request_headers)
        vault.remember_headers(response_headers)
        if f.proxy_authorization:
            vault.remember_headers([("proxy-authorization", f.proxy_authorization)])
    if f.source == "probe":
        hop, evidence, error = _probe(f, resp)
    elif f.source == "direct":
        hop, evidence, error = _direct(f)
    elif f.source == "inspector":
        hop, evidence, error = _refusal(f, resp)
    else:
        hop, evidence, error = _relayed(f, request_headers, response_headers, resp)
    connect = f.kind == "connect"
    content_type = None
    preview = evidence_body = None
    if f.source in ("capture", "har"):
        content_type = f.content_type if f.content_type is not None else resp.first("content-type")
    if f.source in ("capture", "har") and not connect:
        preview = _excerpt(f, content_type)
        evidence_body = preview if f.status is not None and f.status >= 400 else None
        if evidence_body is not None or evidence.error_body is not None:
            evidence = replace(evidence, error_body=evidence_body)
    record = Exchange(
        id=f.id,
        seq=f.seq,
        kind=f.kind,
        started=f.started,
        method=f.method,
        scheme="" if connect else f.scheme,
        host=f.host,
        port=f.port,
        path="" if connect else redact.bounded_text(f.path),
        status=f.status,
        reason=f.reason,
        hop=hop,
        state=f.state,
        upstream=f.upstream,
        timings=f.timings,
        evidence=evidence,
        request_headers=redact.bounded_headers(request_headers, max_count=MAX_HEADERS),
        response_headers=redact.bounded_headers(response_headers, max_count=MAX_HEADERS),
        npm=npm_identity(req.first),
        proxy_auth=credential(_proxy_authorization(f, req)),
        auth=credential(req.first("authorization")),
        bytes_sent=max(0, f.bytes_sent),
        bytes_received=max(0, f.body_size),
        content_type=content_type,
        body_preview=preview,
        tls=redacted_tls(f.tls),
        error=error,
        decrypted=f.decrypted,
        run=f.run,
    )
    return bound_exchange(record)


def fail_tunnel(record: Exchange, tls: TlsInfo | None, hop: Hop, kind: str, message: str) -> Exchange:
    """An open tunnel's record after TLS failed inside it: the hop that failed, the TLS facts, the error (redacted)."""
    return bound_exchange(replace(record, hop=hop, tls=redacted_tls(tls), error=ErrorInfo(kind, redact.redact_text(message))))


class _Index:
    """Header values by lower-cased name, built once per record (a record looks up some fifteen names)."""

    __slots__ = ("_values",)

    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        values: dict[str, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)
        self._values = values

    def first(self, name: str) -> str | None:
        found = self._values.get(name)
        return found[0] if found else None

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(self._values.get(name, ()))


def _proxy_authorization(f: ExchangeFacts, req: _Index) -> str | None:
    """The credential the proxy saw: the probe's own, else what npm sent (or what its tunnel carried)."""
    sent = req.first("proxy-authorization")
    return (f.proxy_authorization or sent) if f.source == "probe" else (sent or f.proxy_authorization)


def _evidence(f: ExchangeFacts, resp: _Index, reason: str, error_body: str | None = None) -> Evidence:
    """The answer's telling parts: status line, who served it, and the challenges it made."""
    return Evidence(
        status_line=f"{f.http_version or 'HTTP/1.1'} {f.status} {f.reason}".strip() if f.status is not None else "",
        server=resp.first("server"),
        via=resp.first("via"),
        squid_error=resp.first("x-squid-error"),
        proxy_authenticate=resp.all("proxy-authenticate"),
        www_authenticate=resp.all("www-authenticate"),
        error_body=error_body,
        reason=reason,
    )


def _probe(f: ExchangeFacts, resp: _Index) -> tuple[Hop, Evidence, ErrorInfo | None]:
    """npm-inspect asked the upstream proxy for the tunnel first: its answer (or silence) is the proxy's."""
    upstream = f.upstream or "?"
    if f.status is None:
        why = (
            f"the upstream proxy {upstream} accepted the TCP connection but had not answered CONNECT"
            if f.error_kind == hops.PROXY_SLOW
            else f"npm-inspect could not get an answer from the upstream proxy {upstream}"
        )
        message = redact.redact_text(f"upstream proxy {upstream}: {f.error}")
        return Hop.PROXY, Evidence(reason=why), ErrorInfo(f.error_kind or "connect-failed", message)
    accepted = 200 <= f.status < 300
    body = None
    if not accepted:
        text = _decode_excerpt(f.body if isinstance(f.body, bytes) else None, f.body_encoding, ERROR_BODY_LIMIT)
        body = redact.redact_text(text) if text else None
    reason = (
        f"the upstream proxy {upstream} accepted this tunnel moments ago (answer reused)"
        if f.reused
        else f"the upstream proxy {upstream} answered the CONNECT"
    )
    return Hop.PROXY, _evidence(f, resp, reason, body), None


def _direct(f: ExchangeFacts) -> tuple[Hop, Evidence, ErrorInfo | None]:
    """No upstream proxy: npm-inspect reached the host itself (or could not) and answered CONNECT."""
    status_line = f"HTTP/1.1 {f.status} {f.reason}".strip() if f.status is not None else ""
    if f.status is not None and f.status < 400:
        return Hop.INSPECTOR, Evidence(status_line=status_line, reason="direct connection: npm-inspect reached the host and answered CONNECT"), None
    if f.status is not None:
        raw = f.body if isinstance(f.body, str) else (f.body or b"").decode("utf-8", "replace")
        message = raw or "connection failed"
    else:
        message = f.error or "no answer"
    error = ErrorInfo("connect-failed", redact.redact_text(message)[:500])
    return Hop.REGISTRY, Evidence(status_line=status_line, reason="direct connection to the registry host failed"), error


def _refusal(f: ExchangeFacts, resp: _Index) -> tuple[Hop, Evidence, ErrorInfo | None]:
    """npm-inspect's own 407: the client did not hold this run's credential (nothing went upstream)."""
    evidence = Evidence(
        status_line=f"{f.http_version} {f.status} {f.reason}".strip(),
        proxy_authenticate=resp.all("proxy-authenticate"),
        reason=(
            "npm-inspect refused this client: it did not present this run's proxy credential "
            "(npm-inspect hands it only to the npm it runs, or shows it in the setup pane); "
            "nothing was sent upstream"
        ),
    )
    return Hop.INSPECTOR, evidence, None


def _relayed(
    f: ExchangeFacts, request_headers: Sequence[tuple[str, str]], response_headers: Sequence[tuple[str, str]], resp: _Index
) -> tuple[Hop, Evidence, ErrorInfo | None]:
    """An answer relayed through npm-inspect (or recorded in a HAR): name the hop from what it carries."""
    suffix = " (read from a HAR file)" if f.source == "har" else ""
    if f.status is not None:
        content_type = f.content_type if f.content_type is not None else resp.first("content-type")
        wanted = hops.npm_wants(f.path, request_headers) if hops.is_html(content_type) else None
        hop, why = hops.classify_response(
            kind=f.kind,
            status=f.status,
            headers=response_headers,
            via_proxy=f.via_proxy,
            in_tunnel=f.in_tunnel,
            wanted=wanted,
        )
        error = None
        if f.error is not None:  # the answer began, then broke off (npm killed, server reset mid-body)
            message = redact.redact_text(f.error)
            kind, hop = hops.classify_error(f.error, via_proxy=f.via_proxy, phase_reached_registry=True)
            error = ErrorInfo(kind, message)
            why = f"{why}; then the transfer broke off: {message}"
        return hop, _evidence(f, resp, why + suffix), error
    if f.error is None and f.source == "har":
        return Hop.REGISTRY, Evidence(reason="no answer recorded" + suffix), None
    message = f.error if f.error is not None else "no response"
    kind, hop = hops.classify_error(message, via_proxy=f.via_proxy, phase_reached_registry=f.reached_registry)
    if f.tls is not None and f.tls.failed_by is not None:
        kind, hop = "tls", Hop.TLS if f.tls.failed_by == Hop.REGISTRY else Hop.CLIENT
    redacted = redact.redact_text(message)
    return hop, Evidence(reason=f"no HTTP answer: {redacted}{suffix}"), ErrorInfo(kind, redacted)


def _excerpt(f: ExchangeFacts, content_type: str | None) -> str | None:
    """The redacted body excerpt kept for a record: error bodies, proxies' HTML pages, small text answers."""
    if f.status is None or f.body is None or not is_textual((content_type or "").lower()):
        return None
    error_status = f.status >= 400
    html = hops.is_html(content_type)
    if not (error_status or html or f.body_size <= PREVIEW_LIMIT):
        return None
    limit = ERROR_BODY_LIMIT if error_status or html else PREVIEW_LIMIT
    if isinstance(f.body, str):
        text = f.body[:limit]
    else:
        text = _decode_excerpt(f.body, f.body_encoding, limit)
    return redact.redact_text(text) if text else None


def redacted_tls(tls: TlsInfo | None) -> TlsInfo | None:
    """TLS facts with the failure text scrubbed (certificate names and PEM hold no secret)."""
    if tls is None or tls.error is None:
        return tls
    return replace(tls, error=redact.redact_text(tls.error))


# -- pieces the capture and the HAR reader share -----------------------------------------------------------


def text_headers(headers: RawHeaders) -> tuple[tuple[str, str], ...]:
    """Header pairs as text: wire bytes are decoded as mitmproxy does (UTF-8, undecodable bytes kept as escapes)."""
    out = []
    for name, value in headers:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        out.append((name, value))
    return tuple(out)


def is_textual(content_type: str) -> bool:
    """A body worth reading as text (JSON, text, XML, or no type at all)."""
    return "json" in content_type or content_type.startswith("text/") or "xml" in content_type or content_type == ""


def wants_excerpt(status: int | None, content_type: str | None, size: int) -> bool:
    """Whether :func:`build_exchange` will look at the body: lets the capture skip copying it otherwise."""
    if status is None or not is_textual((content_type or "").lower()):
        return False
    return status >= 400 or hops.is_html(content_type) or size <= PREVIEW_LIMIT


def _decode_excerpt(raw: bytes | None, encoding: str | None, limit: int) -> str | None:
    """Decode at most ``limit`` bytes of a body; gzip/deflate are inflated with a cap (no bombs)."""
    if not raw:
        return None
    data = raw[:DECODE_LIMIT]
    encoding = (encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
        elif encoding == "deflate":
            data = zlib.decompressobj().decompress(data, limit)
        elif encoding not in ("", "identity"):
            return f"({encoding}-encoded body, {len(raw)} bytes)"
    except zlib.error:
        return f"({encoding} body that does not decode, {len(raw)} bytes)"
    return data[:limit].decode("utf-8", "replace")


_AUTHORITY = re.compile(r"^(?P<host>[^:]+|\[.+\])(?::(?P<port>\d+))?$")


def display_host(host_header: str | None, host: str) -> str:
    """The host npm asked for: the Host header's (or HTTP/2 authority's) host part, else the connection's host.

    Like mitmproxy's ``Request.pretty_host`` (a malformed header is shown whole).
    """
    if not host_header:
        return host
    match = _AUTHORITY.match(host_header)
    if not match:
        return host_header
    name = match.group("host")
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def ms(start: float | None, end: float | None) -> float | None:
    """Milliseconds between two epoch times (never negative), or ``None`` when either is missing."""
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start) * 1000), 3)


# -- records from outside --------------------------------------------------------------------------------


def scrub_exchange(exchange: Exchange) -> Exchange:
    """A record read from a file someone else may have written, passed through the same redaction and caps.

    Idempotent on what :func:`build_exchange` makes (masks are kept, caps are not applied twice), so a
    record survives HAR → record → HAR unchanged.
    """
    e = exchange
    changes: dict[str, object] = {}
    for name in ("request_headers", "response_headers"):
        headers = getattr(e, name)
        scrubbed = tuple([redact.redact_header_pair(k, v) for k, v in headers])
        if scrubbed != headers:
            changes[name] = scrubbed
    for name in ("path", "body_preview", "reason"):
        value = getattr(e, name)
        if value and (clean := redact.redact_text(value)) != value:
            changes[name] = clean
    evidence = e.evidence
    ev_changes = {
        name: clean
        for name in ("status_line", "server", "via", "squid_error", "error_body", "reason")
        if (value := getattr(evidence, name)) and (clean := redact.redact_text(value)) != value
    }
    if ev_changes:
        changes["evidence"] = replace(evidence, **ev_changes)
    if e.error is not None and (clean := redact.redact_text(e.error.message)) != e.error.message:
        changes["error"] = replace(e.error, message=clean)
    if e.tls is not None and e.tls.error and (clean := redact.redact_text(e.tls.error)) != e.tls.error:
        changes["tls"] = replace(e.tls, error=clean)
    if e.upstream and (clean := redact.redact_url(e.upstream)) != e.upstream:
        changes["upstream"] = clean
    return bound_exchange(replace(e, **changes) if changes else e)


_REFUSED = re.compile(r"refused HTTP CONNECT request: (\d{3})\s*(.*)$")


def refused_connect(error_text: str) -> tuple[int, str] | None:
    """mitmproxy's words for an upstream proxy's refusal of CONNECT: its status and reason, or ``None``."""
    match = _REFUSED.search(error_text)
    return (int(match.group(1)), match.group(2).strip()) if match else None


def pairs(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in headers)
