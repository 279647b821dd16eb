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

import re
from collections.abc import Callable

from . import __version__, hops, redact
from .errors import SessionFileError
from .identity import credential, npm_identity
from .npmconfig import NpmConfigSnapshot
from .records import CredentialInfo, ErrorInfo, Evidence, Exchange, Hop, NpmIdentity, Timings, TlsInfo
from .redact import redact_argv, redact_text, redact_url
from .bounds import bound_exchange
from .output import write_private
from .session import SessionInfo
from .vault import SecretVault

_MASK = re.compile(r"\[redacted:([0-9a-f]{8})\]")


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


def make_har(
    exchanges: Iterable[Exchange], info: SessionInfo | None = None, config: NpmConfigSnapshot | None = None
) -> dict[str, Any]:
    """A HAR 1.2 document (a dict); every string already redacted."""
    ordered = sorted(exchanges, key=lambda e: (e.started, e.seq))
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": {"name": "npm-inspect", "version": __version__},
        "entries": [entry(e) for e in ordered],
    }
    if info is not None:
        log["comment"] = redact_text(
            f"npm {' '.join(redact_argv(info.npm_argv)[1:])} (exit {info.npm_exit}); upstream "
            f"{redact_url(info.upstream) if info.upstream else 'none'}; mode {info.mode}"
        )
        log["_npmInspect"] = {
            "npmArgv": redact_argv(info.npm_argv),
            "npmExit": info.npm_exit,
            "upstream": redact_url(info.upstream) if info.upstream else None,
            "mode": info.mode,
            "versions": {"npm-inspect": info.inspector_version, "npm": info.npm_version, "node": info.node_version},
            "listen": info.listen,
            "started": info.started,
        }
    if config is not None:
        log.setdefault("_npmInspect", {})["config"] = config.to_dict()
    return {"log": log}


def write_har(
    path: Path,
    exchanges: Iterable[Exchange],
    info: SessionInfo | None = None,
    config: NpmConfigSnapshot | None = None,
    *,
    reveal: Callable[[str], str | None] | None = None,
    vault: SecretVault | None = None,
) -> Path:
    """Write a HAR file (owner-only), redacted unless ``reveal`` (live secrets) is given.

    A redacted HAR is first searched for every secret in ``vault`` (the session's): a hit refuses the write.
    """
    document = make_har(exchanges, info, config)
    text = json.dumps(document, indent=1, ensure_ascii=False)
    if reveal is not None:
        text = _MASK.sub(lambda m: json.dumps(reveal(m.group(1)) or m.group(0))[1:-1], text)
        vault = None  # the user asked for the secrets
    return write_private(path, text, vault=vault, what=f"the HAR {path}")


# -- reading --------------------------------------------------------------------------------------------

_REFUSED = re.compile(r"refused HTTP CONNECT request: (\d{3})\s*(.*)$")


def _parse_time(text: str) -> float:
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items or ():
        if isinstance(item, dict) and "name" in item:
            out.append((str(item["name"]), str(item.get("value", ""))))
    return tuple(out)


def _timings(data: dict[str, Any], total: float | None) -> Timings:
    def value(key: str) -> float | None:
        v = data.get(key)
        return float(v) if isinstance(v, (int, float)) and v >= 0 else None

    connect, ssl = value("connect"), value("ssl")
    return Timings(
        upstream_connect=connect - ssl if connect is not None and ssl is not None else connect,
        tls=ssl,
        send=value("send"),
        wait=value("wait"),
        receive=value("receive"),
        total=total,
    )


