"""What the rules know about a run besides its exchanges and npm's config: npm's own words, and where the
upstream proxy came from."""

from __future__ import annotations

from dataclasses import dataclass

from ..npmoutcome import NpmOutcome
from .tools import tool_name


@dataclass(frozen=True)
class RunContext:
    """npm's outcome (exit status, error code and message, lockfile hosts, versions seen) and the upstream's source."""

    outcome: NpmOutcome | None = None
    upstream_source: str | None = None
    """``--upstream``, ``npm config https-proxy (user /home/u/.npmrc)``, ``environment HTTPS_PROXY``; ``None``: unknown."""
    tool: str = "npm"
    """The package manager that ran (``npm``, ``pnpm``, ``yarn-classic``, ``yarn-berry``, ``bun``): rules word their
    explanations for it; the fixes' syntax is translated after the rules (:mod:`inspector.clients.render`)."""

    @property
    def name(self) -> str:
        """``npm``, ``pnpm``, ``yarn classic``, ``yarn berry``, ``bun``."""
        return tool_name(self.tool)

    @property
    def npm_failed(self) -> bool:
        return self.outcome is not None and self.outcome.failed

    @property
    def code(self) -> str | None:
        return self.outcome.code if self.outcome is not None else None

    def said(self, *words: str) -> bool:
        """npm's error message contains every one of ``words`` (case-insensitive)."""
        if self.outcome is None:
            return False
        text = self.outcome.text().lower()
        return all(word.lower() in text for word in words)
