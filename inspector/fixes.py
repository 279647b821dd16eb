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
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from .diagnose import ConfigChange, Finding
from .errors import SecretLeakError
from .npmconfig import RawNpmConfig
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
    run: int | None = None
    """The session's run that tried the fix."""
    remaining: list[str] = field(default_factory=list)
    """Rules still found in that run (the finding itself is gone when its rule is not among them)."""

    @property
    def gone(self) -> bool | None:
        return None if self.passed is None else self.rule not in self.remaining

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "title": self.title,
            "applied": self.applied,
            "passed": self.passed,
            "exit": self.exit_code,
            "note": self.note,
            "run": self.run,
            "remaining": self.remaining,
            "gone": self.gone,
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


@dataclass
class FixTrial:
    """One finding's config changes on a temporary copy of npm's config, for one run through the same inspector.

    ``changes`` hold the filled values (a typed password): memory only. ``env`` is what that run adds to npm's
    environment — ``npm_config_userconfig`` pointing at the copy, and the set values as ``npm_config_*`` so they
    beat a project ``.npmrc``. The user's own files are never touched.
    """

    rule: str
    title: str
    changes: list[ConfigChange]
    env: dict[str, str] = field(repr=False)
    workdir: Path

    @property
    def label(self) -> str:
        """The commands applied, secrets masked (shown, journaled, reported)."""
        return "; ".join(masked_command(c) for c in self.changes)

    @property
    def touches_proxy(self) -> bool:
        return any(c.key in ("proxy", "https-proxy") for c in self.changes)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def fill_changes(finding: Finding, values: dict[str, str], prompt: Prompt | None) -> list[ConfigChange] | None:
    """The finding's changes with every placeholder filled, or ``None`` when a value is missing."""
    filled = [fill_placeholders(change, values, prompt) for change in finding.changes]
    return None if any(change is None for change in filled) else [c for c in filled if c is not None]


def missing_note(finding: Finding) -> str:
    missing = sorted({p for c in finding.changes for p in c.placeholders})
    return (
        "needs " + ", ".join(f"<{m}>" for m in missing) + ": pass --fix-value " + " ".join(f"{m}=…" for m in missing)
        + " or set " + ", ".join(f"NPM_INSPECT_FIX_{m.upper()}" for m in missing)
    )


def make_trial(finding: Finding, changes: list[ConfigChange], raw: RawNpmConfig) -> FixTrial:
    """Copy npm's user config to a private temporary file and apply ``changes`` there (see :class:`FixTrial`)."""
    user_file = next((layer.path for layer in raw.layers if layer.name == "user"), None)
    original = Path(user_file).read_text() if user_file and Path(user_file).is_file() else ""
    workdir = Path(tempfile.mkdtemp(prefix="npm-inspect-fix-"))
    try:
        userconfig = write_private(workdir / "userconfig.npmrc", apply_to_npmrc(original, changes, raw))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return FixTrial(finding.rule, finding.title, changes, changed_environment(changes, raw, userconfig, {}), workdir)


class RunsNpm(Protocol):
    """What verifying needs of a session (:class:`inspector.lifecycle.SessionLifecycle`)."""

    @property
    def raw(self) -> RawNpmConfig: ...

    def run_blocking(self, *, capture_output: Callable[[str], None] | None = None, fix: FixTrial | None = None): ...

    def diagnose(self, run: int | None = None): ...


def verify_fixes(
    session: RunsNpm,
    findings: list[Finding],
    *,
    values: dict[str, str] | None = None,
    prompt: Prompt | None = None,
    output: Callable[[str], None] | None = None,
) -> list[FixOutcome]:
    """Try each finding's config changes on a temporary copy: one more run of npm through the same inspector each."""
    outcomes: list[FixOutcome] = []
    for finding in findings:
        if not finding.changes:
            continue
        changes = fill_changes(finding, values or {}, prompt)
        if changes is None:
            outcomes.append(FixOutcome(finding.rule, finding.title, [], None, note=missing_note(finding)))
            continue
        trial = make_trial(finding, changes, session.raw)
        try:
            record = session.run_blocking(capture_output=output or (lambda text: None), fix=trial)
        finally:
            trial.cleanup()
        remaining = [f.rule for f in session.diagnose(record.number).findings]
        outcomes.append(
            FixOutcome(
                finding.rule,
                finding.title,
                [masked_command(c) for c in changes],
                record.exit_code == 0,
                record.exit_code,
                run=record.number,
                remaining=remaining,
            )
        )
    return outcomes


def masked_command(change: ConfigChange) -> str:
    """The command a change runs, safe to show: URL passwords masked, token shapes scrubbed."""
    from .redact import redact_url

    if change.action == "set" and change.value and "://" in change.value:
        change = replace(change, value=redact_url(change.value))
    return redact_text(change.command)


# -- writing a fix to the user's own config ------------------------------------------------------------

_SECRET_KEYS = ("_authToken", "_auth", "_password")
ENV_FOR_PLACEHOLDER = {"password": "NPM_PROXY_PASSWORD", "token": "NPM_TOKEN"}


