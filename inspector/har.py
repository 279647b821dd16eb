"""HAR 1.2 export (for support tickets) and import (a HAR someone attached to a ticket).

Export: one entry per exchange. A CONNECT attempt becomes an entry with
method ``CONNECT`` and URL ``https://host:port/`` — HAR viewers accept any
method, and a refused tunnel shows with the proxy's own status (407, 403) or
status 0 and ``_error`` when nothing answered, as mitmproxy's own HAR does.
Phase timings map to HAR's: ``connect`` = proxy connect + CONNECT round trip +
TLS (HAR counts ``ssl`` inside ``connect``), ``ssl`` = TLS, ``send``/``wait``/
``receive`` as measured. npm-inspect's own facts (hop, evidence, npm identity)
go in the ``_npmInspect`` custom field of each entry: the whole record as
:func:`inspector.records.to_dict` writes it (less its headers, which are the
entry's own), read back by :func:`~inspector.records.from_dict` — so a HAR
reopened from a ticket keeps every field (the TLS chain that names and saves
a re-signing CA, npm's request type, the run). Entries written by earlier
versions (camelCase ``_npmInspect``) and HARs from other tools (DevTools,
mitmproxy) are read too; the latter go through the capture's own record
builder (:mod:`inspector.build`).

Records are redacted when captured; every string is scrubbed once more on the
way out (and on the way in), so a HAR never carries a token, password or
cookie value. Both directions stream: entries are written and read one by one,
so memory does not grow with the number of exchanges.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import __version__, hops
from .build import ExchangeFacts, build_exchange, refused_connect, scrub_exchange
from .errors import SessionFileError
from .jsonstream import JsonStream
from .npmconfig import NpmConfigSnapshot
from .output import PrivateFile
from .records import Exchange, Timings, from_dict, to_dict
from .redact import redact_text
from .session import SessionInfo
from .vault import SecretVault

_MASK = re.compile(r"\[redacted:([0-9a-f]{8})\]")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
"""One entry's JSON: compact, and without the circular-reference bookkeeping (entries are plain trees)."""


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


RECORD_SCHEMA = "npm-inspect/record@2"
"""Marks an entry's ``_npmInspect`` written by :func:`inspector.records.to_dict` (older files have camelCase fields)."""


def _har_headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def entry(exchange: Exchange) -> dict[str, Any]:
    """One HAR entry; ``_npmInspect`` is the whole record (:func:`~inspector.records.to_dict`) but its headers,
    which are the entry's own request and response headers."""
    e = scrub_exchange(exchange)  # every string scrubbed once more on the way out
    url = f"https://{e.host}:{e.port}/" if e.kind == "connect" else e.url
    timings = har_timings(e.timings)
    total = e.timings.total
    if total is None:
        total = sum(v for k, v in timings.items() if v > 0 and k != "ssl")
    mime = e.content_type or ("text/plain" if e.body_preview else "")
    content: dict[str, Any] = {"size": e.bytes_received, "mimeType": mime}
    if e.body_preview:
        content["text"] = e.body_preview
        content["comment"] = "excerpt kept by npm-inspect (bodies are not stored whole)"
    custom = to_dict(e)
    del custom["request_headers"], custom["response_headers"]
    custom["schema"] = RECORD_SCHEMA
    data: dict[str, Any] = {
        "startedDateTime": _iso(e.started),
        "time": round(max(0.0, total), 3),
        "request": {
            "method": e.method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(e.request_headers),
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)] if "?" in url else [],
            "headersSize": -1,
            "bodySize": e.bytes_sent,
        },
        "response": {
            "status": e.status or 0,
            "statusText": e.reason or "",
            "httpVersion": (e.evidence.status_line.split(" ", 1)[0] if e.evidence.status_line else "HTTP/1.1") or "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(e.response_headers),
            "content": content,
            "redirectURL": next((v for k, v in e.response_headers if k.lower() == "location"), ""),
            "headersSize": -1,
            "bodySize": e.bytes_received,
        },
        "cache": {},
        "timings": timings,
        "_npmInspect": custom,
    }
    if e.error is not None:
        data["_error"] = f"{e.error.kind}: {e.error.message}"
    return data


