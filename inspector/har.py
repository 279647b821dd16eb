"""HAR 1.2 export (for support tickets) and import (a HAR someone attached to a ticket).

Export: one entry per exchange. A CONNECT attempt becomes an entry with
method ``CONNECT`` and URL ``https://host:port/`` — HAR viewers accept any
method, and a refused tunnel shows with the proxy's own status (407, 403) or
status 0 and ``_error`` when nothing answered, as mitmproxy's own HAR does.
Phase timings map to HAR's: ``connect`` = proxy connect + CONNECT round trip +
TLS (HAR counts ``ssl`` inside ``connect``), ``ssl`` = TLS, ``send``/``wait``/
``receive`` as measured. npm-inspect's own facts (hop, evidence, npm identity)
go in the ``_npmInspect`` custom field of each entry.

Records are redacted when captured; every string is scrubbed once more on the
way out, so a HAR never carries a token, password or cookie value.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import __version__
from .records import Exchange, Timings
from .redact import redact_text, redact_url
from .session import SessionInfo


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _ms(value: float | None) -> float:
    return round(value, 3) if value is not None else -1


def har_timings(t: Timings) -> dict[str, float]:
    setup = [v for v in (t.upstream_connect, t.connect, t.tls) if v is not None]
    connect = sum(setup) if setup else -1
    return {
        "blocked": -1,
        "dns": -1,
        "connect": round(connect, 3) if connect != -1 else -1,
        "ssl": _ms(t.tls),
        "send": max(0.0, _ms(t.send)),
        "wait": max(0.0, _ms(t.wait)),
        "receive": max(0.0, _ms(t.receive)),
    }


def _headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": redact_text(value)} for name, value in pairs]


def entry(exchange: Exchange) -> dict[str, Any]:
    e = exchange
    url = redact_url(f"https://{e.host}:{e.port}/" if e.kind == "connect" else e.url)
    timings = har_timings(e.timings)
    total = e.timings.total
    if total is None:
        total = sum(v for k, v in timings.items() if v > 0 and k != "ssl")
    mime = e.content_type or ("text/plain" if e.body_preview else "")
    content: dict[str, Any] = {"size": e.bytes_received, "mimeType": mime}
    if e.body_preview:
        content["text"] = redact_text(e.body_preview)
        content["comment"] = "excerpt kept by npm-inspect (bodies are not stored whole)"
    data: dict[str, Any] = {
        "startedDateTime": _iso(e.started),
        "time": round(max(0.0, total), 3),
        "request": {
            "method": e.method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(e.request_headers),
            "queryString": [{"name": k, "value": redact_text(v)} for k, v in parse_qsl(urlsplit(url).query)],
            "headersSize": -1,
            "bodySize": e.bytes_sent,
        },
        "response": {
            "status": e.status or 0,
            "statusText": e.reason or "",
            "httpVersion": (e.evidence.status_line.split(" ", 1)[0] if e.evidence.status_line else "HTTP/1.1") or "HTTP/1.1",
            "cookies": [],
            "headers": _headers(e.response_headers),
            "content": content,
            "redirectURL": next((v for k, v in e.response_headers if k.lower() == "location"), ""),
            "headersSize": -1,
            "bodySize": e.bytes_received,
        },
        "cache": {},
        "timings": timings,
        "_npmInspect": {
            "id": e.id,
            "seq": e.seq,
            "kind": e.kind,
            "hop": e.hop.value if e.hop else None,
            "state": e.state,
            "upstream": e.upstream,
            "evidence": {
                "statusLine": e.evidence.status_line,
                "server": e.evidence.server,
                "via": e.evidence.via,
                "xSquidError": e.evidence.squid_error,
                "proxyAuthenticate": list(e.evidence.proxy_authenticate),
                "wwwAuthenticate": list(e.evidence.www_authenticate),
                "errorBody": redact_text(e.evidence.error_body) if e.evidence.error_body else None,
                "reason": e.evidence.reason,
            },
            "npm": {
                "command": e.npm.command,
                "session": e.npm.session,
                "userAgent": e.npm.user_agent,
                "authType": e.npm.auth_type,
                "scope": e.npm.scope,
            },
            "proxyAuth": {"scheme": e.proxy_auth.scheme, "fingerprint": e.proxy_auth.fingerprint, "user": e.proxy_auth.username} if e.proxy_auth else None,
            "auth": {"scheme": e.auth.scheme, "fingerprint": e.auth.fingerprint} if e.auth else None,
            "timings": {k: getattr(e.timings, k) for k in Timings.__dataclass_fields__},
            "tls": {
                "issuer": e.tls.issuer,
                "subject": e.tls.subject,
                "chain": list(e.tls.chain),
                "failedBy": e.tls.failed_by.value if e.tls.failed_by else None,
                "error": e.tls.error,
            }
            if e.tls
            else None,
            "decrypted": e.decrypted,
        },
    }
    if e.error is not None:
        data["_error"] = redact_text(f"{e.error.kind}: {e.error.message}")
        data["_npmInspect"]["error"] = {"kind": e.error.kind, "message": redact_text(e.error.message)}
    return data


def make_har(exchanges: Iterable[Exchange], info: SessionInfo | None = None) -> dict[str, Any]:
    """A HAR 1.2 document (a dict); every string already redacted."""
    ordered = sorted(exchanges, key=lambda e: (e.started, e.seq))
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": {"name": "npm-inspect", "version": __version__},
        "entries": [entry(e) for e in ordered],
    }
    if info is not None:
        log["comment"] = redact_text(
            f"npm {' '.join(info.npm_argv)} (exit {info.npm_exit}); upstream "
            f"{redact_url(info.upstream) if info.upstream else 'none'}; mode {info.mode}"
        )
        log["_npmInspect"] = {
            "npmArgv": [redact_text(a) for a in info.npm_argv],
            "npmExit": info.npm_exit,
            "upstream": redact_url(info.upstream) if info.upstream else None,
            "mode": info.mode,
            "versions": {"npm-inspect": info.inspector_version, "npm": info.npm_version, "node": info.node_version},
        }
    return {"log": log}


def write_har(path: Path, exchanges: Iterable[Exchange], info: SessionInfo | None = None) -> Path:
    """Write a redacted HAR file (owner-only permissions)."""
    import os

    text = json.dumps(make_har(exchanges, info), indent=1, ensure_ascii=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path
