"""The corporate proxy npm-inspect forwards to: its URL, and a CONNECT probe.

mitmproxy's upstream mode answers npm's CONNECT with its own ``200`` before it
asks the upstream proxy, so a refusal reaches npm as a ``502`` and no flow
keeps the proxy's answer. :func:`probe_connect` asks the proxy first, the way
npm would, so the capture addon can record the proxy's real answer and relay
it to npm unchanged.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import UpstreamUrlError
from .hops import PROXY_SCHEME, PROXY_SLOW
from .redact import redact_url

_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 16 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamProxy:
    """An upstream proxy parsed from a URL such as ``http://user:p%40ss@proxy:3128``."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def mode_spec(self) -> str:
        """The mitmproxy ``mode`` value (no credentials: those go in ``upstream_auth``)."""
        return f"upstream:{self.scheme}://{self.address}"

    @property
    def credentials(self) -> str | None:
        """``user:password`` decoded, as mitmproxy's ``upstream_auth`` takes it."""
        if self.username is None:
            return None
        return f"{self.username}:{self.password or ''}"

    @property
    def display(self) -> str:
        """The URL with the password masked: ``http://user:***@host:port``."""
        userinfo = ""
        if self.username is not None:
            userinfo = f"{self.username}:***@" if self.password else f"{self.username}@"
        return f"{self.scheme}://{userinfo}{self.address}"


