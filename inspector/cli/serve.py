"""``npm-inspect serve``: the dashboard of a running or saved session in a browser, via textual-serve, locked.

Each accepted browser tab runs ``npm-inspect open FILE --follow`` on this
machine, so a teammate sees new rows and findings live (over an SSH tunnel or
a screen share). A fresh random token is required on loopback too, and the
websocket must also come from the printed origin: see :mod:`inspector.webserve`.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import socket
import sys
from pathlib import Path

from ..errors import UsageError
from .parser import LOOPBACK_HOSTS


def serve_command(path: Path) -> str:
    """The shell command textual-serve runs per browser: a session file is followed, a HAR (it cannot grow) opened."""
    from ..journal import looks_like_journal
    from ..sources import load

    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    argv = [sys.executable, "-m", "inspector", "open", str(path)]
    if looks_like_journal(head):
        argv.append("--follow")
    else:
        load(path)  # a HAR, or a one-line error now rather than an empty page later
    return " ".join(shlex.quote(a) for a in argv)


def listen(host: str, port: int) -> socket.socket:
    """Bind before printing the URL, so a taken port is a one-line error and the printed URL works at once."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise UsageError(f"--host {host} does not resolve: give an address of this machine") from None
    try:
        return socket.create_server(address, family=family)
    except OSError as e:
        raise UsageError(f"cannot serve on {host}:{port}: {e.strerror}: choose another --port") from None


def cmd_serve(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..sources import newest_session

    try:
        from ..webserve import LockedServer, authority, is_wildcard
    except ImportError:
        raise UsageError("serving needs textual-serve: pip install 'npm-inspect[serve]'") from None
    if is_wildcard(args.host):
        raise UsageError(
            f"--host {args.host or repr('')} listens on every address, so no browser's Host header can be checked: "
            "give the one address the browser will use"
        )
    exposed = args.host not in LOOPBACK_HOSTS
    if exposed and not args.exposed_ok:
        raise UsageError(
            f"--host {args.host} would show your session to other machines: add --i-know-this-is-exposed "
            "to confirm (the token then crosses the network unencrypted), or use an SSH tunnel to 127.0.0.1"
        )
    path = args.file or newest_session()
    command = serve_command(path)
    sock = listen(args.host, args.port)
    token = secrets.token_urlsafe(32)
    server = LockedServer(command, host=args.host, port=args.port, title=f"npm-inspect · {path.name}", token=token)
    if exposed:
        sys.stderr.write(f"npm-inspect: warning: serving on {args.host}, reachable from other machines (plain HTTP)\n")
    # The token is printed here, once, for the user to open; it is never logged or written to disk.
    sys.stderr.write(f"npm-inspect: serving {path} at http://{authority(args.host, args.port)}/?token={token} (ctrl+c stops)\n")
    sys.stderr.flush()
    with sock:
        server.serve_on(sock)
    return 0
