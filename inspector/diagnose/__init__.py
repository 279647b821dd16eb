"""The diagnosis engine: records + an npm config snapshot (+ npm's own words) → ranked findings. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from ..npmconfig import NpmConfigSnapshot
from ..npmoutcome import NpmOutcome
from ..records import Exchange
from .context import RunContext
from .findings import ConfigChange, EvidenceRef, Finding

__all__ = ["ConfigChange", "EvidenceRef", "Finding", "RunContext", "diagnose"]


def diagnose(
    exchanges: Iterable[Exchange],
    config: NpmConfigSnapshot | None = None,
    outcome: NpmOutcome | None = None,
    upstream_source: str | None = None,
    tool: str = "npm",
) -> list[Finding]:
    """Run every rule; return findings ranked root cause first.

    ``outcome`` is npm's exit status and words: when npm failed, the findings
    are never empty (a fallback ``npm-error`` quotes npm when no rule explains it).
    ``tool`` is the package manager that ran (explanations name it; commands stay in npm's syntax until
    :func:`inspector.clients.render.for_tool` translates them).
    """
    from .engine import run_rules  # the rules load on the first diagnosis: `run` imports them while npm runs

    return run_rules(list(exchanges), config or NpmConfigSnapshot(), RunContext(outcome, upstream_source, tool))
