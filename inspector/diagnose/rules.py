"""The rules. Each takes all exchanges and the config snapshot and returns findings."""

from __future__ import annotations

from collections.abc import Callable

from ..npmconfig import NpmConfigSnapshot
from ..records import Exchange
from .findings import Finding

Rule = Callable[[list[Exchange], NpmConfigSnapshot], list[Finding]]

RULES: list[Rule] = []
