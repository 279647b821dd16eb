"""The dashboard in a browser, locked: textual-serve behind a token, an ``Origin`` check and a ``Host`` check.

Every websocket textual-serve accepts starts a process on this machine (the
dashboard, reading the user's session), and textual-serve itself checks
nothing. Loopback is no lock: every other local user can reach 127.0.0.1, and
every web page the user has open can make the browser open a websocket to it
(browsers apply no same-origin rule to websockets: only the ``Origin`` header
tells where one comes from) or rebind its own name to 127.0.0.1 (the request
then carries that name in ``Host``). So, in one middleware that runs before any
handler:

- every request must carry ``Host`` = the served host:port (DNS rebinding);
- ``GET /`` must carry ``?token=`` equal to the printed token (else 403);
- the websocket is ``/ws/<token>`` (textual.js appends ``?width=…`` to the URL
  the page gives it, so a query token would not survive) and must also carry
  ``Origin`` = ``http://<served host:port>``;
- ``/static/`` (textual-serve's own JS, CSS and fonts) needs only the ``Host``.

Tokens are compared in constant time. The token lives in memory only: no
access log (request lines and ``Referer`` carry it), refusals are logged by
reason without path or query, responses say ``Referrer-Policy: no-referrer``
and ``Cache-Control: no-store``, and a Content-Security-Policy keeps the page
from fetching anything off this server (textual-serve's page links a web font).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

logger = logging.getLogger(__name__)

__all__ = ["RUNNER_OPTIONS", "LockedServer", "authority", "is_wildcard", "same_authority", "tokens_match"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RUNNER_OPTIONS = {"access_log": None}
"""aiohttp's access log writes request lines and ``Referer``: both carry the token. Off."""

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def tokens_match(given: str, token: str) -> bool:
    """Constant-time comparison (bytes, so any text a client sends compares without raising)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def is_wildcard(host: str) -> bool:
    """``0.0.0.0``, ``::`` or empty: every address, so no single name a browser's ``Host`` could be checked against."""
    if host in ("", "*"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def authority(host: str, port: int) -> str:
    """``host:port`` as a browser writes it in ``Host`` and ``Origin`` (IPv6 in brackets, names lower-case)."""
    host = host.strip("[]").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def same_authority(value: str | None, served: str) -> bool:
    """Whether a ``Host`` value names the served host:port (a browser leaves out ``:80``)."""
    if not value:
        return False
    value = value.strip().lower()
    if value == served:
        return True
    return served.endswith(":80") and value == served[: -len(":80")]


_ROUTES = {"index": "the page", "websocket": "the websocket", "static": "a static file"}


def _shown(value: str | None) -> str:
    """A client-sent header for a log line: quoted and cut short."""
    return "none" if value is None else repr(value[:80])


class LockedServer(Server):
    """textual-serve's :class:`Server` that starts the app only for the token holder's own page."""

    def __init__(self, command: str, *, host: str, port: int, title: str, token: str):
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.authority = authority(host, port)
        self.origin = f"http://{self.authority}"
        self.sockets: set[web.WebSocketResponse] = set()

    # --- the lock -------------------------------------------------------------

    def refusal(self, request: web.Request) -> str | None:
        """Why ``request`` must not reach its handler, or ``None``. Never names the token or the path."""
        host = request.headers.get("Host")
        if not same_authority(host, self.authority):
            return f"Host {_shown(host)} is not {self.authority}"
        route = request.match_info.route.name
        if route == "index":
            if not tokens_match(request.query.get("token", ""), self.token):
                return "no valid token in the page URL"
        elif route == "websocket":
            if not tokens_match(request.match_info.get("token", ""), self.token):
                return "no valid token in the websocket URL"
            origin = request.headers.get("Origin")
            if origin is None or origin.strip().lower() != self.origin:
                return f"websocket Origin {_shown(origin)} is not {self.origin}"
        return None

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse (403, before any handler, so before any process) or serve and add the security headers."""
        reason = self.refusal(request)
        if reason is not None:
            logger.info("refused %s: %s", _ROUTES.get(request.match_info.route.name or "", "a request"), reason)
            raise web.HTTPForbidden(
                text="npm-inspect serve: open the URL (with ?token=…) that npm-inspect serve printed, as printed\n",
                headers=SECURITY_HEADERS,
            )
        response = await handler(request)
        if not response.prepared:  # a websocket has sent its headers already
            response.headers.update(SECURITY_HEADERS)
            response.headers["Content-Security-Policy"] = self.content_security_policy()
        return response

    def content_security_policy(self) -> str:
        """This server and its own websocket only: the page loads and contacts nothing else."""
        return (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws://{self.authority}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )

    # --- textual-serve's app, with the lock in front ----------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        """textual-serve's page, its websocket URL carrying the token."""
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"ws://{self.authority}/ws/{self.token}",
            "config": {"static": {"url": f"{self.origin}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One dashboard process per accepted websocket (textual-serve's handler, with its sockets tracked)."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        self.sockets.add(websocket)
        app_service = AppService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        logger.info("browser connected: starting the dashboard (%dx%d)", width, height)
        try:
            await app_service.start(width, height)
            await self._process_messages(websocket, app_service)
        except Exception:
            logger.exception("the served dashboard failed")
        finally:
            self.sockets.discard(websocket)
            await app_service.stop()
            await websocket.close()
            logger.info("browser disconnected: dashboard stopped")
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every browser's websocket, so each dashboard process is told to quit and is reaped."""
        for websocket in list(self.sockets):
            await websocket.close(code=1001, message=b"npm-inspect serve stopped")

    def serve_on(self, sock: socket.socket) -> None:
        """Serve on an already bound socket until SIGINT/SIGTERM."""
        web.run_app(self._make_app(), sock=sock, print=None, handle_signals=True, shutdown_timeout=5, **RUNNER_OPTIONS)
