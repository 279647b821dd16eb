"""``npm-inspect demo``: filled in by the demo lab."""

from __future__ import annotations

import argparse

from ..errors import UsageError


def cmd_demo(args: argparse.Namespace, npm_args: list[str]) -> int:
    raise UsageError("the demo is not available yet")
