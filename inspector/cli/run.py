"""``npm-inspect run [options] -- npm ARGS…``: npm through the inspector, then a report."""

from __future__ import annotations

import argparse
import sys

from ..errors import UpstreamUnreachableError, UsageError


def cmd_run(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..diagnose import diagnose
    from ..fixes import save_attachments, verify_fixes
    from ..paths import config_dir
    from ..report import render
    from ..runner import RunRequest, run
    from ..session import SessionStore
    from .common import proxy_auth_for, start_journal

    proxyauth = proxy_auth_for(args)
    if not npm_args:
        raise UsageError("nothing to run: write npm-inspect run -- npm install <package>")
    if args.no_redact and not args.har:
        raise UsageError("--no-redact only applies to --har OUT: add --har, or drop --no-redact")
    fix_values = _fix_values(args.fix_value)
    request = RunRequest(
        argv=npm_args,
        upstream=args.upstream,
        decrypt=args.decrypt,
        port=args.port,
        listen_host=args.listen_host,
        proxyauth=proxyauth,
    )
    machine_readable = args.report == "json" and args.report_file is None
    to_stderr = _to_stderr if machine_readable else None
    store = SessionStore()
    journal = None

    def started(info, snapshot) -> None:
        nonlocal journal
        journal = start_journal(args, store, info, snapshot, on_error=lambda m: sys.stderr.write(f"npm-inspect: warning: {m}\n"))

    vault = None
    if args.no_redact:
        from ..vault import SecretVault

        vault = SecretVault(limit=4096)
        sys.stderr.write("npm-inspect: warning: --no-redact: the HAR will contain the proxy passwords, tokens, Authorization and cookie values seen in this run\n")
    try:
        result = run(request, store, capture_output=to_stderr, on_started=started, vault=vault)
    except BaseException:
        if journal is not None:
            journal.close()  # keep what was captured readable
        raise
    exchanges = result.store.exchanges()
    findings = save_attachments(diagnose(exchanges, result.snapshot, result.outcome, result.info.upstream_source), config_dir() / "saved")
    if journal is not None:
        journal.write_findings(findings)
        journal.update_info(result.info)
        journal.close()
    verify = None
    if args.verify_fix:
        outcomes = verify_fixes(
            findings, npm_args, upstream=args.upstream, decrypt=args.decrypt, values=fix_values, prompt=_prompt if sys.stdin.isatty() else None
        )
        verify = [o.to_dict() for o in outcomes]
    if args.har:
        from ..har import write_har

        _write(lambda: write_har(args.har, exchanges, result.info, result.snapshot, reveal=vault.get if vault else None), args.har)
    text = render(args.report, result.info, exchanges, findings, verify)
    if args.report_file:
        _write(lambda: args.report_file.write_text(text), args.report_file)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    unreachable = unreachable_upstream(exchanges)
    if unreachable:
        raise UpstreamUnreachableError(
            f"the upstream proxy {unreachable} refused or dropped every connection: "
            "check that it runs and that --upstream (or npm's https-proxy) names it"
        )
    return result.exit_code


def _to_stderr(text: str) -> None:
    """npm's output while stdout is reserved for the JSON report."""
    sys.stderr.write(text)
    sys.stderr.flush()


def _write(action, path) -> None:
    try:
        action()
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}; choose a writable path") from None


def _fix_values(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--fix-value {name or item!r} needs NAME=VALUE, e.g. --fix-value password=…")
        values[name.strip().lower()] = value
    return values


def _prompt(name: str, secret: bool) -> str | None:
    import getpass

    question = f"npm-inspect: value for <{name}> (empty to skip): "
    try:
        return (getpass.getpass(question) if secret else input(question)) or None
    except (EOFError, KeyboardInterrupt):
        return None


def unreachable_upstream(exchanges: list) -> str | None:
    """The upstream's address when npm-inspect never got an answer from it (and tried)."""
    tried = [e for e in exchanges if e.upstream and e.hop is not None and e.hop.value == "proxy"]
    if tried and all(e.status is None and e.error is not None and e.error.kind in ("connect-failed", "timeout") for e in tried):
        return tried[0].upstream
    return None
