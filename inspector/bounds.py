"""Per-exchange size caps: a record's size does not depend on what a client or upstream sends.

A peer can send megabyte headers, URLs, reason phrases or thousands of headers.
Records keep a prefix of each (with a "truncated N bytes" marker), so memory,
the journal and every export grow by a bounded amount per exchange. The
capture redacts headers and URLs with the caps already applied
(:func:`inspector.redact.bounded_headers`, :func:`~inspector.redact.bounded_text`);
:func:`bound_exchange` is the last pass over every other string of a record.
"""

from __future__ import annotations

from dataclasses import fields, replace

from .records import Evidence, Exchange, NpmIdentity
from .redact import HEADER_VALUE_LIMIT, bounded_headers, bounded_text, truncate

MAX_HEADERS = 100
"""Headers kept per direction; the rest are counted in one marker header."""
URL_LIMIT = HEADER_VALUE_LIMIT
HOST_LIMIT = 1024
SHORT_LIMIT = 1024
"""Reason phrases, ``Server``/``Via`` values, npm's user agent, error messages."""
MAX_CHALLENGES = 10

def _headers_too_big(headers: tuple[tuple[str, str], ...]) -> bool:
    if len(headers) > MAX_HEADERS + 1:
        return True
    for k, v in headers:
        if len(v) > HEADER_VALUE_LIMIT + 64 or len(k) > 300:
            return True
    return False


def _bound_evidence(ev: Evidence) -> Evidence:
    changes: dict[str, object] = {}
    for name in ("status_line", "server", "via", "squid_error", "reason"):
        value = getattr(ev, name)
        if value is not None and len(value) > SHORT_LIMIT:
            changes[name] = truncate(value, SHORT_LIMIT)
    for name in ("proxy_authenticate", "www_authenticate"):
        values = getattr(ev, name)
        if len(values) > MAX_CHALLENGES or any(len(v) > SHORT_LIMIT for v in values):
            changes[name] = tuple(truncate(v, SHORT_LIMIT) for v in values[:MAX_CHALLENGES])
    if ev.error_body is not None and len(ev.error_body) > HEADER_VALUE_LIMIT + 64:
        changes["error_body"] = truncate(ev.error_body, HEADER_VALUE_LIMIT)
    return replace(ev, **changes) if changes else ev


_NPM_FIELDS = tuple(f.name for f in fields(NpmIdentity))


def _bound_npm(npm: NpmIdentity) -> NpmIdentity:
    changes = {name: truncate(v, 512) for name in _NPM_FIELDS if (v := getattr(npm, name)) is not None and len(v) > 512}
    return replace(npm, **changes) if changes else npm


def bound_exchange(exchange: Exchange) -> Exchange:
    """The record with every peer-controlled string and list capped (the same object when nothing is over)."""
    e = exchange
    changes: dict[str, object] = {}
    if len(e.host) > HOST_LIMIT:
        changes["host"] = truncate(e.host, HOST_LIMIT)
    if len(e.path) > URL_LIMIT + 64:
        changes["path"] = bounded_text(e.path, URL_LIMIT)
    if len(e.reason) > SHORT_LIMIT:
        changes["reason"] = truncate(e.reason, SHORT_LIMIT)
    if _headers_too_big(e.request_headers):
        changes["request_headers"] = bounded_headers(e.request_headers, max_count=MAX_HEADERS)
    if _headers_too_big(e.response_headers):
        changes["response_headers"] = bounded_headers(e.response_headers, max_count=MAX_HEADERS)
    evidence = _bound_evidence(e.evidence)
    if evidence is not e.evidence:
        changes["evidence"] = evidence
    npm = _bound_npm(e.npm)
    if npm is not e.npm:
        changes["npm"] = npm
    if e.content_type is not None and len(e.content_type) > SHORT_LIMIT:
        changes["content_type"] = truncate(e.content_type, SHORT_LIMIT)
    if e.body_preview is not None and len(e.body_preview) > HEADER_VALUE_LIMIT + 64:
        changes["body_preview"] = truncate(e.body_preview, HEADER_VALUE_LIMIT)
    if e.error is not None and len(e.error.message) > SHORT_LIMIT * 2:
        changes["error"] = replace(e.error, message=truncate(e.error.message, SHORT_LIMIT * 2))
    if e.tls is not None and (len(e.tls.chain) > 10 or len(e.tls.chain_pem or "") > 64 * 1024):
        changes["tls"] = replace(e.tls, chain=e.tls.chain[:10], chain_pem=(e.tls.chain_pem or "")[: 64 * 1024] or None)
    return replace(e, **changes) if changes else e
