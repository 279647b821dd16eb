"""Dashboard tests: fixed clock zone, and a saved session of synthetic records with fixed timestamps."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input

from inspector.records import CredentialInfo, ErrorInfo, Evidence, Exchange, Hop, Timings, TlsInfo
from inspector.session import SessionInfo, SessionStore

T0 = 1_795_550_000.0
SQUID_407 = Evidence(
    status_line="HTTP/1.1 407 Proxy Authentication Required",
    server="squid/5.7",
    via="1.1 corp-proxy (squid/5.7)",
    squid_error="ERR_CACHE_ACCESS_DENIED 0",
    proxy_authenticate=('Basic realm="Corp Proxy"',),
    reason="the upstream proxy 10.0.0.8:3128 answered the CONNECT",
)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Fixed clock zone (rows show local times) and colour on (Textual reads NO_COLOR at start)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch):
    """Inputs start with a steady cursor: a blinking one makes snapshots depend on timing."""
    mount = Input._on_mount

    def steady(self, event):
        self.cursor_blink = False  # before Input sets up its blink timer, which then stays paused
        mount(self, event)

    monkeypatch.setattr(Input, "_on_mount", steady)


def record(n: int, **fields) -> Exchange:
    base = dict(
        id=f"ex-{n}",
        seq=n,
        kind="http",
        started=T0 + n * 0.25,
        method="GET",
        scheme="https",
        host="registry.npmjs.org",
        port=443,
        path="/lodash",
        status=200,
        reason="OK",
        hop=Hop.REGISTRY,
        upstream="10.0.0.8:3128",
        timings=Timings(upstream_connect=2.0, connect=12.0, tls=30.0, send=0.2, wait=80.0, receive=6.0, total=131.0),
        evidence=Evidence(status_line="HTTP/1.1 200 OK", reason="answer relayed from the registry"),
        request_headers=(("host", "registry.npmjs.org"), ("user-agent", "npm/11.19.1 node/v20.20.2 linux x64"), ("npm-command", "install")),
        response_headers=(("content-type", "application/json"), ("content-length", "1234")),
        content_type="application/json",
        body_preview='{"name":"lodash","dist-tags":{"latest":"4.17.21"}}',
        bytes_received=1234,
    )
    base.update(fields)
    return Exchange(**base)


def proxy_407_session() -> tuple[SessionStore, SessionInfo]:
    """npm install behind a proxy that wants a login: two refused tunnels, then (after a fix) success."""
    store = SessionStore()
    store.add(record(1, kind="connect", method="CONNECT", scheme="", path="", status=407, reason="Proxy Authentication Required",
                     hop=Hop.PROXY, evidence=SQUID_407, timings=Timings(upstream_connect=1.5, connect=3.0, total=4.8),
                     request_headers=(("host", "registry.npmjs.org:443"),), response_headers=(("server", "squid/5.7"), ("x-squid-error", "ERR_CACHE_ACCESS_DENIED 0")),
                     content_type=None, body_preview=None, bytes_received=0))
    store.add(record(2, kind="connect", method="CONNECT", scheme="", path="", status=407, reason="Proxy Authentication Required",
                     hop=Hop.PROXY, evidence=SQUID_407, timings=Timings(upstream_connect=1.1, connect=2.6, total=3.9),
                     content_type=None, body_preview=None, bytes_received=0))
    store.add(record(3, kind="connect", method="CONNECT", scheme="", path="", status=200, reason="Connection established", hop=Hop.PROXY,
                     proxy_auth=CredentialInfo("Basic", "5f2a9c1e", "carol"), timings=Timings(upstream_connect=1.0, connect=9.0, total=900.0),
                     content_type=None, body_preview=None, bytes_received=0))
    store.add(record(4, proxy_auth=CredentialInfo("Basic", "5f2a9c1e", "carol"),
                     request_headers=(("host", "registry.npmjs.org"), ("authorization", "Bearer [redacted:0badf00d]"), ("npm-command", "install"))))
    store.add(record(5, path="/lodash/-/lodash-4.17.21.tgz", content_type="application/octet-stream", body_preview=None, bytes_received=318_000,
                     timings=Timings(send=0.1, wait=40.0, receive=55.0, total=95.1)))
    store.add(record(6, path="/@corp%2fsecret", status=401, reason="Unauthorized", host="registry.npmjs.org",
                     evidence=Evidence(status_line="HTTP/1.1 401 Unauthorized", www_authenticate=("Basic, Bearer",), error_body='{"error":"authorization required"}', reason="answer relayed from the registry"),
                     body_preview='{"error":"authorization required"}'))
    store.add(record(7, kind="connect", method="CONNECT", scheme="", path="", host="evil.example", status=None, hop=Hop.TLS,
                     tls=TlsInfo(issuer="CN=Corp SSL Inspection CA", failed_by=Hop.REGISTRY, error="certificate verify failed"),
                     error=ErrorInfo("tls", "certificate verify failed"), content_type=None, body_preview=None, bytes_received=0))
    info = SessionInfo(npm_argv=["npm", "install", "lodash"], upstream="http://carol:hunter2@10.0.0.8:3128", mode="decrypt", listen="127.0.0.1:8899", npm_exit=1)
    return store, info


@pytest.fixture
def session():
    return proxy_407_session()
