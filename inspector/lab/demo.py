"""Running demo scenarios: headless (a JSON report, optionally with the fix applied) or in the dashboard.

Applying a fix writes only the demo's own temporary npm config: the same
change the finding proposes, with the placeholders filled by values the demo
knows (a user would type their own password or token).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnose import Finding, diagnose
from ..fixes import apply_to_npmrc, fill_placeholders, masked_command, save_attachments
from ..npmconfig import read_npm_config
from ..report import json_report
from ..runner import RunRequest, run
from ..records import Exchange
from ..session import SessionInfo, SessionStore
from .scenarios import SCENARIOS, Scenario
from .world import DemoLab, DemoWorld

RECORDINGS = Path(__file__).resolve().parent / "recordings"


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


def findings_for(world: DemoWorld, store: SessionStore, snapshot, info: SessionInfo | None = None) -> list[Finding]:
    outcome, source = (info.outcome(), info.upstream_source) if info is not None else (None, None)
    return save_attachments(diagnose(store.exchanges(), snapshot, outcome, source), world.dir / "saved")


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
        return json_report(self.info, self.exchanges, self.findings)

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


def run_headless(lab: DemoLab, scenario: Scenario, *, apply: bool = False) -> HeadlessResult:
    """Run one scenario with the real npm; with ``apply``, apply the fix and run npm again."""
    world = lab.world(scenario).start()
    try:
        output: list[str] = []
        store = SessionStore()
        request = RunRequest(argv=world.argv, cwd=str(world.project), env=world.npm_env())
        result = run(request, store, capture_output=output.append)
        findings = findings_for(world, store, result.snapshot, result.info)
        headless = HeadlessResult(scenario, result.info, store.exchanges(), findings, output=output)
        if apply:
            applied = apply_fix(world, findings)
            if applied is None:
                headless.fix = {"rule": None, "applied": [], "exit": result.exit_code, "passed": result.exit_code == 0, "note": "nothing to fix"}
            else:
                again = SessionStore()
                second = run(request, again, capture_output=output.append)
                remaining = [f.rule for f in diagnose(again.exchanges(), second.snapshot, second.outcome, second.info.upstream_source)]
                headless.fix = {
                    "rule": applied.rule,
                    "applied": applied.commands,
                    "exit": second.exit_code,
                    "passed": second.exit_code == 0,
                    "findings_after": remaining,
                }
        return headless
    finally:
        world.stop()


def scenario_names() -> list[str]:
    return [s.name for s in SCENARIOS]


def recording(name: str) -> Path:
    return RECORDINGS / f"{name}.jsonl"