def _log_meta(info: SessionInfo | None, config: NpmConfigSnapshot | None) -> dict[str, Any]:
    """The log's own fields besides its entries: what the session was, its runs and its tool.

    ``_npmInspect.session`` is :meth:`SessionInfo.to_dict` whole (argv, upstream and npm's words are stored
    redacted already), so a HAR re-opened from a ticket shows the same runs and tool as the session did.
    """
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "npm-inspect", "version": __version__}}
    if info is not None:
        shown = info.redacted()
        runs = shown.runs_line()
        log["comment"] = redact_text(
            f"{' '.join([shown.tool_label, *shown.npm_argv[1:]])} (exit {shown.npm_exit}); upstream "
            f"{shown.upstream or 'none'}; mode {shown.mode}" + (f"; {runs}" if runs else "")
        )
        log["_npmInspect"] = {"session": shown.to_dict()}
    if config is not None:
        log.setdefault("_npmInspect", {})["config"] = config.to_dict()
    return log


def _ordered(exchanges: Iterable[Exchange]) -> list[Exchange]:
    return sorted(exchanges, key=lambda e: (e.started, e.seq))


def make_har(
    exchanges: Iterable[Exchange], info: SessionInfo | None = None, config: NpmConfigSnapshot | None = None
) -> dict[str, Any]:
    """A HAR 1.2 document (a dict); every string already redacted. For big sessions use :func:`write_har`."""
    log = _log_meta(info, config)
    log["entries"] = [entry(e) for e in _ordered(exchanges)]
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

    Streamed: entries are written one by one (never the whole document in memory), each block
    searched for every secret in ``vault`` (the session's) before it is written; a hit refuses
    the write and leaves no file (:class:`~inspector.output.PrivateFile`).
    """
    if reveal is not None:
        vault = None  # the user asked for the secrets

    def unmask(text: str) -> str:
        return _MASK.sub(lambda m: json.dumps(reveal(m.group(1)) or m.group(0))[1:-1], text) if reveal is not None else text

    log = _log_meta(info, config)
    head = json.dumps({"log": log}, ensure_ascii=False)  # the log's own fields as people read them; entries compact
    assert head.endswith("}}")
    with PrivateFile(path, vault=vault, what=f"the HAR {path}") as out:
        out.write(unmask(head[:-2]) + ', "entries": [\n')
        first = True
        for exchange in _ordered(exchanges):
            text = _ENCODER.encode(entry(exchange))
            out.write(("" if first else ",\n") + unmask(text))
            first = False
        out.write("\n]}}\n")
    return path


# -- reading --------------------------------------------------------------------------------------------


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


def _url_parts(request: dict[str, Any]) -> tuple[str, str, int, str]:
    """Scheme, host, port and path (with query) of an entry's request URL."""
    parts = urlsplit(str(request.get("url", "")))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), path


def _from_ours(n: int, item: dict[str, Any], custom: dict[str, Any]) -> Exchange:
    """An entry npm-inspect wrote: the record itself, its headers from the entry; scrubbed on the way in."""
    request, response = item.get("request") or {}, item.get("response") or {}
    data = dict(custom)
    data["request_headers"] = _pairs(request.get("headers"))
    data["response_headers"] = _pairs(response.get("headers"))
    data.setdefault("id", f"har-{n}")
    return scrub_exchange(from_dict(data))


