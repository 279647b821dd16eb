"""The dashboard's fix loop: ``R`` runs npm again, ``x`` tries a finding's fix, ``w`` writes a tried fix.

The loop's logic lives in :mod:`inspector.fixes` (temporary copies, the write plan, backups) and the
session's runs in :class:`~inspector.lifecycle.SessionLifecycle`; this module asks the user (values,
confirmations) and shows the result. Typed values stay in memory; what is shown is masked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..diagnose import ConfigChange, Finding
from ..errors import InspectorError
from ..fixes import SECRET_PLACEHOLDERS, apply_write, fill_changes, make_trial, plan_writes
from ..session import RunRecord
from .screens import ConfirmScreen, ValuesScreen, WriteScreen

if TYPE_CHECKING:
    from .app import InspectorApp


@dataclass
class TriedFix:
    """A fix ``x`` tried: its filled changes (memory only), the run that tried it, and whether the finding went."""

    finding: Finding
    changes: list[ConfigChange] = field(repr=False)
    record: RunRecord
    gone: bool
    written: bool = False

    @property
    def passed(self) -> bool:
        return self.record.exit_code == 0

    def verdict(self) -> str:
        outcome = "the finding is gone" if self.gone else "the finding is still there"
        return f"{self.record.summary()} — {outcome}"


def _key(finding: Finding) -> tuple[str, str]:
    return finding.rule, finding.title


class FixLoop:
    """``R``, ``x`` and ``w`` for one dashboard (see the module docstring)."""

    def __init__(self, app: InspectorApp) -> None:
        self.app = app
        self.tried: dict[tuple[str, str], TriedFix] = {}
        self.last: TriedFix | None = None
        self.written: list = []
        """The write plans of the last ``w`` (for tests and the status line)."""

    # -- checks ---------------------------------------------------------------------------------------

    def _live(self, what: str) -> bool:
        app = self.app
        session = app.session
        if session is None:
            app.notify(f"{what} needs a live session: npm-inspect -- npm install …", severity="warning")
            return False
        if session.running:
            app.notify("npm is still running: wait for it to finish (q stops it).", severity="warning")
            return False
        if not session.has_npm_command:
            app.notify(f"{what} needs an npm command: npm-inspect -- npm install …", severity="warning")
            return False
        return True

    # -- R ----------------------------------------------------------------------------------------------

    async def rerun(self) -> RunRecord | None:
        if not self._live("Running npm again"):
            return None
        worker = self.app._run_npm()
        await worker.wait()
        return worker.result

    # -- x ----------------------------------------------------------------------------------------------

    async def values_for(self, finding: Finding, known: dict[str, str] | None = None) -> dict[str, str] | None:
        """Ask for the placeholders the finding's changes need (secrets in masked fields); ``None``: cancelled."""
        names = [p for p in dict.fromkeys(p for c in finding.changes for p in c.placeholders) if p not in (known or {})]  # as they read: <user> before <password>
        if not names:
            return dict(known or {})
        answer = await self.app.push_screen_wait(
            ValuesScreen(f"Values for the fix of {finding.rule}:", names, [n for n in names if n in SECRET_PLACEHOLDERS])
        )
        return None if answer is None else {**(known or {}), **answer}

    async def verify(self, finding: Finding | None, values: dict[str, str] | None = None) -> TriedFix | None:
        """Try the finding's changes on a temporary copy of npm's config: npm runs again through this inspector."""
        app = self.app
        if finding is None or not finding.changes:
            app.notify("Select a finding that proposes a config change (f, then ↑ ↓).", severity="warning")
            return None
        if not self._live("Trying a fix"):
            return None
        session = app.session
        assert session is not None
        filled = await self.values_for(finding, values)
        if filled is None:
            return None
        changes = fill_changes(finding, filled, None)
        if changes is None:
            app.notify("The fix needs a value that was not given.", severity="warning")
            return None
        trial = await asyncio.to_thread(make_trial, finding, changes, session)
        try:
            app.notify(f"Trying: {trial.label}", title=f"Run {len(session.runs) + 1}")
            worker = app._run_npm(trial)
            await worker.wait()
            record: RunRecord | None = worker.result
        finally:
            await asyncio.to_thread(trial.cleanup)
        if record is None:
            return None
        diagnosis = await asyncio.to_thread(session.diagnose, record.number)
        tried = TriedFix(finding, changes, record, gone=finding.rule not in {f.rule for f in diagnosis.findings})
        self.tried[_key(finding)] = tried
        self.last = tried
        hint = " Press w to write it to your config." if tried.passed else ""
        unproven = "".join(f"\nNot proven by this run: {c.key} ({why})" for c, why in trial.unverifiable)
        app.findings_panel.set_fix_status(f"Tried: {trial.label}\n{tried.verdict()}.{' w writes it.' if tried.passed else ''}{unproven}", ok=tried.passed)
        app.notify(tried.verdict() + "." + hint, title="Fix tried", severity="information" if tried.passed else "warning", timeout=20)
        return tried

    # -- w ----------------------------------------------------------------------------------------------

    def _to_write(self) -> tuple[Finding | None, TriedFix | None]:
        """The highlighted finding's tried fix; else the last passing one (run 2's findings may be empty)."""
        finding = self.app.findings_panel.highlighted
        if finding is not None and _key(finding) in self.tried:
            return finding, self.tried[_key(finding)]
        if self.last is not None and self.last.passed and not self.last.written and (finding is None or not finding.changes):
            return self.last.finding, self.last
        return finding, None

    async def write(self) -> bool:
        """Write a fix to the file and layer it names: lines shown (masked), a timestamped backup, confirmation."""
        app = self.app
        session = app.session
        if session is None or session.prep is None:
            app.notify("Writing a fix needs a live session: npm-inspect -- npm install …", severity="warning")
            return False
        finding, tried = self._to_write()
        if finding is None or not finding.changes:
            app.notify("Nothing to write: try a finding's fix first (x).", severity="warning")
            return False
        if tried is None or not tried.passed:
            why = "has not been tried" if tried is None else f"did not make npm succeed ({tried.record.summary()})"
            first = await app.push_screen_wait(
                ConfirmScreen(f"This fix {why}: x tries it on a temporary copy first.\nWrite it to your config anyway?", yes="Write it untried (y)")
            )
            if not first or not await app.push_screen_wait(
                ConfirmScreen("Sure? An untried fix may make things worse; a backup of the file is kept.", yes="Yes, write it (y)")
            ):
                return False
            values = await self.values_for(finding, None)
            changes = fill_changes(finding, values, None) if values is not None else None
            if changes is None:
                return False
        else:
            changes = tried.changes
        everything = await asyncio.to_thread(plan_writes, finding, changes, session)
        plans = [p for p in everything if p.unsupported is None]  # the tool keeps some settings in no file (bun's proxies)
        refused = [p for p in plans if p.refused]
        text = f"Write the fix for {finding.rule}:\n"
        for plan in plans:
            lines = "\n".join(f"  {line}" for line in plan.shown)
            text += f"\ninto {plan.described}\n{lines}\n"
        for plan in (p for p in everything if p.unsupported is not None):
            text += f"\nNot written — {plan.unsupported}\n" + "".join(f"  {line}\n" for line in plan.shown)
        for plan in refused:
            env_lines = "\n".join(f"  {line}" for line in plan.env_shown)
            exports = " ".join(f"{name}=…" for name in plan.env_vars)
            text += f"\n{plan.refused}\n" + (f"With ${{VAR}}:\n{env_lines}\nthen: export {exports}\n" if plan.env_changes else "")
        if plans:
            text += "\nEach file is backed up first (" + ", ".join(p.backup.name for p in plans if p.backup) + ")."
        can_use_env = bool(refused) and all(p.env_changes is not None for p in refused)
        answer = await app.push_screen_wait(WriteScreen(text, can_write=bool(plans) and not refused, can_use_env=can_use_env))
        if answer is None:
            return False
        backups = []
        try:
            for plan in plans:
                backup = await asyncio.to_thread(apply_write, plan, session.raw, use_env=answer == "env" and plan.refused is not None)
                if backup is not None:
                    backups.append(str(backup))
        except (OSError, InspectorError) as e:
            app.notify(f"Not written: {getattr(e, 'strerror', None) or e}", severity="error", timeout=15)
            return False
        if tried is not None:
            tried.written = True
        where = ", ".join(str(p.path) for p in plans)
        kept = f" (backup: {', '.join(backups)})" if backups else ""
        exports = f" Export {', '.join(n for p in refused for n in p.env_vars)} before npm runs." if answer == "env" else ""
        self.written = plans
        app.notify(f"Written to {where}{kept}.{exports} R runs npm with it.", title="Fix written", timeout=20)
        app.findings_panel.set_fix_status(f"Written to {where}{kept}. R runs npm with your config.", ok=True)
        return True
