"""Upstream proxy URLs: credentials with '@' and ':' must work; bad URLs say how to fix them."""

import pytest

from inspector.errors import UpstreamUrlError
from inspector.upstream import parse_upstream


def test_percent_encoded_credentials_are_decoded():
    up = parse_upstream("http://carol:p%40ss%3Aw0rd@proxy.corp:3128")
    assert (up.host, up.port, up.username, up.password) == ("proxy.corp", 3128, "carol", "p@ss:w0rd")
    assert up.credentials == "carol:p@ss:w0rd"
    assert up.mode_spec == "upstream:http://proxy.corp:3128"
    assert up.display == "http://carol:***@proxy.corp:3128"


def test_a_raw_at_sign_in_the_password_splits_at_the_last_at():
    up = parse_upstream("http://carol:p@ss:w0rd@proxy.corp:3128")
    assert (up.host, up.password) == ("proxy.corp", "p@ss:w0rd")


def test_default_ports_and_https_proxies():
    assert parse_upstream("http://proxy.corp").port == 80
    assert parse_upstream("https://proxy.corp").port == 443
    assert parse_upstream("http://[::1]:3128").address == "[::1]:3128"


@pytest.mark.parametrize(
    "url, words",
    [
        ("proxy.corp:3128", "no scheme"),
        ("socks5://proxy.corp:1080", "npm cannot use"),
        ("http://:3128", "no host"),
        ("http://proxy.corp:99999", "not a valid URL"),
        ("http://proxy.corp:3128/path", "has a path"),
    ],
)
def test_bad_urls_say_what_to_write(url, words):
    with pytest.raises(UpstreamUrlError, match=words):
        parse_upstream(url)


def test_an_error_never_shows_the_password():
    with pytest.raises(UpstreamUrlError) as info:
        parse_upstream("ftp://carol:hunter2@proxy.corp:21")
    assert "hunter2" not in str(info.value)


# -- the CONNECT probe against tiny loopback servers ----------------------------------------------------------

import asyncio  # noqa: E402
import ssl  # noqa: E402

from inspector.hops import PROXY_SCHEME, PROXY_SLOW  # noqa: E402
from inspector.upstream import ConnectAnswer, probe_connect  # noqa: E402


async def _serve(handler, tls: ssl.SSLContext | None = None):
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1]


async def _stop(server) -> None:
    server.close()
    server.close_clients()
    await server.wait_closed()


async def _plain_proxy(reader, writer):
    """Like Squid: CONNECT gets 200, anything else (a TLS ClientHello) a 400."""
    try:
        first = await reader.read(4096)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n" if first.startswith(b"CONNECT") else b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _silent(reader, writer):
    try:
        await reader.read()  # until the client goes away
    finally:
        writer.close()


def _tls_context(tmp_path) -> ssl.SSLContext:
    from inspector.lab.pki import make_ca, make_server_cert

    ca = make_ca(tmp_path)
    cert = make_server_cert(tmp_path, ca, ["127.0.0.1"], "proxy")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    return context


def test_an_https_url_for_a_plain_proxy_is_confirmed_by_knocking_plainly():
    async def scenario():
        server, port = await _serve(_plain_proxy)
        try:
            return await probe_connect(("127.0.0.1", port), ("registry.npmjs.org", 443), proxy_tls=True)
        finally:
            await _stop(server)

    answer = asyncio.run(scenario())
    assert answer.error_kind == PROXY_SCHEME and "is an http:// proxy, but its URL says https://" in answer.error
    assert "answered plain HTTP (HTTP/1.1 400 Bad Request)" in answer.error


def test_an_http_url_for_a_tls_proxy_is_confirmed_by_a_handshake(tmp_path):
    context = _tls_context(tmp_path)

    async def scenario():
        server, port = await _serve(_plain_proxy, tls=context)
        try:
            return await probe_connect(("127.0.0.1", port), ("registry.npmjs.org", 443))
        finally:
            await _stop(server)

    answer = asyncio.run(scenario())
    assert answer.error_kind == PROXY_SCHEME and "is an https:// proxy, but its URL says http://" in answer.error


def test_a_proxy_that_accepts_and_stays_silent_is_slow_and_the_progress_shows_it():
    progress = ConnectAnswer(started=0.0)

    async def scenario():
        server, port = await _serve(_silent)
        try:
            return await probe_connect(("127.0.0.1", port), ("registry.npmjs.org", 443), timeout=0.3, answer=progress)
        finally:
            await _stop(server)

    answer = asyncio.run(scenario())
    assert answer is progress and answer.tcp_accepted and answer.status is None
    assert answer.error_kind == PROXY_SLOW and "accepted the connection but did not answer CONNECT within 0.3 s" in answer.error


def test_no_timeout_means_waiting_as_long_as_the_proxy_takes():
    async def late(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.5)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        writer.close()

    async def scenario():
        server, port = await _serve(late)
        try:
            return await probe_connect(("127.0.0.1", port), ("registry.npmjs.org", 443))
        finally:
            await _stop(server)

    answer = asyncio.run(scenario())
    assert answer.accepted and answer.connect_ms >= 450


def test_a_closed_port_is_refused_not_slow():
    from inspector.lab.net import free_port

    answer = asyncio.run(probe_connect(("127.0.0.1", free_port()), ("registry.npmjs.org", 443)))
    assert answer.error_kind == "connect-failed" and not answer.tcp_accepted
