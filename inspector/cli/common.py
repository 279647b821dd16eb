"""Helpers shared by the subcommands: exposure checks, journals, the fingerprint key."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InspectorError, UsageError
from ..journal import JournalWriter, new_session_path
from ..npmconfig import NpmConfigSnapshot
from ..paths import config_dir, private_dir
from ..listener import ListenerCredential
from ..upstream import parse_upstream
from ..session import SessionInfo, SessionStore
from ..vault import SecretVault
from .parser import LOOPBACK_HOSTS


def load_fingerprint_key() -> None:
    """Use this installation's own key for secret fingerprints (created once, owner-only)."""
    from .. import redact

    path = config_dir() / "fingerprint.key"
    try:
        if not path.exists():
            private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        redact.set_fingerprint_key(path.read_bytes())
    except (OSError, InspectorError):
        pass  # an unwritable config dir: the built-in key still hides values


def listener_for(args: argparse.Namespace) -> ListenerCredential:
    """This run's proxy credential. Loopback by default; another address needs the explicit flag.

    Every run requires the credential (npm gets it in its environment). When the listener is exposed
    beyond this machine, the credential is printed once so other machines' clients can use it.
    """
    listener = ListenerCredential.generate()
    if args.listen_host in LOOPBACK_HOSTS:
        return listener
    if not args.exposed_ok:
        raise UsageError(
            f"--listen-host {args.listen_host} would expose the proxy beyond this machine: "
            "add --i-know-this-is-exposed to confirm (clients will then need the generated proxy credential)"
        )
    sys.stderr.write(
        f"npm-inspect: warning: listening on {args.listen_host}, reachable from other machines; "
        f"clients must authenticate as {listener.proxyauth}\n"
    )
    return listener


UPSTREAM_ENV = "NPM_INSPECT_UPSTREAM"
UPSTREAM_PASSWORD_ENV = "NPM_INSPECT_UPSTREAM_PASSWORD"


@dataclass
class UpstreamChoice:
    url: str | None
    source: str
    password: str | None = field(default=None, repr=False)


def upstream_for(args: argparse.Namespace) -> UpstreamChoice:
    """The upstream the user named and its password, from argv, the environment or a hidden prompt.

    A password inside ``--upstream`` still works, with one warning: ``ps`` shows it to every user.
    """
    url, source = args.upstream, "--upstream"
    if url is None and os.environ.get(UPSTREAM_ENV):
        url, source = os.environ[UPSTREAM_ENV], UPSTREAM_ENV
    if url is not None:
        parsed = parse_upstream(url)
        if source == "--upstream" and parsed.password:
            sys.stderr.write(
                "npm-inspect: warning: the password in --upstream is visible to every user of this machine (ps) while "
                f"npm-inspect runs: give only the user (--upstream {parsed.scheme}://USER@{parsed.address}) and the "
                f"password in {UPSTREAM_PASSWORD_ENV} or with --ask-upstream-password\n"
            )
    password = os.environ.get(UPSTREAM_PASSWORD_ENV) or None
    if args.ask_upstream_password:
        if not sys.stdin.isatty():
            raise UsageError(f"--ask-upstream-password needs a terminal: set {UPSTREAM_PASSWORD_ENV} instead")
        import getpass

        try:
            password = getpass.getpass("npm-inspect: password for the upstream proxy: ") or None
        except (EOFError, KeyboardInterrupt):
            raise UsageError(f"no upstream password given: type it at the prompt or set {UPSTREAM_PASSWORD_ENV}") from None
    return UpstreamChoice(url, source, password)


def start_journal(
    args: argparse.Namespace,
    store: SessionStore,
    info: SessionInfo,
    config: NpmConfigSnapshot | None,
    on_error=None,
    vault: SecretVault | None = None,
) -> JournalWriter:
    path: Path = args.session or new_session_path(info.npm_argv)
    return JournalWriter(path, store, info, config, on_error=on_error, vault=vault).start()