def parse_upstream(url: str) -> UpstreamProxy:
    """Parse and check an upstream proxy URL; raise :class:`UpstreamUrlError` with the fix."""
    text = (url or "").strip()
    shown = redact_url(text)
    if "://" not in text:
        raise UpstreamUrlError(
            f"upstream proxy {shown!r} has no scheme: write it as http://host:port (or http://user:password@host:port)"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise UpstreamUrlError(f"upstream proxy {shown!r} is not a valid URL ({e}): write it as http://host:port") from None
    if parts.scheme not in ("http", "https"):
        raise UpstreamUrlError(
            f"upstream proxy {shown!r} uses {parts.scheme}://, which npm cannot use: give an http:// or https:// proxy URL"
        )
    if not parts.hostname:
        raise UpstreamUrlError(f"upstream proxy {shown!r} has no host: write it as http://host:port")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UpstreamUrlError(f"upstream proxy {shown!r} has a path; give only scheme://host:port")
    username = password = None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, sep, secret = userinfo.partition(":")
        username = unquote(user)
        password = unquote(secret) if sep else None
    return UpstreamProxy(parts.scheme, parts.hostname, port, username, password)


@dataclass(slots=True)
class ConnectAnswer:
    """What an upstream proxy said to a CONNECT, or why it said nothing.

    A probe fills it in as it goes (``tcp_ms`` once the proxy accepted the TCP
    connection), so whoever gives up waiting can still say how far it got.
    """

    started: float
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None
    error_kind: str | None = None
    tcp_ms: float | None = None
    connect_ms: float | None = None
    reused: bool = False
    """True when this is a recent "200" for the same tunnel, not a new probe."""

    @property
    def status_line(self) -> str:
        return f"{self.http_version} {self.status} {self.reason}".strip() if self.status else ""

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def tcp_accepted(self) -> bool:
        """The proxy accepted the TCP connection (whether or not it answered CONNECT yet)."""
        return self.tcp_ms is not None




async def probe_connect(
    proxy: tuple[str, int],
    target: tuple[str, int],
    *,
    proxy_authorization: str | None = None,
    proxy_tls: bool = False,
    timeout: float | None = None,
    answer: ConnectAnswer | None = None,
    confirm_scheme: bool = True,
) -> ConnectAnswer:
    """Send ``CONNECT target`` to ``proxy`` and return its answer (never raises for network errors).

    ``timeout`` ``None`` waits as long as the proxy takes: npm (11 and 12) sets no
    limit on a proxy's answer to CONNECT (its ``fetch-timeout`` only starts once
    the tunnel is up), so the caller stops waiting when npm does. ``answer`` is
    filled in as the probe goes. When the proxy's port speaks the other scheme
    (TLS for a plain-HTTP proxy URL, or the reverse), a second probe the other
    way confirms it and the answer's ``error_kind`` is :data:`PROXY_SCHEME`.
    """
    answer = answer if answer is not None else ConnectAnswer(started=time.time())
    t0 = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        ssl_ctx = ssl.create_default_context() if proxy_tls else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(proxy[0], proxy[1], ssl=ssl_ctx, server_hostname=proxy[0] if proxy_tls else None),
            timeout,
        )
        t1 = time.perf_counter()
        answer.tcp_ms = (t1 - t0) * 1000
        host = f"[{target[0]}]" if ":" in target[0] else target[0]
        lines = [f"CONNECT {host}:{target[1]} HTTP/1.1", f"Host: {host}:{target[1]}"]
        if proxy_authorization:
            lines.append(f"Proxy-Authorization: {proxy_authorization}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        answer.connect_ms = (time.perf_counter() - t1) * 1000
        _parse_head(answer, head)
        if not answer.accepted:
            answer.body = await _read_body(reader, answer.headers)
    except asyncio.LimitOverrunError:
        answer.error, answer.error_kind = "the proxy's answer head is too large", "protocol"
    except asyncio.IncompleteReadError as e:
        if e.partial[:1] == b"\x15":  # a TLS alert record: the port speaks TLS
            answer.error, answer.error_kind = "the proxy answered CONNECT with a TLS alert", "reset"
        else:
            answer.error, answer.error_kind = "the proxy closed the connection without answering CONNECT", "reset"
    except TimeoutError:
        if answer.tcp_accepted:
            answer.error, answer.error_kind = (
                f"the proxy accepted the connection but did not answer CONNECT within {timeout:g} s",
                PROXY_SLOW,
            )
        else:
            answer.error, answer.error_kind = f"no TCP connection to the proxy within {timeout:g} s", "timeout"
    except ConnectionRefusedError as e:
        answer.error, answer.error_kind = f"connection refused ({e.strerror or e})", "connect-failed"
    except ssl.SSLError as e:
        answer.error, answer.error_kind = f"TLS with the proxy failed: {e}", "tls"
    except OSError as e:
        answer.error, answer.error_kind = f"{e.strerror or e}", "reset" if answer.tcp_accepted else "connect-failed"
    except ValueError as e:
        answer.error, answer.error_kind = f"malformed answer: {e}", "protocol"
    finally:
        if writer is not None:
            writer.close()
    if confirm_scheme and answer.status is None and _scheme_suspect(answer, proxy_tls):
        await _confirm_scheme(answer, proxy, proxy_tls)
    return answer


def _scheme_suspect(answer: ConnectAnswer, proxy_tls: bool) -> bool:
    """A failure that a proxy speaking the other scheme produces."""
    if proxy_tls:
        return answer.error_kind == "tls" and "wrong_version_number" in (answer.error or "").lower().replace(" ", "_")
    return answer.tcp_accepted and answer.error_kind in ("reset", "protocol")


async def _confirm_scheme(answer: ConnectAnswer, proxy: tuple[str, int], proxy_tls: bool) -> None:
    """Knock on the same port the other way; on an answer, say which scheme the port speaks."""
    other = await _speaks(proxy, tls=not proxy_tls)
    if other is None:
        return
    host, port = proxy
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if proxy_tls:
        answer.error = (
            f"{answer.error}; the same port answered plain HTTP ({other}): {address} is an http:// proxy, "
            "but its URL says https://"
        )
    else:
        answer.error = (
            f"{answer.error}; the same port completed a TLS handshake ({other}): {address} is an https:// proxy, "
            "but its URL says http://"
        )
    answer.error_kind = PROXY_SCHEME


async def _speaks(proxy: tuple[str, int], *, tls: bool, timeout: float = 5.0) -> str | None:
    """What the port answered when asked the other way: a status line (plain) or a TLS version; ``None``: nothing."""
    writer: asyncio.StreamWriter | None = None
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # only asking whether the port speaks TLS at all
            reader, writer = await asyncio.wait_for(asyncio.open_connection(proxy[0], proxy[1], ssl=ctx), timeout)
            version = writer.get_extra_info("ssl_object").version() if writer.get_extra_info("ssl_object") else None
            return f"TLS handshake completed ({version or 'TLS'})"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(proxy[0], proxy[1]), timeout)
        writer.write(b"OPTIONS * HTTP/1.1\r\nHost: " + proxy[0].encode("ascii", "replace") + b"\r\n\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        text = line.decode("latin-1").strip()
        return text[:80] if text.startswith("HTTP/") else None
    except (OSError, TimeoutError, ssl.SSLError, ValueError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()


def _parse_head(answer: ConnectAnswer, head: bytes) -> None:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    answer.http_version, answer.status, answer.reason = version, int(code), reason.strip()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep:
            answer.headers.append((name.strip(), value.strip()))


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    if length is None or not length.strip().isdigit():
        return b""
    size = min(int(length), _BODY_LIMIT)
    try:
        return await asyncio.wait_for(reader.readexactly(size), 2.0)
    except (asyncio.IncompleteReadError, TimeoutError, OSError):
        return b""
