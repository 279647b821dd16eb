"""Editing ``.npmrc`` text (npm, pnpm's ``.npmrc``/``auth.ini``, the ``.npmrc`` yarn 1 and bun read for tokens).

Apart from :mod:`inspector.fixes` so the package-manager adapters (which :mod:`inspector.fixes` drives) can use it
without an import cycle.
"""

from __future__ import annotations

import re
from pathlib import Path

from .diagnose.findings import ConfigChange
from .npmconfig import RawNpmConfig

_KEY_LINE = re.compile(r"^\s*([^=;#\s][^=]*?)\s*=")


def apply_to_npmrc(text: str, changes: list[ConfigChange], raw: RawNpmConfig) -> str:
    """``text`` (an .npmrc) with the changes made: a key's old lines removed, its new value appended."""
    lines = text.splitlines()
    for change in changes:
        lines = [line for line in lines if not (_KEY_LINE.match(line) and _KEY_LINE.match(line).group(1).strip() == change.key)]  # type: ignore[union-attr]
        if change.action == "set":
            lines.append(f"{change.key}={change.value}")
        elif change.action == "copy":
            source = raw.get(change.value or "")
            if source:
                lines.append(f"{change.key}={source}")
    return "\n".join(lines) + "\n"


def changed_environment(changes: list[ConfigChange], raw: RawNpmConfig, userconfig: Path, base: dict[str, str]) -> dict[str, str]:
    """npm's environment for a copy: ``npm_config_userconfig`` at the copy, set values as ``npm_config_*``
    (they beat a project ``.npmrc``)."""
    env = dict(base)
    env["npm_config_userconfig"] = str(userconfig)
    for change in changes:
        if change.action == "delete":
            continue
        value = change.value if change.action == "set" else raw.get(change.value or "")
        if value:
            name = change.key if change.key.startswith("//") else change.key.replace("-", "_")
            env["npm_config_" + name] = str(value)
    return env
