"""``npm-inspect serve``: the dashboard of a running or saved session in a browser, via textual-serve.

Each browser tab runs ``npm-inspect open FILE --follow`` on this machine, so
a teammate sees new rows and findings live (over an SSH tunnel or a screen
share). Loopback by default; another address needs an explicit flag and then
an access token in the URL.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys

from ..errors import UsageError
from .parser import LOOPBACK_HOSTS


def serve_command(path) -> str:
    return " ".join(shlex.quote(a) for a in (sys.executable, "-m", "inspector", "open", str(path), "--follow"))


def cmd_serve(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..sources import newest_session

    try:
        import textual_serve.server  # noqa: F401  (only: is it installed?)
    except ImportError:
        raise UsageError("serving needs textual-serve: pip install 'npm-inspect[serve]'") from None
    path = args.file or newest_session()
    token = None
    if args.host not in LOOPBACK_HOSTS:
        if not args.exposed_ok:
            raise UsageError(
                f"--host {args.host} would show your session to other machines: add --i-know-this-is-exposed "
                "to confirm (an access token will be required), or use an SSH tunnel to 127.0.0.1"
            )
        token = secrets.token_urlsafe(16)
    server = TokenServer(serve_command(path), host=args.host, port=args.port, title=f"npm-inspect · {path.name}", token=token)
    url = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    if token:
        sys.stderr.write(f"npm-inspect: warning: serving on {args.host}, reachable from other machines; only {url} opens it\n")
    sys.stderr.write(f"npm-inspect: serving {path} at {url} (ctrl+c stops)\n")
    server.serve()
    return 0


def TokenServer(command: str, *, host: str, port: int, title: str, token: str | None):
    """A textual-serve Server that, when ``token`` is set, admits only browsers that opened the tokened URL."""
    from aiohttp import web
    from textual_serve.server import Server

    class _Server(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token is not None:
                app.middlewares.append(_require_token)
            return app

    @web.middleware
    async def _require_token(request: web.Request, handler):
        if request.query.get("token") == token:
            response = await handler(request)
            response.set_cookie("npm_inspect_token", token, httponly=True, samesite="Strict")
            return response
        if request.cookies.get("npm_inspect_token") == token:
            return await handler(request)
        raise web.HTTPForbidden(text="npm-inspect: open the URL with ?token=… that npm-inspect serve printed")

    return _Server(command, host=host, port=port, title=title)
