"""Phase marks of one ``npm-inspect`` process, for ``bench/startup.py`` (off unless asked for).

With ``NPM_INSPECT_TIMINGS=/path/file.json`` in its environment, a command writes
``{"pid": …, "marks": [[name, t], …]}`` when it ends, ``t`` from
:func:`time.monotonic` — one clock for every process on the machine, so the
bench puts the marks beside its own start time. The names say what *ended* at
that moment (``imports``, ``npm-config``, ``ca-bundle``, ``proxy-start``,
``npm``, ``report``, ``shutdown``). Without the variable a mark costs one
append; nothing is written and nothing else changes.
"""

from __future__ import annotations

import json
import os
import time

ENV = "NPM_INSPECT_TIMINGS"

_marks: list[tuple[str, float]] = []


def mark(name: str) -> None:
    """Note that phase ``name`` ended now."""
    _marks.append((name, time.monotonic()))


def marks() -> list[tuple[str, float]]:
    return list(_marks)


def write() -> None:
    """Write the marks to ``$NPM_INSPECT_TIMINGS`` if it is set (a bench's own file: failures are ignored)."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "marks": _marks}, f)
    except OSError:
        pass
