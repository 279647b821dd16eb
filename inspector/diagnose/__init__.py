"""The diagnosis engine: records + an npm config snapshot → ranked findings. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from ..npmconfig import NpmConfigSnapshot
from ..records import Exchange
from .findings import ConfigChange, EvidenceRef, Finding

__all__ = ["ConfigChange", "EvidenceRef", "Finding", "diagnose"]


def diagnose(exchanges: Iterable[Exchange], config: NpmConfigSnapshot | None = None) -> list[Finding]:
    """Run every rule; return findings ranked root cause first."""
    from .engine import run_rules

    return run_rules(list(exchanges), config or NpmConfigSnapshot())
