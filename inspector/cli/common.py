"""Helpers shared by the subcommands: exposure checks, journals, the fingerprint key."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from ..errors import UsageError
from ..journal import JournalWriter, new_session_path
from ..npmconfig import NpmConfigSnapshot
from ..paths import config_dir, private_dir
from ..session import SessionInfo, SessionStore
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
    except OSError:
        pass  # an unwritable config dir: the built-in key still hides values


def proxy_auth_for(args: argparse.Namespace) -> str | None:
    """Loopback by default; anything else needs the explicit flag and gets a generated proxy password."""
    if args.listen_host in LOOPBACK_HOSTS:
        return None
    if not args.exposed_ok:
        raise UsageError(
            f"--listen-host {args.listen_host} would expose the proxy beyond this machine: "
            "add --i-know-this-is-exposed to confirm (a generated proxy password will then be required)"
        )
    password = secrets.token_urlsafe(18)
    sys.stderr.write(
        f"npm-inspect: warning: listening on {args.listen_host}, reachable from other machines; "
        f"clients must authenticate as npm-inspect:{password}\n"
    )
    return f"npm-inspect:{password}"


def start_journal(
    args: argparse.Namespace, store: SessionStore, info: SessionInfo, config: NpmConfigSnapshot | None, on_error=None
) -> JournalWriter:
    path: Path = args.session or new_session_path(info.npm_argv)
    return JournalWriter(path, store, info, config, on_error=on_error).start()
