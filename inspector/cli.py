"""The ``npm-inspect`` command: argument parsing, and the only place errors become exit codes.

Bad input gets one line on stderr naming the fix and exit status 2. ``run``
exits with npm's own status.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import InspectorError, UpstreamUnreachableError, UsageError

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_INTERNAL = 70
SUBCOMMANDS = ("run", "demo", "open", "sessions", "serve", "export", "bundle", "ca")


class _Parser(argparse.ArgumentParser):
    """argparse that fails with one line and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number: give 1-65535") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port {value} is out of range: give 1-65535")
    return value


def _add_proxy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upstream", metavar="URL", help="corporate proxy (default: npm's https-proxy/proxy, then HTTPS_PROXY)")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    parser.add_argument(
        "--no-decrypt",
        dest="decrypt",
        action="store_false",
        help="metadata-only: pass TLS tunnels through unopened (CONNECTs and the proxy's answers are still captured)",
    )
    parser.add_argument("--listen-host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--i-know-this-is-exposed",
        dest="exposed_ok",
        action="store_true",
        help="allow --listen-host beyond loopback (proxy authentication is then required)",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    parser.add_argument("--log-file", type=Path, help="where to log (default: the npm-inspect state directory)")


def build_parsers() -> dict[str, argparse.ArgumentParser]:
    parsers: dict[str, argparse.ArgumentParser] = {}

    dash = _Parser(
        prog="npm-inspect",
        description="See which hop said no when npm fails behind a corporate proxy. "
        "Without a subcommand: the full-screen dashboard (npm-inspect [options] [-- npm ARGS…]).",
        epilog="subcommands: " + ", ".join(SUBCOMMANDS) + " (npm-inspect SUBCOMMAND --help)",
    )
    dash.add_argument("--version", action="version", version=f"npm-inspect {__version__}")
    _add_proxy_options(dash)
    _add_common(dash)
    parsers[""] = dash

    run = _Parser(prog="npm-inspect run", description="Run npm through the inspector and print a report.")
    _add_proxy_options(run)
    _add_common(run)
    run.add_argument("--report", choices=("text", "json", "markdown"), default="text", help="report format (default: text)")
    run.add_argument("--report-file", type=Path, help="write the report to this file instead of stdout")
    run.add_argument(
        "--verify-fix",
        action="store_true",
        help="apply each finding's config changes to a temporary copy of your npm config and re-run npm to prove them",
    )
    run.add_argument(
        "--fix-value",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for a placeholder in a fix (user=…, password=…, token=…); or set NPM_INSPECT_FIX_<NAME>",
    )
    parsers["run"] = run
    return parsers


def split_argv(argv: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """(subcommand or '', our options, npm argv after '--')."""
    args = list(argv)
    npm_args: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, npm_args = args[:cut], args[cut + 1 :]
    command = ""
    if args and args[0] in SUBCOMMANDS:
        command, args = args[0], args[1:]
    return command, args, npm_args


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info < (3, 12):
        sys.stderr.write("npm-inspect: error: Python 3.12 or newer is required: reinstall npm-inspect with python3.12\n")
        return EXIT_USAGE
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, options, npm_args = split_argv(argv)
        parsers = build_parsers()
        if command not in parsers:
            raise UsageError(f"'{command}' is not available yet")
        args = parsers[command].parse_args(options)
        from . import logsetup

        args.log_path = logsetup.configure(args.log_level, args.log_file)
        handler = {"run": cmd_run}.get(command, cmd_dashboard)
        return handler(args, npm_args)
    except InspectorError as e:
        sys.stderr.write(f"npm-inspect: error: {e}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("npm-inspect: interrupted\n")
        return 130
    except Exception as e:  # a bug: one line here, the traceback in the log
        logger.exception("internal error")
        sys.stderr.write(f"npm-inspect: internal error: {type(e).__name__}: {e} (details in the log file)\n")
        return EXIT_INTERNAL


def _check_listen(args: argparse.Namespace) -> None:
    if args.listen_host not in ("127.0.0.1", "::1", "localhost") and not args.exposed_ok:
        raise UsageError(
            f"--listen-host {args.listen_host} would expose the proxy beyond this machine: "
            "add --i-know-this-is-exposed to confirm (proxy authentication will then be required)"
        )


def cmd_run(args: argparse.Namespace, npm_args: list[str]) -> int:
    from .diagnose import diagnose
    from .fixes import save_attachments, verify_fixes
    from .paths import config_dir
    from .report import render
    from .runner import RunRequest, run

    _check_listen(args)
    if not npm_args:
        raise UsageError("nothing to run: write npm-inspect run -- npm install <package>")
    request = RunRequest(
        argv=npm_args,
        upstream=args.upstream,
        decrypt=args.decrypt,
        port=args.port,
        listen_host=args.listen_host,
    )
    fix_values = _fix_values(args.fix_value)
    machine_readable = args.report == "json" and args.report_file is None
    to_stderr = (lambda line: print(line, file=sys.stderr)) if machine_readable else None
    result = run(request, capture_output=to_stderr)
    exchanges = result.store.exchanges()
    findings = save_attachments(diagnose(exchanges, result.snapshot), config_dir() / "saved")
    verify = None
    if args.verify_fix:
        outcomes = verify_fixes(
            findings,
            npm_args,
            upstream=args.upstream,
            decrypt=args.decrypt,
            values=fix_values,
            prompt=_prompt if sys.stdin.isatty() else None,
        )
        verify = [o.to_dict() for o in outcomes]
    text = render(args.report, result.info, exchanges, findings, verify)
    if args.report_file:
        try:
            args.report_file.write_text(text)
        except OSError as e:
            raise UsageError(f"cannot write the report to {args.report_file}: {e.strerror}; choose a writable path") from None
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


def cmd_dashboard(args: argparse.Namespace, npm_args: list[str]) -> int:
    from .live import LiveSession
    from .runner import RunRequest, check_argv
    from .session import SessionStore

    _check_listen(args)
    if npm_args:
        check_argv(npm_args)
    if not sys.stdout.isatty():
        raise UsageError("the dashboard needs a terminal: use npm-inspect run --report text -- npm … for a headless report")
    store = SessionStore()
    request = RunRequest(
        argv=npm_args or ["npm"],
        upstream=args.upstream,
        decrypt=args.decrypt,
        port=args.port,
        listen_host=args.listen_host,
    )
    live = LiveSession(request, store)
    try:
        live.start()
        from .tui.app import InspectorApp

        app = InspectorApp(store, live=live, reveal_secret=live.reveal)
        result = app.run()
    finally:
        live.stop()
    return result if isinstance(result, int) else 0
