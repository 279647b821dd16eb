"""``npm-inspect run [options] -- npm ARGS…`` (or pnpm, yarn, bun): the tool through the inspector, then a report."""

from __future__ import annotations

import argparse
import sys

from .. import timings
from ..errors import InspectorError, UsageError


def cmd_run(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..lifecycle import SessionLifecycle
    from ..output import check_no_secret, write_private
    from ..paths import config_dir
    from ..clients import program_family
    from ..runner import RunRequest, check_argv
    from ..warm import warm
    from .common import listener_for, start_journal, upstream_for

    timings.mark("imports")
    listener = listener_for(args)
    if not npm_args:
        raise UsageError("nothing to run: write npm-inspect run -- npm install <package>")
    check_argv(npm_args)
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
    if to_stderr is None and program_family(npm_args[0]) != "npm":
        # npm keeps the terminal and its debug log holds its words; the other tools write no such log, so their
        # output passes through (as it comes, chunk by chunk) and is kept to read their error lines afterwards
        to_stderr = _to_stdout
    if args.no_redact:
        sys.stderr.write("npm-inspect: warning: --no-redact: the HAR will contain the proxy passwords, tokens, Authorization and cookie values seen in this run\n")
    session = SessionLifecycle(request, attachments_dir=config_dir() / "saved")
    vault = session.vault
    journal = None
    try:
        session.start()
        for note in session.info.tool_notes:
            sys.stderr.write(f"npm-inspect: note: {note}\n")
        journal = session.attach_journal(
            start_journal(args, session.store, session.info, session.snapshot, on_error=lambda m: sys.stderr.write(f"npm-inspect: warning: {m}\n"), vault=vault)
        )
        # what comes after npm (the rules, the report) is imported while npm runs, on the other core's time
        warm("inspector.diagnose.engine", "inspector.report", *(["inspector.fixes"] if args.verify_fix else []))
        record = session.run_blocking(capture_output=to_stderr)
        timings.mark("npm")
        findings = session.diagnose(record.number).findings
        timings.mark("diagnosis")
        verify = None
        if args.verify_fix:
            from ..fixes import verify_fixes

            outcomes = verify_fixes(session, findings, values=fix_values, prompt=_prompt if sys.stdin.isatty() else None, output=to_stderr)
            verify = [o.to_dict() for o in outcomes]
            session.diagnose(record.number)  # the journal's last findings are the run the report is about
    finally:
        session.stop()
        if journal is not None:
            journal.close()  # everything captured stays readable, also after an error or Ctrl-C
        timings.mark("shutdown")
    exchanges = session.store.exchanges()
    failures: list[str] = []
    if args.har:
        from ..har import write_har

        _write(lambda: write_har(args.har, exchanges, session.info, session.snapshot, reveal=vault.get if args.no_redact else None, vault=vault), args.har, failures)
    from ..report import render

    text = render(args.report, session.info, exchanges, findings, verify, run=record.number)
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
    timings.mark("report")
    exit_code = record.exit_code if record.exit_code is not None else 1
    if failures and exit_code == 0:
        return EXIT_OUTPUT_FAILED
    return exit_code


EXIT_OUTPUT_FAILED = 2
"""npm succeeded, but an output the user asked for could not be written (said on stderr)."""


def _to_stderr(text: str) -> None:
    """npm's output while stdout is reserved for the JSON report."""
    sys.stderr.write(text)
    sys.stderr.flush()


def _to_stdout(text: str) -> None:
    """A tool's output passed through to the terminal (the report follows it on stdout)."""
    sys.stdout.write(text)
    sys.stdout.flush()


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
