"""Running demo scenarios headless (a JSON report, optionally with the fix applied), and the demo's fix.

Applying a fix writes only the demo's own temporary npm config: the same
change the finding proposes, with the placeholders filled by values the demo
knows (a user would type their own password or token).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnose import Finding
from ..fixes import apply_to_npmrc, fill_placeholders, masked_command
from ..lab.scenarios import SCENARIOS, Scenario
from ..lab.world import DemoLab, DemoWorld
from ..lifecycle import SessionLifecycle
from ..npmconfig import read_npm_config
from ..records import Exchange
from ..report import json_report
from ..runner import RunRequest
from ..session import SessionInfo, SessionStore

RECORDINGS = Path(__file__).resolve().parents[1] / "lab" / "recordings"


def npm_available() -> bool:
    return shutil.which("npm") is not None


@dataclass
class AppliedFix:
    rule: str
    commands: list[str]
    """What was applied, secrets masked."""


def fixable(findings: list[Finding]) -> Finding | None:
    """The top finding that carries config changes."""
    return next((f for f in findings if f.changes), None)


def apply_fix(world: DemoWorld, findings: list[Finding]) -> AppliedFix | None:
    """Apply the top finding's changes to the demo's npm config; ``None`` when there is nothing to apply."""
    finding = fixable(findings)
    if finding is None:
        return None
    values = world.fix_values()
    changes = [fill_placeholders(change, values, None) for change in finding.changes]
    if any(change is None for change in changes):
        return None
    ready = [c for c in changes if c is not None]
    raw = read_npm_config(cwd=str(world.project), env=world.npm_env())
    world.userconfig.write_text(apply_to_npmrc(world.userconfig.read_text(), ready, raw))
    return AppliedFix(finding.rule, [masked_command(c) for c in ready])


@dataclass
class HeadlessResult:
    scenario: Scenario
    info: SessionInfo
    exchanges: list[Exchange]
    findings: list[Finding]
    fix: dict[str, Any] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def report(self) -> dict[str, Any]:
        return json_report(self.info, self.exchanges, self.findings, run=1)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "scenario": self.scenario.name,
            "title": self.scenario.title,
            "expected": {"rule": self.scenario.expected_rule, "hop": self.scenario.expected_hop},
            "report": self.report,
        }
        if self.fix is not None:
            data["fix"] = self.fix
        return data


def session_for(world: DemoWorld, store: SessionStore | None = None) -> SessionLifecycle:
    """A session over one demo world (its npm config, its corporate proxy), saving attachments in the world."""
    request = RunRequest(argv=world.argv, cwd=str(world.project), env=world.npm_env())
    return SessionLifecycle(request, store, attachments_dir=world.dir / "saved")


def run_headless(lab: DemoLab, scenario: Scenario, *, apply: bool = False) -> HeadlessResult:
    """Run one scenario with the real npm; with ``apply``, apply the fix and run npm again (the session's run 2)."""
    world = lab.world(scenario).start()
    session = session_for(world)
    output: list[str] = []
    fix: dict[str, Any] | None = None
    try:
        session.start()
        first = session.run_blocking(capture_output=output.append)
        findings = session.diagnose(first.number).findings
        if apply:
            applied = apply_fix(world, findings)
            if applied is None:
                fix = {"rule": None, "applied": [], "exit": first.exit_code, "passed": first.exit_code == 0, "note": "nothing to fix"}
            else:
                second = session.run_blocking(capture_output=output.append)  # reads the demo's changed config again
                fix = {
                    "rule": applied.rule,
                    "applied": applied.commands,
                    "exit": second.exit_code,
                    "passed": second.exit_code == 0,
                    "findings_after": [f.rule for f in session.diagnose(second.number).findings],
                }
    finally:
        session.stop()
        world.stop()
    exchanges = [e for e in session.store.exchanges() if e.run == first.number]
    return HeadlessResult(scenario, session.info, exchanges, findings, fix=fix, output=output)


def scenario_names() -> list[str]:
    return [s.name for s in SCENARIOS]


def recording(name: str) -> Path:
    return RECORDINGS / f"{name}.jsonl"
