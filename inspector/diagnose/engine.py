"""Runs the rules, adds the fallback when npm failed and nothing explains it, and ranks what they find."""

from __future__ import annotations

from ..npmconfig import NpmConfigSnapshot
from ..records import Exchange
from .context import RunContext
from .findings import SEVERITY_ORDER, Finding
from .rules import RULES
from .rules.npm import npm_error


def run_rules(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    latest = {e.id: e for e in exchanges}
    ordered = sorted(latest.values(), key=lambda e: (e.seq, e.started))
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(ordered, config, context))
    if context.npm_failed and not any(f.severity == "error" for f in findings):
        findings.extend(npm_error(ordered, config, context))
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rank, -f.count, f.rule))
