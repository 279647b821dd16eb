"""Runs the rules and ranks what they find."""

from __future__ import annotations

from ..npmconfig import NpmConfigSnapshot
from ..records import Exchange
from .findings import SEVERITY_ORDER, Finding


def run_rules(exchanges: list[Exchange], config: NpmConfigSnapshot) -> list[Finding]:
    from .rules import RULES

    latest = {e.id: e for e in exchanges}
    ordered = sorted(latest.values(), key=lambda e: (e.seq, e.started))
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(ordered, config))
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rank, -f.count, f.rule))
