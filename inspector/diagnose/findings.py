"""What the diagnosis engine says: findings, their evidence, and the config changes that fix them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..records import Hop

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class EvidenceRef:
    """One exchange that proves a finding, with the excerpt that does."""

    exchange_id: str
    seq: int
    excerpt: str


@dataclass(frozen=True)
class ConfigChange:
    """A machine-applicable npm config change (``--verify-fix`` and the demo's fix key apply these).

    ``value`` may hold placeholders such as ``<password>``: they are filled in
    (``--fix-value``, ``NPM_INSPECT_FIX_*`` or a prompt) before the change is
    applied. ``copy`` sets ``key`` to the raw value npm has for the key named
    in ``value`` (moving a token to the registry path npm asks for).
    """

    action: Literal["set", "delete", "copy"]
    key: str
    value: str | None = None
    location: Literal["user", "project", "global"] = "user"

    @property
    def placeholders(self) -> list[str]:
        import re

        if self.action != "set" or not self.value:
            return []
        return re.findall(r"<([a-z][a-z0-9-]*)>", self.value)

    @property
    def command(self) -> str:
        if self.action == "delete":
            return f"npm config delete {self.key} --location={self.location}"
        if self.action == "copy":
            secret = self.key.rsplit(":", 1)[-1] in ("_authToken", "_auth", "_password")
            return f"npm config set {_shell_quote(self.key + ('=<token>' if secret else '=<value>'))} --location={self.location}"
        pair = f"{self.key}={self.value or ''}"
        return f"npm config set {_shell_quote(pair)} --location={self.location}"


def _shell_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "@%+=:,./-_~" for c in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


@dataclass(frozen=True)
class Finding:
    """Who said no, why, and what to type."""

    rule: str
    severity: Severity
    hop: Hop
    title: str
    explanation: str
    evidence: tuple[EvidenceRef, ...] = ()
    commands: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    changes: tuple[ConfigChange, ...] = ()
    """The config part of ``commands``, applicable by ``--verify-fix``."""
    attachments: tuple[tuple[str, str], ...] = ()
    """(file name, text) the commands refer to, e.g. a corporate CA saved as PEM; written by the caller."""
    count: int = 1
    """How many exchanges this finding explains."""
    rank: int = 50
    """Lower first: root causes (a 407 that makes everything else fail) outrank their consequences."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hop"] = self.hop.value
        data["evidence"] = [asdict(e) for e in self.evidence]
        data["changes"] = [asdict(c) | {"command": c.command, "placeholders": c.placeholders} for c in self.changes]
        data["attachments"] = [{"name": name, "size": len(content)} for name, content in self.attachments]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        return cls(
            rule=str(data["rule"]),
            severity=data.get("severity", "error"),
            hop=Hop(data.get("hop", "registry")),
            title=str(data.get("title", "")),
            explanation=str(data.get("explanation", "")),
            evidence=tuple(EvidenceRef(**{k: e[k] for k in ("exchange_id", "seq", "excerpt")}) for e in data.get("evidence") or ()),
            commands=tuple(data.get("commands") or ()),
            caveats=tuple(data.get("caveats") or ()),
            changes=tuple(
                ConfigChange(c["action"], c["key"], c.get("value"), c.get("location", "user")) for c in data.get("changes") or ()
            ),
            count=int(data.get("count") or 1),
            attachments=tuple((a["name"], a["content"]) for a in data.get("attachments") or () if "content" in a),
            rank=int(data.get("rank") or 50),
        )
