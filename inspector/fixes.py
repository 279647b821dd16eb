"""Applying a finding's config changes — to temporary copies only — and proving they fix the tool.

``npm-inspect run --verify-fix``, the dashboard's ``x`` and the demo's fix key use
this. The tool's adapter (:mod:`inspector.clients`) applies the changes to private
temporary copies of the tool's own config (npm: a copy of the user ``.npmrc`` as
``npm_config_userconfig``, set values also as ``npm_config_*`` so they beat a
project ``.npmrc``; yarn berry: ``YARN_*`` variables and a copy of the home
``.yarnrc.yml``; bun: variables, ``--cafile`` and a copy of the global bunfig…),
and the tool is re-run through the same inspector with them. Nothing the user owns
is written. Changes a copy cannot prove are reported as unverifiable.

``w`` writes a tried fix into the tool's own file (the adapter's ``write_target``),
after a backup, with the same git-tracked-secret refusal for every tool.

Placeholders such as ``<password>`` are filled from ``--fix-value NAME=VALUE``,
then ``NPM_INSPECT_FIX_<NAME>``, then a hidden prompt on a terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from .clients import ClientAdapter, RawClientConfig, adapter_for
from .clients.common import resolved_value
from .clients.writes import WriteTarget, edit_text, line_for
from .diagnose import ConfigChange, Finding
from .diagnose.tools import tool_name
from .errors import SecretLeakError
from .npmconfig import RawNpmConfig
from .npmrcfile import apply_to_npmrc, changed_environment
from .output import write_private
from .paths import private_dir
from .redact import mask, redact_text, redact_url

__all__ = [
    "FixOutcome",
    "FixTarget",
    "FixTrial",
    "WritePlan",
    "apply_to_npmrc",
    "apply_write",
    "changed_environment",
    "fill_changes",
    "fill_placeholders",
    "make_trial",
    "masked_command",
    "masked_step",
    "plan_writes",
    "save_attachments",
    "verify_fixes",
]

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
            filled = quote(filled, safe="")
        value = value.replace(f"<{name}>", filled)
    return replace(change, value=value)


@dataclass
class FixTrial:
    """One finding's config changes on temporary copies of the tool's config, for one run through the same inspector.

    ``changes`` hold the filled values (a typed password): memory only. ``env``/``unset_env``/``argv`` are what that
    run changes in the tool's environment and command line (the adapter's ``apply_to_copy``: npm's
    ``npm_config_userconfig`` copy, yarn berry's ``YARN_*`` and temporary ``HOME``, bun's ``--cafile``…); the proxy
    and CA stay the inspector's. The user's own files are never touched.
    """

    rule: str
    title: str
    changes: list[ConfigChange]
    env: dict[str, str] = field(repr=False)
    workdir: Path | None
    unset_env: tuple[str, ...] = ()
    argv: list[str] | None = field(default=None, repr=False)
    """The command line for the run (``None``: the user's own)."""
    steps: list[str] = field(default_factory=list)
    """The changes in the tool's own syntax, secrets masked (shown, journaled, reported)."""
    unverifiable: list[tuple[ConfigChange, str]] = field(default_factory=list)
    """Changes a copy could not apply (and why): the run does not prove them."""

    @property
    def label(self) -> str:
        """The changes applied, secrets masked (shown, journaled, reported)."""
        return "; ".join(self.steps or [masked_command(c) for c in self.changes])

    @property
    def touches_proxy(self) -> bool:
        return any(c.key in ("proxy", "https-proxy") for c in self.changes)

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


class FixTarget(Protocol):
    """What a fix is tried on and written to: a live session (:class:`inspector.lifecycle.SessionLifecycle`)."""

    @property
    def adapter(self) -> ClientAdapter: ...

    @property
    def client(self) -> RawClientConfig: ...

    @property
    def argv(self) -> list[str]: ...

    def base_env(self) -> dict[str, str]: ...


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


def make_trial(finding: Finding, changes: list[ConfigChange], target: FixTarget) -> FixTrial:
    """Apply ``changes`` to temporary copies of the tool's config through its adapter (see :class:`FixTrial`)."""
    adapter = target.adapter
    copy = adapter.apply_to_copy(changes, target.client, target.argv, env=target.base_env())
    injection = copy.injection
    return FixTrial(
        finding.rule,
        finding.title,
        changes,
        dict(injection.set_env),
        injection.workdir,
        unset_env=tuple(injection.unset_env),
        argv=list(injection.argv),
        steps=[masked_step(adapter, c) for c in changes],
        unverifiable=list(copy.unverifiable),
    )


class RunsNpm(FixTarget, Protocol):
    """What verifying needs of a session (:class:`inspector.lifecycle.SessionLifecycle`)."""

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
    """Try each finding's config changes on temporary copies: one more run of the tool through the same inspector each."""
    outcomes: list[FixOutcome] = []
    for finding in findings:
        if not finding.changes:
            continue
        changes = fill_changes(finding, values or {}, prompt)
        if changes is None:
            outcomes.append(FixOutcome(finding.rule, finding.title, [], None, note=missing_note(finding)))
            continue
        trial = make_trial(finding, changes, session)
        try:
            record = session.run_blocking(capture_output=output or (lambda text: None), fix=trial)
        finally:
            trial.cleanup()
        remaining = [f.rule for f in session.diagnose(record.number).findings]
        note = "; ".join(f"not proven by this run: {c.key} — {why}" for c, why in trial.unverifiable)
        outcomes.append(
            FixOutcome(
                finding.rule,
                finding.title,
                list(trial.steps),
                record.exit_code == 0,
                record.exit_code,
                note=note,
                run=record.number,
                remaining=remaining,
            )
        )
    return outcomes


def _masked_change(change: ConfigChange) -> ConfigChange:
    """The change with its secret masked: a URL's password, a token (whose key names it: the tools' syntaxes put
    key and value apart, where no token-shape scrubbing can tell a value from a word)."""
    if change.action == "set" and change.value and change.key.rpartition(":")[2] in _SECRET_KEYS and not change.placeholders:
        return replace(change, value=mask(change.value))
    if change.action == "set" and change.value and "://" in change.value:
        return replace(change, value=redact_url(change.value))
    return change


def masked_command(change: ConfigChange) -> str:
    """The npm command a change runs, safe to show: URL passwords masked, token shapes scrubbed."""
    return redact_text(_masked_change(change).command)


def masked_step(adapter: ClientAdapter, change: ConfigChange) -> str:
    """The change in the tool's own syntax (one line), safe to show: URL passwords masked, token shapes scrubbed."""
    step = adapter.fix_step(_masked_change(change))
    text = step.text if step.supported else f"({tool_name(step.tool)} cannot: {change.key})"
    return redact_text(" ".join(text.split()))


# -- writing a fix to the user's own config ------------------------------------------------------------

_SECRET_KEYS = ("_authToken", "_auth", "_password")
ENV_FOR_PLACEHOLDER = {"password": "NPM_PROXY_PASSWORD", "token": "NPM_TOKEN"}


@dataclass
class WritePlan:
    """What ``w`` would write: the file and layer a finding names, the exact lines, a backup, and any refusal.

    The file is the tool's own (the adapter's ``write_target``: ``.npmrc``, pnpm's ``auth.ini`` or
    ``pnpm-workspace.yaml``, ``.yarnrc``, ``.yarnrc.yml``, ``bunfig.toml``), in that file's format and key names.
    ``lines`` are the real lines (may hold a typed password: memory only); ``shown`` the same lines with
    secrets masked, for the confirmation. When the file is a project file that git tracks and a line
    holds a secret, ``refused`` says why and ``env_changes`` offers the same change with ``${VAR}`` instead
    (npm, pnpm and yarn berry expand ``${VAR}``, bun ``$VAR``), to be exported by the user. ``unsupported``:
    the tool keeps this setting in no file (bun's proxies live in the environment only); nothing is written.
    """

    path: Path | None
    layer: str
    changes: list[ConfigChange] = field(repr=False)
    lines: list[str] = field(repr=False)
    shown: list[str]
    backup: Path | None
    refused: str | None = None
    env_changes: list[ConfigChange] | None = field(default=None, repr=False)
    env_vars: dict[str, str] = field(default_factory=dict, repr=False)
    """``${VAR}`` name → the secret it stands for (for the user to export; never written)."""
    tool: str = "npm"
    format: str = "npmrc"
    targets: dict[str, WriteTarget] = field(default_factory=dict, repr=False)
    """npm key → where and under which name the tool keeps it."""
    unsupported: str | None = None

    @property
    def env_shown(self) -> list[str]:
        return [line_for(self.targets[c.key], c.value) if c.key in self.targets else f"{c.key}={c.value}"
                for c in self.env_changes or () if c.action == "set"]

    @property
    def described(self) -> str:
        """``the project pnpm config /p/pnpm-workspace.yaml``."""
        return f"the {self.layer} {tool_name(self.tool)} config {self.path}"


def _secret_in(change: ConfigChange) -> bool:
    if change.key.rpartition(":")[2] in _SECRET_KEYS:
        return True
    return bool(change.value) and redact_text(change.value) != change.value


def _with_env_reference(change: ConfigChange, original: ConfigChange, env_vars: dict[str, str], reference: str = "${%s}") -> ConfigChange:
    """The change with its secret part replaced by ``${VAR}`` (``reference``: the file's form); ``env_vars`` learns VAR → secret."""
    value = change.value or ""
    if "://" in value:
        parts = urlsplit(value)
        userinfo, _, host = parts.netloc.rpartition("@")
        user, sep, secret = userinfo.partition(":")
        if sep and secret:
            name = ENV_FOR_PLACEHOLDER["password"]
            env_vars[name] = unquote(secret)
            return replace(change, value=value.replace(f"{userinfo}@", f"{user}:{reference % name}@", 1))
    placeholder = next((p for p in original.placeholders if p in ENV_FOR_PLACEHOLDER), "token")
    name = ENV_FOR_PLACEHOLDER.get(placeholder, "NPM_TOKEN")
    env_vars[name] = value
    return replace(change, value=reference % name)


def _masked_value(change: ConfigChange, value: str | None) -> str | None:
    """A value as the confirmation shows it: URL passwords and token values masked."""
    if value is None:
        return None
    if change.key.rpartition(":")[2] in _SECRET_KEYS:
        return mask(value)
    return redact_url(value) if "://" in value else redact_text(value)


def git_tracks(path: Path) -> bool:
    """True when ``path`` is a file git tracks (its secrets would be committed and pushed)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(path.parent), "ls-files", "--error-unmatch", path.name], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def plan_writes(finding: Finding, changes: list[ConfigChange], target: FixTarget, *, now: float | None = None) -> list[WritePlan]:
    """The writes of ``changes`` (placeholders filled): one per file of the tool's that the changes belong in."""
    adapter, config = target.adapter, target.client
    groups: dict[tuple[str, str], list[tuple[ConfigChange, ConfigChange, WriteTarget]]] = {}
    for change, original in zip(changes, finding.changes):
        where = adapter.write_target(change, config)
        key = (str(where.path), where.format) if where.unsupported is None else ("", change.key)
        groups.setdefault(key, []).append((change, original, where))
    return [_plan(items, config, now) for items in groups.values()]


def _plan(items: list[tuple[ConfigChange, ConfigChange, WriteTarget]], config: RawClientConfig, now: float | None) -> WritePlan:
    raw = config.raw
    changes = [c for c, _, _ in items]
    targets = {c.key: where for c, _, where in items}
    first, where = changes[0], items[0][2]
    if where.unsupported is not None or where.path is None:
        step = config_step_text(first, config)
        return WritePlan(None, first.location, changes, [], [step] if step else [], None, tool=config.tool, targets=targets,
                         unsupported=where.unsupported or "no file holds this setting")
    path = where.path
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    lines = [line_for(targets[c.key], resolved_value(c, raw)) for c in changes]
    shown = [line_for(targets[c.key], _masked_value(c, resolved_value(c, raw))) for c in changes]
    plan = WritePlan(path, first.location, changes, lines, shown, path.with_name(f"{path.name}.npm-inspect-backup-{stamp}"),
                     tool=config.tool, format=where.format, targets=targets)
    secret = [c for c in changes if _secret_in(c) or c.action == "copy"]
    if first.location == "project" and secret and path.exists() and git_tracks(path):
        if where.env_reference:
            plan.refused = (
                f"{path} is tracked by git: a secret written there would be committed. Write it as "
                f"{where.env_reference % 'VAR'} ({tool_name(config.tool)} reads the variable from the environment) and "
                "export the variable in your shell or CI instead."
            )
            plan.env_changes = [
                _with_env_reference(c, original, plan.env_vars, where.env_reference) if (_secret_in(c) and c.action == "set") else c
                for c, original, _ in items
            ]
        else:
            plan.refused = (
                f"{path} is tracked by git: a secret written there would be committed, and {tool_name(config.tool)} reads no "
                "environment variable in that file. Write the fix to your user config instead (the same change without "
                "--location project)."
            )
    return plan


def config_step_text(change: ConfigChange, config: RawClientConfig) -> str:
    """What the user does instead when no file can hold a change (bun: ``export HTTPS_PROXY=…``), masked."""
    return masked_step(adapter_for(config.tool), change)


def apply_write(plan: WritePlan, raw: RawNpmConfig, *, use_env: bool = False) -> Path | None:
    """Back the file up (owner-only), then write the changes into it. Returns the backup (``None``: no file before).

    A refused plan is only written in its ``${VAR}`` form (``use_env``); an unsupported one is never written.
    """
    if plan.unsupported is not None or plan.path is None or plan.backup is None:
        raise SecretLeakError(plan.unsupported or "nothing to write")  # the caller offers only writable plans
    if plan.refused and not (use_env and plan.env_changes is not None):
        raise SecretLeakError(plan.refused)
    changes = plan.env_changes if use_env and plan.env_changes is not None else plan.changes
    target = plan.path.resolve()  # a symlinked config file (dotfiles) stays a symlink
    original = target.read_text() if target.is_file() else None
    backup = None
    if original is not None:
        backup = write_private(plan.backup, original)
    mode = stat.S_IMODE(target.stat().st_mode) if original is not None else 0o600
    if plan.format == "npmrc":
        text = apply_to_npmrc(original or "", changes, raw)
    else:
        edits = [(plan.targets[c.key].key, resolved_value(c, raw)) for c in changes]
        text = edit_text(plan.format, original or "", edits, path=target)  # type: ignore[arg-type]
    if not target.parent.exists():
        target.parent.mkdir(parents=True, mode=0o700)
    write_private(target, text)
    os.chmod(target, mode)  # the user's file keeps the mode it had
    return backup
