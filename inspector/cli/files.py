"""``sessions``, ``export`` and ``bundle``: saved sessions and what leaves the machine."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import UsageError


def cmd_sessions(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..journal import list_sessions
    from ..paths import sessions_dir

    rows = []
    for n, (path, info, count, failed) in enumerate(list_sessions()):
        if n >= args.limit:
            break
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.started or path.stat().st_mtime))
        command = " ".join(info.npm_argv) or "(dashboard, no npm command)"
        exit_text = f"exit {info.npm_exit}" if info.npm_exit is not None else "running or stopped"
        rows.append(f"{when}  {count:>5} exchanges  {failed:>4} failed  {exit_text:<18}  {command[:50]:<50}  {path}")
    if not rows:
        print(f"No sessions yet in {sessions_dir()}: npm-inspect run -- npm install writes one.")
        return 0
    print("\n".join(rows))
    return 0


def cmd_export(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..har import write_har
    from ..sources import load

    session = load(args.file)
    if args.no_redact:
        sys.stderr.write(
            "npm-inspect: warning: --no-redact: session files never hold secrets (only fingerprints), so this HAR "
            "is redacted anyway; to include real secrets, capture again with npm-inspect run --har OUT --no-redact\n"
        )
    try:
        write_har(args.har, session.store.exchanges(), session.info, session.config, vault=config_secrets())
    except OSError as e:
        raise UsageError(f"cannot write {args.har}: {e.strerror}; choose a writable path") from None
    print(f"wrote {args.har} ({len(session.store)} entries, redacted)")
    return 0


def cmd_bundle(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..bundle import write_bundle
    from ..sources import load, newest_session

    path = args.file or newest_session()
    session = load(path)
    try:
        write_bundle(session, args.output, vault=config_secrets())
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror}; choose a writable path") from None
    print(f"wrote {args.output} from {path}: har.har, report.md, npm-config.json, versions.json (redacted)")
    return 0


def config_secrets():
    """A vault of the secrets in this user's npm config (tokens, proxy passwords): what an export must not hold.

    A saved session never held secrets, but a HAR made elsewhere (a browser, mitmproxy) may carry this
    user's token; the export is checked against them. Without a working npm there is nothing to check.
    """
    from ..errors import InspectorError
    from ..npmconfig import read_npm_config
    from ..vault import SecretVault

    vault = SecretVault()
    try:
        raw = read_npm_config()
    except InspectorError:
        return vault
    for secret in raw.secrets():
        vault.remember(secret)
    return vault