def _from_npm_inspect(n: int, item: dict[str, Any], custom: dict[str, Any]) -> Exchange:
    request, response = item.get("request") or {}, item.get("response") or {}
    parts = urlsplit(request.get("url", ""))
    ev = custom.get("evidence") or {}
    error = custom.get("error")
    tls = custom.get("tls")
    proxy_auth, auth = custom.get("proxyAuth"), custom.get("auth")
    npm = custom.get("npm") or {}
    timings = custom.get("timings") or {}
    kind = "connect" if custom.get("kind") == "connect" else "http"
    status = response.get("status") or None
    path = "" if kind == "connect" else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Exchange(
        id=str(custom.get("id") or f"har-{n}"),
        seq=int(custom.get("seq") or n),
        kind=kind,
        started=_parse_time(item.get("startedDateTime", "")),
        method=str(request.get("method", "")),
        scheme="" if kind == "connect" else parts.scheme,
        host=parts.hostname or "",
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=path,
        status=int(status) if status else None,
        reason=str(response.get("statusText", "")),
        hop=Hop(custom["hop"]) if custom.get("hop") else None,
        state="open" if custom.get("state") == "open" else "done",
        upstream=custom.get("upstream"),
        timings=Timings(**{k: timings.get(k) for k in Timings.__dataclass_fields__}),
        evidence=Evidence(
            status_line=ev.get("statusLine") or "",
            server=ev.get("server"),
            via=ev.get("via"),
            squid_error=ev.get("xSquidError"),
            proxy_authenticate=tuple(ev.get("proxyAuthenticate") or ()),
            www_authenticate=tuple(ev.get("wwwAuthenticate") or ()),
            error_body=ev.get("errorBody"),
            reason=ev.get("reason") or "",
        ),
        request_headers=redact.bounded_headers(_pairs(request.get("headers"))),
        response_headers=redact.bounded_headers(_pairs(response.get("headers"))),
        npm=NpmIdentity(command=npm.get("command"), session=npm.get("session"), user_agent=npm.get("userAgent"), auth_type=npm.get("authType"), scope=npm.get("scope")),
        proxy_auth=CredentialInfo(proxy_auth["scheme"], proxy_auth["fingerprint"], proxy_auth.get("user")) if proxy_auth else None,
        auth=CredentialInfo(auth["scheme"], auth["fingerprint"]) if auth else None,
        bytes_sent=max(0, int(request.get("bodySize") or 0)),
        bytes_received=max(0, int(response.get("bodySize") or 0)),
        content_type=(response.get("content") or {}).get("mimeType") or None,
        body_preview=redact_text((response.get("content") or {}).get("text")) if (response.get("content") or {}).get("text") else None,
        tls=TlsInfo(issuer=tls.get("issuer"), subject=tls.get("subject"), chain=tuple(tls.get("chain") or ()), failed_by=Hop(tls["failedBy"]) if tls.get("failedBy") else None, error=tls.get("error")) if tls else None,
        error=ErrorInfo(error["kind"], redact_text(error["message"])) if error else None,
        decrypted=bool(custom.get("decrypted", True)),
    )