@dataclass
class WritePlan:
    """What ``w`` would write: the file and layer a finding names, the exact lines, a backup, and any refusal.

    ``lines`` are the real lines (may hold a typed password: memory only); ``shown`` the same lines with
    secrets masked, for the confirmation. When the file is a project ``.npmrc`` that git tracks and a line
    holds a secret, ``refused`` says why and ``env_lines`` offers the same change with ``${VAR}`` instead
    (npm expands environment variables in ``.npmrc``), to be exported by the user.
    """

    path: Path
    layer: str
    changes: list[ConfigChange] = field(repr=False)
    lines: list[str] = field(repr=False)
    shown: list[str]
    backup: Path
    refused: str | None = None
    env_changes: list[ConfigChange] | None = field(default=None, repr=False)
    env_vars: dict[str, str] = field(default_factory=dict, repr=False)
    """``${VAR}`` name → the secret it stands for (for the user to export; never written)."""

    @property
    def env_shown(self) -> list[str]:
        return [f"{c.key}={c.value}" for c in self.env_changes or () if c.action == "set"]


def _secret_in(change: ConfigChange) -> bool:
    if change.key.rpartition(":")[2] in _SECRET_KEYS:
        return True
    return bool(change.value) and redact_text(change.value) != change.value


def _with_env_reference(change: ConfigChange, original: ConfigChange, env_vars: dict[str, str]) -> ConfigChange:
    """The change with its secret part replaced by ``${VAR}``; ``env_vars`` learns VAR → secret."""
    from urllib.parse import unquote, urlsplit

    value = change.value or ""
    if "://" in value:
        parts = urlsplit(value)
        userinfo, _, host = parts.netloc.rpartition("@")
        user, sep, secret = userinfo.partition(":")
        if sep and secret:
            name = ENV_FOR_PLACEHOLDER["password"]
            env_vars[name] = unquote(secret)
            return replace(change, value=value.replace(f"{userinfo}@", f"{user}:${{{name}}}@", 1))
    placeholder = next((p for p in original.placeholders if p in ENV_FOR_PLACEHOLDER), "token")
    name = ENV_FOR_PLACEHOLDER.get(placeholder, "NPM_TOKEN")
    env_vars[name] = value
    return replace(change, value=f"${{{name}}}")


def _masked_line(line: str) -> str:
    """``key=value`` as the confirmation shows it: URL passwords and token values masked."""
    from .redact import mask, redact_url

    key, _, value = line.partition("=")
    if key.rpartition(":")[2] in _SECRET_KEYS:
        return f"{key}={mask(value)}"
    return f"{key}={redact_url(value) if '://' in value else redact_text(value)}"


def git_tracks(path: Path) -> bool:
    """True when ``path`` is a file git tracks (its secrets would be committed and pushed)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(path.parent), "ls-files", "--error-unmatch", path.name], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def plan_writes(finding: Finding, changes: list[ConfigChange], raw: RawNpmConfig, *, now: float | None = None) -> list[WritePlan]:
    """The writes of ``changes`` (placeholders filled): one per npm config file the changes' layers name."""
    by_layer: dict[str, list[tuple[ConfigChange, ConfigChange]]] = {}
    for change, original in zip(changes, finding.changes):
        by_layer.setdefault(change.location, []).append((change, original))
    return [_plan(layer, pairs, raw, now) for layer, pairs in by_layer.items()]


def _plan(layer: str, pairs: list[tuple[ConfigChange, ConfigChange]], raw: RawNpmConfig, now: float | None) -> WritePlan:
    changes = [c for c, _ in pairs]
    target = next((Path(l.path) for l in raw.layers if l.name == layer and l.path), None)
    if target is None:
        base = raw.local_prefix or raw.cwd or os.getcwd()
        target = Path(base) / ".npmrc" if layer == "project" else Path.home() / ".npmrc"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    lines = [f"{c.key}={c.value}" for c in changes if c.action == "set"] + [
        f"{c.key}={raw.get(c.value or '')}" for c in changes if c.action == "copy"
    ] + [f"(delete {c.key})" for c in changes if c.action == "delete"]
    shown = [_masked_line(line) for line in lines]
    plan = WritePlan(target, layer, changes, lines, shown, target.with_name(f"{target.name}.npm-inspect-backup-{stamp}"))
    secret = [c for c in changes if _secret_in(c) or c.action == "copy"]
    if layer == "project" and secret and target.exists() and git_tracks(target):
        plan.refused = (
            f"{target} is tracked by git: a secret written there would be committed. Write it as ${{VAR}} "
            "(npm reads the variable from the environment) and export the variable in your shell or CI instead."
        )
        plan.env_changes = [
            _with_env_reference(c, original, plan.env_vars) if (_secret_in(c) and c.action == "set") else c for c, original in pairs
        ]
    return plan


def apply_write(plan: WritePlan, raw: RawNpmConfig, *, use_env: bool = False) -> Path | None:
    """Back the file up (owner-only), then write the changes into it. Returns the backup (``None``: no file before).

    A refused plan is only written in its ``${VAR}`` form (``use_env``).
    """
    if plan.refused and not use_env:
        raise SecretLeakError(plan.refused)
    changes = plan.env_changes if use_env and plan.env_changes is not None else plan.changes
    target = plan.path.resolve()  # a symlinked .npmrc (dotfiles) stays a symlink
    original = target.read_text() if target.is_file() else None
    backup = None
    if original is not None:
        backup = write_private(plan.backup, original)
    mode = stat.S_IMODE(target.stat().st_mode) if original is not None else 0o600
    write_private(target, apply_to_npmrc(original or "", changes, raw))
    os.chmod(target, mode)  # the user's file keeps the mode it had
    return backup
