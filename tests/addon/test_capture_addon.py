"""The capture addon, driven with mitmproxy's own test helpers (no proxy, no network unless stated)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from inspector.capture import NpmCapture, _decode_excerpt
from inspector.records import Exchange, Hop

ROOT = Path(__file__).resolve().parents[2]
NPM_TOKEN = "npm_" + "Q" * 36


def capture() -> tuple[NpmCapture, list[Exchange]]:
    records: list[Exchange] = []
    return NpmCapture(records.append), records


def registry_flow(status: int, body: bytes = b"", headers=(), req_headers=(), via=None) -> http.HTTPFlow:
    request = tutils.treq(
        host="registry.lab.test",
        port=443,
        scheme=b"https",
        path=b"/@corp%2fsecret",
        headers=http.Headers([(k.encode(), v.encode()) for k, v in [("user-agent", "npm/11.19.1 node/v20.20.2"), ("npm-command", "install"), *req_headers]]),
        content=b"",
    )
    response = tutils.tresp(
        status_code=status,
        reason=b"",
        headers=http.Headers([(k.encode(), v.encode()) for k, v in _with_default_type(headers)]),
        content=body,
    )
    flow = tflow.tflow(req=request, resp=response)
    flow.server_conn.via = via
    return flow


def _with_default_type(headers) -> list[tuple[str, str]]:
    headers = list(headers)
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("content-type", "application/json"))
    return headers


def test_a_registry_401_becomes_a_registry_record_with_its_evidence():
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["regular"])
        flow = registry_flow(401, b'{"error":"authorization required to access package @corp/secret"}', [("www-authenticate", "Basic, Bearer")])
        addon.requestheaders(flow)
        addon.responseheaders(flow)
        addon.response(flow)
    (record,) = records
    assert (record.kind, record.status, record.hop) == ("http", 401, Hop.REGISTRY)
    assert record.evidence.www_authenticate == ("Basic, Bearer",)
    assert "authorization required" in record.evidence.error_body
    assert record.npm.command == "install" and record.auth is None


def test_secrets_in_requests_are_redacted_but_their_fingerprints_kept():
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["regular"])
        flow = registry_flow(403, b'{"error":"user bob is not allowed"}', req_headers=[("authorization", f"Bearer {NPM_TOKEN}"), ("cookie", "s=1")])
        addon.response(flow)
    (record,) = records
    assert NPM_TOKEN not in repr(record)
    assert record.auth is not None and record.auth.scheme == "Bearer" and len(record.auth.fingerprint) == 8
    assert dict(record.request_headers)["cookie"].startswith("[redacted:")


def test_a_squid_answer_to_a_plain_http_request_is_the_proxys():
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"])
        flow = registry_flow(403, b"<html>denied</html>", [("server", "squid/5.7"), ("x-squid-error", "ERR_ACCESS_DENIED 0")], via=("http", ("127.0.0.1", 3128)))
        flow.request.scheme = "http"
        addon.response(flow)
    (record,) = records
    assert record.hop is Hop.PROXY and record.upstream == "127.0.0.1:3128"
    assert record.evidence.squid_error == "ERR_ACCESS_DENIED 0"


def test_an_error_without_response_names_the_hop():
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"])
        flow = tflow.tflow(req=tutils.treq(host="registry.lab.test", port=443, scheme=b"https"), err=True)
        flow.error.msg = "Connection refused"
        flow.server_conn.via = ("http", ("127.0.0.1", 3128))
        flow.server_conn.timestamp_start = None
        addon.error(flow)
    (record,) = records
    assert record.status is None and record.error.kind == "connect-failed" and record.hop is Hop.PROXY


def test_binary_bodies_are_streamed_and_counted_not_held():
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["regular"])
        flow = registry_flow(200, b"", [("content-type", "application/octet-stream"), ("content-length", "10485760")])
        addon.responseheaders(flow)
        assert callable(flow.response.stream)
        for _ in range(10):
            assert flow.response.stream(b"x" * 1048576) == b"x" * 1048576
        flow.response.content = None
        addon.response(flow)
    (record,) = records
    assert record.bytes_received == 10 * 1048576 and record.body_preview is None


def test_the_clients_proxy_authorization_is_forwarded_upstream():
    addon, _ = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"], npm_inspect_relay=False)
        connect = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="registry.lab.test", port=443, headers=http.Headers([(b"proxy-authorization", b"Basic Y2Fyb2w6eA==")])))
        import asyncio

        asyncio.run(addon.http_connect(connect))
        upstream = tflow.tflow(client_conn=connect.client_conn, req=tutils.treq(method=b"CONNECT", host="registry.lab.test", port=443, headers=http.Headers()))
        addon.http_connect_upstream(upstream)
    assert upstream.request.headers["proxy-authorization"] == "Basic Y2Fyb2w6eA=="


def test_configured_upstream_auth_wins_over_the_clients():
    from mitmproxy.addons.upstream_auth import UpstreamAuth

    addon, _ = capture()
    stock = UpstreamAuth()
    with taddons.context(addon, stock) as tctx:
        tctx.configure(stock, upstream_auth="carol:p@ss:w0rd")
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"], npm_inspect_relay=False)
        upstream = tflow.tflow(req=tutils.treq(method=b"CONNECT", headers=http.Headers([(b"x", b"y")])))
        stock.http_connect_upstream(upstream)
        addon.http_connect_upstream(upstream)
    assert upstream.request.headers["proxy-authorization"] == "Basic Y2Fyb2w6cEBzczp3MHJk"


def test_gzip_bombs_in_error_bodies_are_inflated_only_up_to_the_cap():
    bomb = gzip.compress(b"{" + b" " * 50_000_000 + b"}")
    text = _decode_excerpt(bomb, "gzip", 4096)
    assert text is not None and len(text) <= 4096


def test_undecodable_bodies_are_summarised():
    assert "does not decode" in _decode_excerpt(b"not gzip at all", "gzip", 100)
    assert "br-encoded" in _decode_excerpt(b"\x00\x01", "br", 100)


def test_the_script_loads_in_stock_mitmproxy():
    with taddons.context() as tctx:
        script = tctx.script(str(ROOT / "addons" / "npm_capture.py"))
        assert any(type(a).__name__ == "NpmCapture" for a in script.addons)


@pytest.mark.e2e
def test_a_refused_connect_is_relayed_with_the_proxys_own_status_and_headers(squid_factory):
    """http_connect asks the real upstream first and answers npm with the proxy's refusal."""
    import asyncio

    squid = squid_factory(users={"carol": "secret"})
    addon, records = capture()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=[f"upstream:{squid.url}"])
        flow = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="registry.lab.test", port=443, headers=http.Headers()))
        asyncio.run(addon.http_connect(flow))
    assert flow.response.status_code == 407
    assert flow.response.headers["proxy-authenticate"].startswith("Basic")
    assert flow.response.headers["content-length"] == "0" and flow.response.content == b""
    (record,) = records
    assert (record.kind, record.status, record.hop, record.state) == ("connect", 407, Hop.PROXY, "done")
    assert record.evidence.squid_error.startswith("ERR_CACHE_ACCESS_DENIED")