def _legacy_dict(n: int, item: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    """An entry's ``_npmInspect`` as npm-inspect wrote it before records were written whole, in :func:`to_dict` form."""
    request, response = item.get("request") or {}, item.get("response") or {}
    scheme, host, port, path = _url_parts(request)
    ev = custom.get("evidence") or {}
    tls = custom.get("tls")
    proxy_auth, auth = custom.get("proxyAuth"), custom.get("auth")
    npm = custom.get("npm") or {}
    kind = "connect" if custom.get("kind") == "connect" else "http"
    content = response.get("content") or {}
    return {
        "id": str(custom.get("id") or f"har-{n}"),
        "seq": int(custom.get("seq") or n),
        "kind": kind,
        "started": _parse_time(item.get("startedDateTime", "")),
        "method": str(request.get("method", "")),
        "scheme": "" if kind == "connect" else scheme,
        "host": host,
        "port": port,
        "path": "" if kind == "connect" else path,
        "status": response.get("status") or None,
        "reason": str(response.get("statusText", "")),
        "hop": custom.get("hop"),
        "state": custom.get("state"),
        "upstream": custom.get("upstream"),
        "timings": {k: (custom.get("timings") or {}).get(k) for k in Timings.__dataclass_fields__},
        "evidence": {
            "status_line": ev.get("statusLine") or "",
            "server": ev.get("server"),
            "via": ev.get("via"),
            "squid_error": ev.get("xSquidError"),
            "proxy_authenticate": ev.get("proxyAuthenticate") or (),
            "www_authenticate": ev.get("wwwAuthenticate") or (),
            "error_body": ev.get("errorBody"),
            "reason": ev.get("reason") or "",
        },
        "request_headers": _pairs(request.get("headers")),
        "response_headers": _pairs(response.get("headers")),
        "npm": {"command": npm.get("command"), "session": npm.get("session"), "user_agent": npm.get("userAgent"), "auth_type": npm.get("authType"), "scope": npm.get("scope")},
        "proxy_auth": {"scheme": proxy_auth["scheme"], "fingerprint": proxy_auth["fingerprint"], "username": proxy_auth.get("user")} if proxy_auth else None,
        "auth": {"scheme": auth["scheme"], "fingerprint": auth["fingerprint"]} if auth else None,
        "bytes_sent": max(0, int(request.get("bodySize") or 0)),
        "bytes_received": max(0, int(response.get("bodySize") or 0)),
        "content_type": content.get("mimeType") or None,
        "body_preview": content.get("text") or None,
        "tls": {"issuer": tls.get("issuer"), "subject": tls.get("subject"), "chain": tls.get("chain") or (), "failed_by": tls.get("failedBy"), "error": tls.get("error")} if tls else None,
        "error": custom.get("error"),
        "decrypted": bool(custom.get("decrypted", True)),
    }


def foreign_facts(n: int, item: dict[str, Any]) -> ExchangeFacts:
    """An entry from Chrome, Firefox, mitmproxy or anything else, as the facts npm-inspect would have seen."""
    request, response = item.get("request") or {}, item.get("response") or {}
    scheme, host, port, path = _url_parts(request)
    request_headers = _pairs(request.get("headers"))
    response_headers = _pairs(response.get("headers"))
    status = int(response.get("status") or 0) or None
    reason = str(response.get("statusText", ""))
    method = str(request.get("method", "GET"))
    kind = "connect" if method == "CONNECT" else "http"
    error_text = item.get("_error") or (response.get("_error") if isinstance(response, dict) else None)
    via_proxy = bool(hops.looks_like_proxy_answer(response_headers) or hops.first_header(response_headers, "via")) or status == 407
    if status is None and error_text and (refused := refused_connect(str(error_text))):  # mitmproxy's HAR of a refusal
        kind, method = "connect", "CONNECT"
        status, reason = refused
        via_proxy, error_text = True, None
    content = response.get("content") or {}
    text = content.get("text") if isinstance(content.get("text"), str) and content.get("encoding") != "base64" else None
    total = item.get("time")
    return ExchangeFacts(
        source="har",
        id=f"har-{n}",
        seq=n,
        kind=kind,  # type: ignore[arg-type]
        started=_parse_time(item.get("startedDateTime", "")),
        method=method,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        http_version=str(response.get("httpVersion") or "HTTP/1.1"),
        status=status,
        reason=reason,
        request_headers=request_headers,
        response_headers=response_headers,
        via_proxy=via_proxy,
        in_tunnel=scheme == "https" and kind == "http",
        error=str(error_text) if error_text else None,
        body=text,
        body_size=max(0, int(response.get("bodySize") or content.get("size") or 0)),
        bytes_sent=max(0, int(request.get("bodySize") or 0)),
        content_type=str(content.get("mimeType") or "") or None,
        timings=_timings(item.get("timings") or {}, float(total) if isinstance(total, (int, float)) and total >= 0 else None),
    )


def har_entry_record(n: int, item: Any) -> Exchange | None:
    """The record of one HAR entry (ours, an older npm-inspect's, anyone's), or ``None`` when it is malformed."""
    if not isinstance(item, dict):
        return None
    try:
        custom = item.get("_npmInspect")
        if isinstance(custom, dict) and custom.get("schema") == RECORD_SCHEMA:
            return _from_ours(n, item, custom)
        if isinstance(custom, dict):
            return scrub_exchange(from_dict(_legacy_dict(n, item, custom)))
        return build_exchange(foreign_facts(n, item))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return None  # a malformed entry: skip it, keep the rest


class HarReader:
    """Reads a HAR file entry by entry (:meth:`records`), holding one entry at a time; then :attr:`info`, :attr:`config`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: dict[str, Any] = {}
        self.seen_entries = False

    def records(self) -> Iterator[Exchange]:
        path = self.path
        try:
            with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
                yield from self._walk(JsonStream(f))
        except IsADirectoryError:
            raise SessionFileError(f"{path} is a directory: give a .har file") from None
        except OSError as e:
            raise SessionFileError(f"cannot read {path}: {e.strerror}") from None
        except ValueError as e:
            raise SessionFileError(f"{path} is not valid JSON ({e}): give a HAR file or an npm-inspect session") from None
        except RecursionError:
            raise SessionFileError(f"{path} is nested too deeply to be a HAR: give a HAR file or an npm-inspect session") from None
        if not self.seen_entries:
            raise SessionFileError(f"{path} is JSON but not a HAR (no log.entries): give a HAR file or an npm-inspect session")

    def _walk(self, stream: JsonStream) -> Iterator[Exchange]:
        if stream.peek() != "{":
            stream.value()  # valid JSON that is not an object, or invalid JSON: let the decoder say which
            stream.end()
            return
        for key in stream.members():
            if key != "log" or stream.peek() != "{":
                stream.value()
                continue
            for name in stream.members():
                if name == "entries" and stream.peek() == "[":
                    self.seen_entries = True
                    for n, item in enumerate(stream.items(), 1):
                        record = har_entry_record(n, item)  # redacted and bounded by the builder or the scrub
                        if record is not None:
                            yield record
                else:
                    self.meta[name] = stream.value()
        stream.end()

    @property
    def info(self) -> SessionInfo:
        meta = self.meta.get("_npmInspect")
        meta = meta if isinstance(meta, dict) else {}
        if isinstance(meta.get("session"), dict):
            return SessionInfo.from_dict(meta["session"])
        versions = meta.get("versions") or {}  # HARs from before the session was written whole
        return SessionInfo(
            npm_argv=meta.get("npmArgv") or [],
            upstream=meta.get("upstream"),
            mode=meta.get("mode") or "decrypt",
            listen=meta.get("listen"),
            npm_exit=meta.get("npmExit"),
            npm_version=versions.get("npm"),
            node_version=versions.get("node"),
            inspector_version=versions.get("npm-inspect"),
            started=meta.get("started"),
        ).redacted()

    @property
    def config(self) -> NpmConfigSnapshot | None:
        meta = self.meta.get("_npmInspect")
        if isinstance(meta, dict) and isinstance(meta.get("config"), dict):
            return NpmConfigSnapshot.from_dict(meta["config"])
        return None


def read_har(path: Path) -> tuple[list[Exchange], SessionInfo, NpmConfigSnapshot | None]:
    """Records from a HAR file (npm-inspect's own, DevTools', mitmproxy's); secrets are redacted on the way in.

    Streamed in: only the records are held, never the file's text or its parsed entries all at once.
    """
    reader = HarReader(path)
    with _no_cycle_collection():
        exchanges = list(reader.records())
    return exchanges, reader.info, reader.config


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while records pile up (they hold no cycles; refcounting frees the rest).

    Every full collection would walk all records read so far: at 100,000 entries that is a quarter of the
    read's time, growing with the count (measured by ``bench/har.py``). Collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