def _from_foreign(n: int, item: dict[str, Any]) -> Exchange:
    """An entry from Chrome, Firefox, mitmproxy or anything else: derive what npm-inspect would have recorded."""
    request, response = item.get("request") or {}, item.get("response") or {}
    url = str(request.get("url", ""))
    parts = urlsplit(url)
    raw_request_headers = _pairs(request.get("headers"))
    raw_response_headers = _pairs(response.get("headers"))
    status = int(response.get("status") or 0) or None
    reason = str(response.get("statusText", ""))
    method = str(request.get("method", "GET"))
    kind = "connect" if method == "CONNECT" else "http"
    error_text = item.get("_error") or (response.get("_error") if isinstance(response, dict) else None)
    error = None
    proxy_markers = hops.looks_like_proxy_answer(raw_response_headers) or hops.first_header(raw_response_headers, "via")
    via_proxy = bool(proxy_markers) or status == 407
    if status is None and error_text:
        refused = _REFUSED.search(str(error_text))
        if refused:  # mitmproxy's own HAR of a refused upstream CONNECT
            kind, method = "connect", "CONNECT"
            status, reason = int(refused.group(1)), refused.group(2).strip()
            via_proxy = True
        else:
            error_kind, hop = hops.classify_error(str(error_text), via_proxy=via_proxy, phase_reached_registry=False)
            error = ErrorInfo(error_kind, redact_text(str(error_text)))
    if status is not None:
        hop, why = hops.classify_response(kind=kind, status=status, headers=raw_response_headers, via_proxy=via_proxy, in_tunnel=parts.scheme == "https" and kind == "http")
    elif error is None:
        hop, why = Hop.REGISTRY, "no answer recorded"
    else:
        why = f"no HTTP answer: {error.message}"
    content = response.get("content") or {}
    text = content.get("text") if isinstance(content.get("text"), str) and content.get("encoding") != "base64" else None
    mime = str(content.get("mimeType") or "") or None
    limit = 4096 if status and status >= 400 else 1024
    body = redact_text(text[:limit]) if text and (not mime or "json" in mime or mime.startswith("text/")) else None
    total = item.get("time")
    path = "" if kind == "connect" else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Exchange(
        id=f"har-{n}",
        seq=n,
        kind=kind,  # type: ignore[arg-type]
        started=_parse_time(item.get("startedDateTime", "")),
        method=method,
        scheme="" if kind == "connect" else parts.scheme,
        host=parts.hostname or "",
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=redact_text(path),
        status=status,
        reason=reason,
        hop=hop,
        upstream=None,
        timings=_timings(item.get("timings") or {}, float(total) if isinstance(total, (int, float)) and total >= 0 else None),
        evidence=Evidence(
            status_line=f"{response.get('httpVersion') or 'HTTP/1.1'} {status} {reason}".strip() if status else "",
            server=hops.first_header(raw_response_headers, "server"),
            via=hops.first_header(raw_response_headers, "via"),
            squid_error=hops.first_header(raw_response_headers, "x-squid-error"),
            proxy_authenticate=tuple(hops.header_values(raw_response_headers, "proxy-authenticate")),
            www_authenticate=tuple(hops.header_values(raw_response_headers, "www-authenticate")),
            error_body=body if status and status >= 400 else None,
            reason=f"{why} (read from a HAR file)",
        ),
        request_headers=redact.bounded_headers(raw_request_headers),
        response_headers=redact.bounded_headers(raw_response_headers),
        npm=npm_identity(lambda name: hops.first_header(raw_request_headers, name)),
        proxy_auth=credential(hops.first_header(raw_request_headers, "proxy-authorization")),
        auth=credential(hops.first_header(raw_request_headers, "authorization")),
        bytes_sent=max(0, int(request.get("bodySize") or 0)),
        bytes_received=max(0, int(response.get("bodySize") or content.get("size") or 0)),
        content_type=mime,
        body_preview=body,
        error=error,
    )


def read_har(path: Path) -> tuple[list[Exchange], SessionInfo, NpmConfigSnapshot | None]:
    """Records from a HAR file (npm-inspect's own, DevTools', mitmproxy's); secrets are redacted on the way in."""
    try:
        document = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except IsADirectoryError:
        raise SessionFileError(f"{path} is a directory: give a .har file") from None
    except OSError as e:
        raise SessionFileError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise SessionFileError(f"{path} is not valid JSON ({e}): give a HAR file or an npm-inspect session") from None
    except RecursionError:
        raise SessionFileError(f"{path} is nested too deeply to be a HAR: give a HAR file or an npm-inspect session") from None
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise SessionFileError(f"{path} is JSON but not a HAR (no log.entries): give a HAR file or an npm-inspect session")
    exchanges = []
    for n, item in enumerate(log["entries"], 1):
        if not isinstance(item, dict):
            continue
        try:
            custom = item.get("_npmInspect")
            exchange = _from_npm_inspect(n, item, custom) if isinstance(custom, dict) else _from_foreign(n, item)
            exchanges.append(bound_exchange(exchange))
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            continue  # a malformed entry: skip it, keep the rest
    meta = log.get("_npmInspect") or {}
    versions = meta.get("versions") or {}
    info = SessionInfo(
        npm_argv=redact_argv([str(a) for a in meta.get("npmArgv") or []]),
        upstream=meta.get("upstream"),
        mode=meta.get("mode") or "decrypt",
        listen=meta.get("listen"),
        npm_exit=meta.get("npmExit"),
        npm_version=versions.get("npm"),
        node_version=versions.get("node"),
        inspector_version=versions.get("npm-inspect"),
        started=meta.get("started"),
    )
    config = NpmConfigSnapshot.from_dict(meta["config"]) if isinstance(meta.get("config"), dict) else None
    return exchanges, info, config
