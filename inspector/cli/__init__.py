"""The ``npm-inspect`` command: the only place errors become messages and exit codes.

Bad input gets one line on stderr naming the fix and exit status 2, never a
traceback. ``run`` exits with npm's own status. A bug gets one line too; its
traceback goes to the log file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from .. import timings
from ..errors import InspectorError, UsageError
from .parser import build_parsers, split_argv

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_INTERNAL = 70

__all__ = ["main"]


def _handlers():
    from . import ca, dashboard, demo, files, run, serve

    return {
        "": dashboard.cmd_dashboard,
        "run": run.cmd_run,
        "open": dashboard.cmd_open,
        "sessions": files.cmd_sessions,
        "export": files.cmd_export,
        "bundle": files.cmd_bundle,
        "serve": serve.cmd_serve,
        "ca": ca.cmd_ca,
        "demo": demo.cmd_demo,
    }


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info < (3, 12):
        sys.stderr.write("npm-inspect: error: Python 3.12 or newer is required: reinstall npm-inspect with python3.12\n")
        return EXIT_USAGE
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, options, npm_args = split_argv(argv)
        if npm_args and command not in ("", "run"):
            raise UsageError(f"'npm-inspect {command}' takes no npm command after '--'")
        args = build_parsers()[command].parse_args(options)
        from .. import logsetup
        from .common import load_fingerprint_key

        args.log_path = logsetup.configure(args.log_level, args.log_file)
        load_fingerprint_key()
        timings.mark("cli")
        return _handlers()[command](args, npm_args)
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
    finally:
        timings.write()
