"""``npm-inspect run [options] -- npm ARGS…``: npm through the inspector, then a report."""

from __future__ import annotations

import argparse
import sys

from ..errors import InspectorError, UsageError


def cmd_run(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..diagnose import diagnose
    from ..fixes import save_attachments, verify_fixes
    from ..output import check_no_secret, write_private
    from ..paths import config_dir
    from ..report import render
    from ..runner import RunRequest, run
    from ..session import SessionStore
    from ..vault import SecretVault
    from .common import listener_for, start_journal, upstream_for

    listener = listener_for(args)
    if not npm_args:
        raise UsageError("nothing to run: write npm-inspect run -- npm install <package>")
    if args.no_redact and not args.har:
        raise UsageError("--no-redact only applies to --har OUT: add --har, or drop --no-redact")
    fix_values = _fix_values(args.fix_value)
    upstream = upstream_for(args)
    request = RunRequest(
        argv=npm_args,
        upstream=upstream.url,
        upstream_source=upstream.source,
        upstream_password=upstream.password,
        decrypt=args.decrypt,
        port=args.port,
        listen_host=args.listen_host,
        listener=listener,
    )
    machine_readable = args.report == "json" and args.report_file is None
    to_stderr = _to_stderr if machine_readable else None
    store = SessionStore()
    vault = SecretVault(limit=4096)
    """Every secret of this run, in memory only: outputs are checked against it before they are written."""
    journal = None

    def started(info, snapshot) -> None:
        nonlocal journal
        journal = start_journal(
            args, store, info, snapshot, on_error=lambda m: sys.stderr.write(f"npm-inspect: warning: {m}\n"), vault=vault
        )

    if args.no_redact:
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
            findings,
            npm_args,
            upstream=upstream.url,
            upstream_source=upstream.source,
            upstream_password=upstream.password,
            decrypt=args.decrypt,
            values=fix_values,
            prompt=_prompt if sys.stdin.isatty() else None,
        )
        verify = [o.to_dict() for o in outcomes]
    failures: list[str] = []
    if args.har:
        from ..har import write_har

        _write(lambda: write_har(args.har, exchanges, result.info, result.snapshot, reveal=vault.get if args.no_redact else None, vault=vault), args.har, failures)
    text = render(args.report, result.info, exchanges, findings, verify)
    if args.report_file:
        _write(lambda: write_private(args.report_file, text, vault=vault, what=f"the report {args.report_file}"), args.report_file, failures)
    if not args.report_file or failures:  # an unwritable --report-file: the report still reaches the user
        check_no_secret(text, vault, "the report")
        sys.stdout.write(text)
        sys.stdout.flush()
    for failure in failures:
        sys.stderr.write(f"npm-inspect: error: {failure}\n")
    unreachable = unreachable_upstream(exchanges)
    if unreachable:
        sys.stderr.write(
            f"npm-inspect: warning: the upstream proxy {unreachable} refused or dropped every connection: "
            "check that it runs and that --upstream (or npm's https-proxy) names it\n"
        )
    if failures and result.exit_code == 0:
        return EXIT_OUTPUT_FAILED
    return result.exit_code


EXIT_OUTPUT_FAILED = 2
"""npm succeeded, but an output the user asked for could not be written (said on stderr)."""


def _to_stderr(text: str) -> None:
    """npm's output while stdout is reserved for the JSON report."""
    sys.stderr.write(text)
    sys.stderr.flush()


def _write(action, path, failures: list[str]) -> None:
    """Run a write; a failure is collected (npm has run: the other outputs still come), not raised."""
    try:
        action()
    except OSError as e:
        failures.append(f"cannot write {path}: {e.strerror}; choose a writable path")
    except InspectorError as e:
        failures.append(str(e))


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
