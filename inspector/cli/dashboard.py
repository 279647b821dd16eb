"""``npm-inspect [options] [-- npm ARGS…]`` (live) and ``npm-inspect open FILE`` (saved, or followed)."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UsageError


WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def _need_terminal(alternative: str) -> None:
    """Refuse pipes with a one-line hint, unless the app runs under textual-serve (its web driver speaks over pipes)."""
    if os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER:
        return
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise UsageError(f"the dashboard needs a terminal: {alternative}")


def cmd_dashboard(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..lifecycle import SessionLifecycle
    from ..paths import config_dir
    from ..runner import RunRequest, check_argv
    from .common import listener_for, start_journal, upstream_for

    listener = listener_for(args)
    if npm_args:
        check_argv(npm_args)
    _need_terminal(f"use npm-inspect run --report text -- {' '.join(npm_args[:1]) or 'npm'} … for a headless report")
    upstream = upstream_for(args)
    request = RunRequest(
        argv=npm_args or ["npm"],
        upstream=upstream.url,
        upstream_source=upstream.source,
        upstream_password=upstream.password,
        decrypt=args.decrypt,
        port=args.port,
        listen_host=args.listen_host,
        listener=listener,
    )
    session = SessionLifecycle(request, attachments_dir=config_dir() / "saved")
    journals = []

    def start():
        """On the dashboard's thread pool, after its first frame: npm's config, the proxy, the session file."""
        session.start()
        journals.append(session.attach_journal(start_journal(args, session.store, session.info, session.snapshot, vault=session.vault)))
        return journals[0]

    try:
        from ..tui.app import InspectorApp

        app = InspectorApp(session.store, session=session, start_session=start)
        result = app.run()  # returns once the start thread has ended too (asyncio.run joins its executor)
        if app.start_error is not None:
            raise app.start_error
    finally:
        session.stop()
        for journal in journals:
            journal.close()
    journal = journals[0] if journals else None
    if journal is not None:
        sys.stderr.write(f"npm-inspect: session saved to {journal.path}\n")
    return result if isinstance(result, int) else 0


def cmd_open(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..sources import load

    if args.report:
        if args.follow:
            raise UsageError("--report prints a finished report; drop --follow, or drop --report to watch live")
        from ..diagnoser import diagnose_saved, last_run
        from ..report import render

        session = load(args.file)
        for warning in session.warnings:
            sys.stderr.write(f"npm-inspect: warning: {warning}\n")
        exchanges = session.store.exchanges()
        findings = diagnose_saved(exchanges, session.info, session.config)
        sys.stdout.write(render(args.report, session.info, exchanges, findings, run=last_run(exchanges, session.info)))
        return 0
    _need_terminal("add --report text|json|markdown to print the report instead")
    from ..tui.app import InspectorApp

    if args.follow:
        from ..journal import JournalFollower, looks_like_journal
        from ..session import SessionStore

        if not looks_like_journal(args.file.read_bytes()[:4096]):
            raise UsageError(f"--follow needs an npm-inspect session file; {args.file} is not one (a HAR cannot grow)")
        store = SessionStore()
        follower = JournalFollower(args.file, store).start()
        try:
            app = InspectorApp(store, info=follower.parser.info, snapshot=follower.parser.config, source="following", follower=follower)
            app.run()
        finally:
            follower.stop()
        return 0
    session = load(args.file)
    for warning in session.warnings:
        sys.stderr.write(f"npm-inspect: warning: {warning}\n")
    app = InspectorApp(session.store, info=session.info, snapshot=session.config, source=f"{session.kind} {args.file.name}")
    app.run()
    return 0
