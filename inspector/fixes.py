"""Applying a finding's config changes — to temporary copies only — and proving they fix npm.

``npm-inspect run --verify-fix`` and the demo's fix key use this: the user's
own ``.npmrc`` is read, copied to a private temporary file, changed there,
and npm is re-run through the inspector with ``npm_config_userconfig``
pointing at the copy (set values are also passed as ``npm_config_*`` so they
beat a project ``.npmrc``). Nothing the user owns is written.

Placeholders such as ``<password>`` are filled from ``--fix-value NAME=VALUE``,
then ``NPM_INSPECT_FIX_<NAME>``, then a hidden prompt on a terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .diagnose import ConfigChange, Finding
from .npmconfig import RawNpmConfig, read_npm_config
from .output import write_private
from .paths import private_dir
from .redact import redact_text

SECRET_PLACEHOLDERS = ("password", "token")
Prompt = Callable[[str, bool], str | None]


@dataclass
class FixOutcome:
    """What happened when one finding's fix was tried."""

    rule: str
    title: str
    applied: list[str]
    """The commands applied, secrets masked."""
    passed: bool | None
    """True: npm succeeded after the fix; False: it still failed; None: not tried."""
    exit_code: int | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "title": self.title,
            "applied": self.applied,
            "passed": self.passed,
            "exit": self.exit_code,
            "note": self.note,
        }


def save_attachments(findings: list[Finding], directory: Path) -> list[Finding]:
    """Write each finding's attachments (e.g. a corporate CA) to ``directory`` and point its commands there."""
    out = []
    for finding in findings:
        if not finding.attachments:
            out.append(finding)
            continue
        private_dir(directory)
        commands, changes = list(finding.commands), list(finding.changes)
        for name, content in finding.attachments:
            path = directory / name
            if not path.exists() or path.read_text() != content:  # the dashboard re-diagnoses every second
                write_private(path, content)
            commands = [re.sub(rf"={re.escape(name)}(?=[\s']|$)", lambda _m: f"={path}", c) for c in commands]
            changes = [replace(ch, value=str(path)) if ch.value == name else ch for ch in changes]
        caveats = tuple(c.replace(f"as {finding.attachments[0][0]}", f"as {directory / finding.attachments[0][0]}") for c in finding.caveats)
        out.append(replace(finding, commands=tuple(commands), changes=tuple(changes), caveats=caveats))
    return out


def fill_placeholders(
    change: ConfigChange, values: dict[str, str], prompt: Prompt | None
) -> ConfigChange | None:
    """The change with ``<name>`` placeholders filled, or ``None`` if a value is missing."""
    if not change.placeholders:
        return change
    value = change.value or ""
    for name in change.placeholders:
        filled = values.get(name) or os.environ.get("NPM_INSPECT_FIX_" + name.upper().replace("-", "_"))
        if filled is None and prompt is not None:
            filled = prompt(name, name in SECRET_PLACEHOLDERS)
        if not filled:
            return None
        if change.key in ("proxy", "https-proxy") and name in ("user", "password"):
            from urllib.parse import quote

            filled = quote(filled, safe="")
        value = value.replace(f"<{name}>", filled)
    return replace(change, value=value)


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


def verify_fixes(
    findings: list[Finding],
    argv: list[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    upstream: str | None = None,
    upstream_source: str = "--upstream",
    upstream_password: str | None = None,
    decrypt: bool = True,
    values: dict[str, str] | None = None,
    prompt: Prompt | None = None,
    output: Callable[[str], None] | None = None,
) -> list[FixOutcome]:
    """Try each finding's config changes on a temporary copy and re-run npm through the inspector."""
    from .runner import RunRequest, run

    base_env = dict(os.environ if env is None else env)
    raw = read_npm_config(cwd=cwd, env=base_env, npm_args=argv[1:])
    user_file = next((layer.path for layer in raw.layers if layer.name == "user"), None)
    original = Path(user_file).read_text() if user_file and Path(user_file).exists() else ""
    outcomes: list[FixOutcome] = []
    for finding in findings:
        if not finding.changes:
            continue
        filled = [fill_placeholders(change, values or {}, prompt) for change in finding.changes]
        if any(change is None for change in filled):
            missing = sorted({p for c in finding.changes for p in c.placeholders})
            outcomes.append(
                FixOutcome(
                    finding.rule,
                    finding.title,
                    [],
                    None,
                    note="needs " + ", ".join(f"<{m}>" for m in missing) + ": pass --fix-value "
                    + " ".join(f"{m}=…" for m in missing) + " or set " + ", ".join(f"NPM_INSPECT_FIX_{m.upper()}" for m in missing),
                )
            )
            continue
        changes = [c for c in filled if c is not None]
        workdir = Path(tempfile.mkdtemp(prefix="npm-inspect-fix-"))
        try:
            userconfig = workdir / "userconfig.npmrc"
            fd = os.open(userconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(apply_to_npmrc(original, changes, raw))
            child_env = changed_environment(changes, raw, userconfig, base_env)
            touches_proxy = any(c.key in ("proxy", "https-proxy") for c in changes)
            result = run(
                RunRequest(
                    argv=argv,
                    upstream=None if touches_proxy else upstream,
                    upstream_source=upstream_source,
                    upstream_password=None if touches_proxy else upstream_password,
                    decrypt=decrypt,
                    cwd=cwd,
                    env=child_env,
                ),
                capture_output=output or (lambda line: None),
            )
            outcomes.append(
                FixOutcome(
                    finding.rule,
                    finding.title,
                    [masked_command(c) for c in changes],
                    result.exit_code == 0,
                    result.exit_code,
                )
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def masked_command(change: ConfigChange) -> str:
    """The command a change runs, safe to show: URL passwords masked, token shapes scrubbed."""
    from .redact import redact_url

    if change.action == "set" and change.value and "://" in change.value:
        change = replace(change, value=redact_url(change.value))
    return redact_text(change.command)
