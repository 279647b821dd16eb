"""Argument parsing for every subcommand. Errors become :class:`UsageError` (one line, exit 2)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..errors import UsageError

SUBCOMMANDS = ("run", "demo", "open", "sessions", "serve", "export", "bundle", "ca")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class Parser(argparse.ArgumentParser):
    """argparse that fails with one line and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number: give 1-65535") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port {value} is out of range: give 1-65535")
    return value


def existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist: give a session file (npm-inspect sessions lists them) or a HAR")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory: give a file")
    return path


def writable_file(text: str) -> Path:
    """A file npm-inspect will write: checked now, before npm runs, so no output is found unwritable afterwards."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory: give a file name to write")
    if not path.parent.exists():
        raise argparse.ArgumentTypeError(f"the directory {path.parent} does not exist: create it or write elsewhere")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path.parent} is not a directory: give a file in a writable directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} is not writable: choose another file")
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"the directory {path.parent} is not writable: write elsewhere")
    return path


def _proxy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="corporate proxy, e.g. http://USER@proxy.corp:3128 (default: NPM_INSPECT_UPSTREAM, then npm's "
        "https-proxy/proxy, then HTTPS_PROXY); keep the password out of it: ps shows it to every user",
    )
    parser.add_argument(
        "--ask-upstream-password",
        action="store_true",
        help="ask for the upstream proxy's password at a hidden prompt (or set NPM_INSPECT_UPSTREAM_PASSWORD)",
    )
    parser.add_argument("--port", type=port, default=0, help="port to listen on (default: a free one)")
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
        help="allow --listen-host beyond loopback (a generated proxy password is then required)",
    )
    parser.add_argument("--session", type=writable_file, metavar="FILE", help="where to write the session journal (default: a new file in the sessions directory)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    parser.add_argument("--log-file", type=writable_file, help="where to log (default: the npm-inspect state directory)")


def build_parsers() -> dict[str, argparse.ArgumentParser]:
    parsers: dict[str, argparse.ArgumentParser] = {}

    dash = Parser(
        prog="npm-inspect",
        description="See which hop said no when npm fails behind a corporate proxy. "
        "Without a subcommand: the full-screen dashboard (npm-inspect [options] [-- npm|pnpm|yarn|bun ARGS…]).",
        epilog="subcommands: " + ", ".join(SUBCOMMANDS) + " (npm-inspect SUBCOMMAND --help)",
    )
    dash.add_argument("--version", action="version", version=f"npm-inspect {__version__}")
    _proxy_options(dash)
    _common(dash)
    parsers[""] = dash

    run = Parser(prog="npm-inspect run", description="Run npm, pnpm, yarn or bun through the inspector and print a report (npm-inspect run [options] -- npm ARGS…).")
    _proxy_options(run)
    _common(run)
    run.add_argument("--report", choices=("text", "json", "markdown"), default="text", help="report format (default: text)")
    run.add_argument("--report-file", type=writable_file, help="write the report to this file instead of stdout")
    run.add_argument("--har", type=writable_file, metavar="OUT", help="also write a redacted HAR of the run")
    run.add_argument("--no-redact", action="store_true", help="with --har: put the real secrets seen in this run into the HAR (never the default)")
    run.add_argument("--verify-fix", action="store_true", help="apply each finding's config changes to a temporary copy of your npm config and re-run npm to prove them")
    run.add_argument(
        "--fix-value",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for a placeholder in a fix (user=…, password=…, token=…); or set NPM_INSPECT_FIX_<NAME>",
    )
    parsers["run"] = run

    open_ = Parser(prog="npm-inspect open", description="Open a saved session or a HAR file in the dashboard, or print its report.")
    open_.add_argument("file", type=existing_file, metavar="FILE")
    open_.add_argument("--follow", action="store_true", help="follow a session another npm-inspect is still writing")
    open_.add_argument("--report", choices=("text", "json", "markdown"), help="print the report instead of opening the dashboard")
    _common(open_)
    parsers["open"] = open_

    sessions = Parser(prog="npm-inspect sessions", description="List saved sessions, newest first.")
    sessions.add_argument("--limit", type=int, default=20, help="how many to list (default 20)")
    _common(sessions)
    parsers["sessions"] = sessions

    export = Parser(prog="npm-inspect export", description="Export a saved session (or HAR) as a redacted HAR 1.2 file.")
    export.add_argument("file", type=existing_file, metavar="FILE")
    export.add_argument("--har", type=writable_file, metavar="OUT", required=True)
    export.add_argument("--no-redact", action="store_true", help="explain what an unredacted export could include (saved sessions hold no secrets)")
    _common(export)
    parsers["export"] = export

    bundle = Parser(prog="npm-inspect bundle", description="Write a support bundle (redacted HAR, Markdown report, npm config snapshot, versions) as a zip.")
    bundle.add_argument("file", type=existing_file, metavar="FILE", nargs="?", help="session or HAR (default: the newest session)")
    bundle.add_argument("-o", "--output", type=writable_file, metavar="OUT.zip", required=True)
    _common(bundle)
    parsers["bundle"] = bundle

    serve = Parser(prog="npm-inspect serve", description="Serve the dashboard of a running or saved session to a browser (textual-serve).")
    serve.add_argument("file", type=existing_file, metavar="FILE", nargs="?", help="session file (default: the newest session, followed live)")
    serve.add_argument("--port", type=port, default=8765, help="port (default 8765)")
    serve.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1; anything else needs --i-know-this-is-exposed)")
    serve.add_argument("--i-know-this-is-exposed", dest="exposed_ok", action="store_true", help="allow --host beyond loopback (an access token is then required)")
    _common(serve)
    parsers["serve"] = serve

    ca = Parser(prog="npm-inspect ca", description="npm-inspect's CA: where it is, or a CA bundle npm can use with a running inspector.")
    ca.add_argument("--bundle", action="store_true", help="write a bundle (your npm CAs or Node's + npm-inspect's CA) and print its path")
    _common(ca)
    parsers["ca"] = ca

    demo = Parser(prog="npm-inspect demo", description="A self-contained corporate network on loopback: watch npm fail, see why, apply the fix.")
    demo.add_argument("scenario", nargs="?", help="one scenario (default: walk through all of them)")
    demo.add_argument("--report", choices=("text", "json", "markdown"), help="run headless and print the report instead of the dashboard")
    demo.add_argument("--apply-fix", action="store_true", help="headless: apply the top finding's fix to the demo's npm config and run npm again")
    demo.add_argument("--replay", action="store_true", help="show the recorded session instead of running npm")
    demo.add_argument("--list", action="store_true", help="list the scenarios")
    _common(demo)
    parsers["demo"] = demo
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
