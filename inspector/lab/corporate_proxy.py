"""The demo's corporate proxy: a mitmproxy addon, run by ``mitmdump -s`` in a child process.

It behaves like a company's Squid: it may demand a login (407 with
``Proxy-Authenticate: Basic``), refuse CONNECT to listed hosts (403 with
``X-Squid-Error: ERR_ACCESS_DENIED``), and either pass TLS through or re-sign
it with a corporate CA (a TLS-inspecting proxy). It resolves nothing: the
demo's host names map to the demo registry on loopback, and any other name
gets Squid's ``ERR_DNS_FAIL`` answer.

Configured by the JSON in ``NPM_INSPECT_DEMO_PROXY``:
``{"hosts": {"name": port}, "deny": [...], "auth": "user:password" | null}``.
"""

from __future__ import annotations

import base64
import json
import logging
import os

from mitmproxy import http
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

logger = logging.getLogger(__name__)

SERVER = "squid/5.7 (npm-inspect demo corporate proxy)"
VIA = "1.1 corp-proxy (squid/5.7)"
REALM = "Demo Corp Proxy"


def _answer(status: int, reason: str, squid_error: str, extra: dict[str, str] | None = None) -> http.Response:
    body = f"<html><body><h1>{status} {reason}</h1><p>{squid_error}</p></body></html>".encode()
    headers = {"Server": SERVER, "Via": VIA, "X-Squid-Error": squid_error, "Content-Type": "text/html", **(extra or {})}
    response = http.Response.make(status, body, headers)
    response.reason = reason
    return response


class CorporateProxy:
    def __init__(self) -> None:
        config = json.loads(os.environ.get("NPM_INSPECT_DEMO_PROXY") or "{}")
        self.hosts: dict[str, int] = config.get("hosts") or {}
        self.deny: set[str] = set(config.get("deny") or ())
        auth = config.get("auth")
        self.expected = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None

    def _verdict(self, flow: http.HTTPFlow) -> http.Response | None:
        if self.expected is not None and flow.request.headers.get("proxy-authorization") != self.expected:
            return _answer(
                407, "Proxy Authentication Required", "ERR_CACHE_ACCESS_DENIED 0", {"Proxy-Authenticate": f'Basic realm="{REALM}"'}
            )
        host = flow.request.host
        if host not in self.hosts:
            return _answer(503, "Service Unavailable", "ERR_DNS_FAIL 0")
        if host in self.deny:
            return _answer(403, "Forbidden", "ERR_ACCESS_DENIED 0")
        return None

    def http_connect(self, flow: http.HTTPFlow) -> None:
        flow.response = self._verdict(flow)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.request.method != "CONNECT" and flow.request.scheme == "http" and flow.request.authority:
            flow.response = self._verdict(flow)

    def server_connect(self, data: ServerConnectionHookData) -> None:
        """Never resolve: the demo's names all live on loopback."""
        if data.server.address and data.server.address[0] in self.hosts:
            data.server.address = ("127.0.0.1", self.hosts[data.server.address[0]])


addons = [CorporateProxy()]
