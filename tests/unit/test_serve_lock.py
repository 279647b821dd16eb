"""The lock in front of textual-serve (inspector/webserve.py), driven with raw HTTP against a real aiohttp server.

The process launch is hooked: a refused request must start nothing, and the
one accepted websocket must start exactly one dashboard. The browser's view of
the same lock is in tests/e2e/test_serve_browser.py.
"""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from inspector.webserve import RUNNER_OPTIONS, LockedServer, authority, is_wildcard, same_authority, tokens_match
from tests.lab.procs import free_port

TOKEN = "tok-" + "A" * 40


@pytest.fixture
async def lock(monkeypatch):
    """(base URL, port, list of process launches) for a LockedServer on a free loopback port."""
    launches: list[tuple[int, int]] = []

    async def start(self, width: int, height: int) -> None:  # AppService.start: the only place a process starts
        launches.append((width, height))

    monkeypatch.setattr("textual_serve.app_service.AppService.start", start)
    port = free_port()
    server = LockedServer("false", host="127.0.0.1", port=port, title="t", token=TOKEN)
    runner = web.AppRunner(await server._make_app(), **RUNNER_OPTIONS)  # as serve_on runs it
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", port, launches
    finally:
        await runner.cleanup()


async def _get(url: str, **headers: str) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers, allow_redirects=False) as r:
        return r.status, dict(r.headers), await r.text()


async def _ws(url: str, **headers: str) -> int:
    """101 when the websocket opened, else the refusal's status."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


async def test_the_page_needs_the_token_on_loopback_too(lock):
    base, port, launches = lock
    assert (await _get(f"{base}/"))[0] == 403
    assert (await _get(f"{base}/?token="))[0] == 403
    assert (await _get(f"{base}/?token={TOKEN[:-1]}"))[0] == 403
    assert (await _get(f"{base}/?token={TOKEN}x"))[0] == 403
    status, headers, page = await _get(f"{base}/?token={TOKEN}")
    assert status == 200
    assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws/{TOKEN}"' in page
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in headers["Content-Security-Policy"] and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert launches == []


async def test_a_foreign_host_header_is_refused_even_with_the_token(lock):
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser still sends that name."""
    base, port, launches = lock
    for host in (f"evil.example:{port}", f"localhost:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", ""):
        assert (await _get(f"{base}/?token={TOKEN}", Host=host))[0] == 403, host
        assert (await _get(f"{base}/static/js/textual.js", Host=host))[0] == 403, host
    assert (await _get(f"{base}/static/js/textual.js"))[0] == 200
    assert launches == []


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/ws/", {"Origin": "{origin}"}),
        ("/ws", {"Origin": "{origin}"}),
        ("/ws/not-the-token", {"Origin": "{origin}"}),
        ("/ws/" + TOKEN[:-1], {"Origin": "{origin}"}),
        ("/ws/{token}", {}),  # no Origin at all
        ("/ws/{token}", {"Origin": "http://evil.example"}),
        ("/ws/{token}", {"Origin": "null"}),
        ("/ws/{token}", {"Origin": "http://127.0.0.1:{other}"}),  # another local user's page on another port
        ("/ws/{token}", {"Origin": "https://127.0.0.1:{port}"}),
        ("/ws/{token}", {"Origin": "{origin}", "Host": "evil.example:{port}"}),  # DNS rebinding
        ("/ws/{token}", {"Origin": "http://evil.example:{port}", "Host": "evil.example:{port}"}),
    ],
)
async def test_a_websocket_without_the_token_origin_and_host_starts_no_process(lock, path, headers):
    base, port, launches = lock
    fill = dict(token=TOKEN, port=port, other=port + 1, origin=f"http://127.0.0.1:{port}")
    url = base.replace("http:", "ws:") + path.format(**fill)
    status = await _ws(url, **{k: v.format(**fill) for k, v in headers.items()})
    assert status in (403, 404)
    assert launches == []


async def test_the_token_holders_own_page_starts_one_dashboard(lock):
    base, port, launches = lock
    status = await _ws(f"ws://127.0.0.1:{port}/ws/{TOKEN}?width=132&height=41", Origin=f"http://127.0.0.1:{port}")
    assert status == 101
    assert launches == [(132, 41)]


async def test_the_token_reaches_no_log_at_any_level(lock, caplog):
    base, port, launches = lock
    caplog.set_level(logging.DEBUG)
    await _get(f"{base}/?token={TOKEN}")
    await _get(f"{base}/?token={TOKEN}", Host="evil.example")
    await _get(f"{base}/static/js/textual.js", Referer=f"{base}/?token={TOKEN}")
    await _ws(f"ws://127.0.0.1:{port}/ws/{TOKEN}", Origin="http://evil.example")
    await _ws(f"ws://127.0.0.1:{port}/ws/{TOKEN}", Origin=f"http://127.0.0.1:{port}")
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused the page: Host 'evil.example'" in m for m in messages)
    assert any("refused the websocket: websocket Origin 'http://evil.example'" in m for m in messages)
    assert any("starting the dashboard" in m for m in messages)
    assert not [m for m in messages if TOKEN in m or TOKEN[:12] in m]


def test_tokens_are_compared_in_constant_time_and_any_text_compares():
    assert tokens_match(TOKEN, TOKEN)
    assert not tokens_match("", TOKEN) and not tokens_match(TOKEN + "x", TOKEN) and not tokens_match("é\udcff", TOKEN)


@pytest.mark.parametrize(
    "host, port, value, ok",
    [
        ("127.0.0.1", 8765, "127.0.0.1:8765", True),
        ("127.0.0.1", 8765, "127.0.0.1:8766", False),
        ("127.0.0.1", 8765, "localhost:8765", False),
        ("127.0.0.1", 8765, None, False),
        ("localhost", 8765, "LOCALHOST:8765", True),
        ("::1", 8765, "[::1]:8765", True),
        ("127.0.0.1", 80, "127.0.0.1", True),  # browsers leave out :80
        ("127.0.0.1", 8765, "127.0.0.1", False),
    ],
)
def test_same_authority(host, port, value, ok):
    assert same_authority(value, authority(host, port)) is ok


@pytest.mark.parametrize("host, wildcard", [("0.0.0.0", True), ("::", True), ("", True), ("127.0.0.1", False), ("192.168.1.5", False), ("myhost", False)])
def test_wildcard_addresses(host, wildcard):
    assert is_wildcard(host) is wildcard