@pytest.mark.e2e
def test_an_accepted_probe_is_reused_for_the_same_tunnel_but_a_refusal_never_is(squid_factory):
    import asyncio

    from tests.lab.procs import wait_until

    squid = squid_factory(users={"carol": "secret"})
    addon, records = capture()

    def connect(authorization: bytes | None) -> http.HTTPFlow:
        headers = http.Headers([(b"proxy-authorization", authorization)] if authorization else [])
        return tflow.tflow(req=tutils.treq(method=b"CONNECT", host="127.0.0.1", port=squid.port, headers=headers))

    good = b"Basic Y2Fyb2w6c2VjcmV0"  # carol:secret
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=[f"upstream:{squid.url}"])

        async def scenario():
            await asyncio.gather(*(addon.http_connect(connect(good)) for _ in range(5)))  # concurrent: one probe
            await addon.http_connect(connect(good))  # soon after: reused
            await addon.http_connect(connect(None))  # refusals are always asked again
            await addon.http_connect(connect(None))

        asyncio.run(scenario())

    def connects() -> list[str]:
        return [e["status"] for e in squid.access_entries() if e["method"] == "CONNECT"]

    wait_until(lambda: len(connects()) >= 3, timeout=10, what="Squid to log the probes")
    assert sorted(connects()) == ["200", "407", "407"]
    assert [r.status for r in records] == [200] * 6 + [407, 407]
    assert sum("answer reused" in r.evidence.reason for r in records) >= 1


def test_a_probe_waits_as_long_as_npm_and_says_how_far_the_proxy_got_when_npm_leaves():
    """No fixed timeout: when npm closes its connection first, the record says the proxy accepted but did not answer."""
    import asyncio

    addon, records = capture()

    async def scenario():
        async def silent(reader, writer):
            try:
                await reader.read()
            finally:
                writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with taddons.context(addon) as tctx:
                tctx.configure(addon, mode=[f"upstream:http://127.0.0.1:{port}"])
                flow = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="registry.lab.test", port=443, headers=http.Headers()))
                addon.client_connected(flow.client_conn)
                waiting = asyncio.ensure_future(addon.http_connect(flow))
                await asyncio.sleep(0.5)
                assert not waiting.done() and records == []  # still waiting, as npm is
                addon.client_disconnected(flow.client_conn)  # npm gives up (Ctrl-C)
                await asyncio.wait_for(waiting, 5)
                return flow
        finally:
            server.close()
            server.close_clients()
            await server.wait_closed()

    flow = asyncio.run(scenario())
    (record,) = records
    assert (record.kind, record.hop, record.status, record.error.kind) == ("connect", Hop.PROXY, None, "proxy-slow")
    assert "accepted the TCP connection but not yet answered CONNECT registry.lab.test:443" in record.error.message
    assert record.timings.upstream_connect is not None and record.timings.total >= 400
    assert flow.response is not None and flow.response.status_code == 502
    assert addon._inflight == {}  # nobody waits any more: the probe was stopped
