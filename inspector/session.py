"""The session store: every record of a run, the source of truth for all consumers.

The proxy thread calls :meth:`SessionStore.add` (the capture sink); it only
takes a lock and appends, so the proxy never waits on a consumer. Consumers
either read the whole store (reports, HAR) or take what arrived since their
last look in one batch (:meth:`drain`, used by the dashboard's timer and the
journal writer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .npmoutcome import NpmOutcome
from .records import Exchange
from .redact import redact_argv, redact_url


@dataclass
class RunRecord:
    """One npm run of a session: the dashboard's ``R``, a fix being verified, or ``run --verify-fix``."""

    number: int
    argv: list[str] = field(default_factory=list)
    """Redacted, like :attr:`SessionInfo.npm_argv`."""
    fix: str | None = None
    """The fix this run tried on a temporary copy of npm's config (commands, secrets masked); ``None``: a plain run."""
    exit_code: int | None = None
    error_code: str | None = None
    """npm's own error code (``E407``), when it printed one."""
    started: float | None = None
    ended: float | None = None
    outcome: dict | None = None
    """npm's own words at the end of this run (:class:`~inspector.npmoutcome.NpmOutcome` as JSON data, redacted)."""

    def summary(self) -> str:
        """``run 2 (fix: npm config set …): exit 0`` — the runs of a session side by side in reports."""
        label = f"run {self.number}" + (f" (fix: {self.fix})" if self.fix else "")
        if self.exit_code is None:
            return f"{label}: running"
        return f"{label}: {self.error_code + ' · ' if self.error_code else ''}exit {self.exit_code}"

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class SessionInfo:
    """What a session was: metadata written with it and shown in headers and reports."""

    npm_argv: list[str] = field(default_factory=list)
    """npm's command line, already through :func:`inspector.redact.redact_argv`: never a raw secret."""
    upstream: str | None = None
    """Display form: password masked."""
    mode: str = "decrypt"
    listen: str | None = None
    npm_exit: int | None = None
    npm_version: str | None = None
    node_version: str | None = None
    inspector_version: str | None = None
    started: float | None = None
    upstream_source: str | None = None
    """Where the upstream proxy came from: ``--upstream``, ``npm config https-proxy (user …)``, ``environment HTTPS_PROXY``."""
    npm_outcome: dict | None = None
    """npm's own words at the end (:class:`~inspector.npmoutcome.NpmOutcome` as JSON data, redacted)."""
    runs: list[RunRecord] = field(default_factory=list)
    """Every npm run of the session, in order (``npm_exit``/``npm_outcome`` are the latest run's)."""
    tool: str = "npm"
    """The package manager the session ran: ``npm``, ``pnpm``, ``yarn-classic``, ``yarn-berry`` or ``bun``."""
    tool_version: str | None = None
    tool_display: str | None = None
    """``yarn 4.18.1 (berry)``, ``pnpm 12.4.2``: for headers, reports, the journal and the HAR."""
    tool_notes: list[str] = field(default_factory=list)
    """What the tool's config or injection could not cover (redacted): ``yarn berry ignores HTTPS_PROXY``…"""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: the journal's ``info`` line and a HAR's ``_npmInspect.session`` block."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "SessionInfo":
        """Unknown keys are ignored (newer files); argv and the upstream are redacted again (older or foreign files)."""
        fields = cls.__dataclass_fields__
        info = cls(**{k: v for k, v in (data or {}).items() if k in fields})
        info.runs = [RunRecord.from_dict(r) for r in info.runs or () if isinstance(r, dict)]
        info.tool_notes = [str(n) for n in info.tool_notes or []]
        return info.redacted()

    def redacted(self) -> "SessionInfo":
        """A copy with npm's argv and the upstream's password masked again: what a file may hold, whatever the source."""
        return replace(
            self,
            npm_argv=redact_argv([str(a) for a in self.npm_argv or []]),
            upstream=redact_url(str(self.upstream)) if self.upstream else None,
        )

    @property
    def tool_label(self) -> str:
        """``pnpm 12.4.2``; for npm sessions (and files from before other tools), ``npm 11.19.0``."""
        if self.tool_display:
            return self.tool_display
        return f"npm {self.npm_version}" if self.npm_version else "npm"

    def runs_line(self) -> str | None:
        """``run 1: E407 · exit 1 — run 2 (fix: …): exit 0`` when the session holds more than one run."""
        if len(self.runs) < 2:
            return None
        return " — ".join(r.summary() for r in self.runs)

    def run_record(self, run: int | None = None) -> RunRecord | None:
        """One run (the latest by default), or ``None`` for sessions from before runs were recorded."""
        if not self.runs:
            return None
        if run is None:
            return self.runs[-1]
        return next((r for r in self.runs if r.number == run), None)

    def exit_of(self, run: int | None = None) -> int | None:
        record = self.run_record(run)
        return record.exit_code if record is not None else self.npm_exit

    def outcome(self, run: int | None = None) -> NpmOutcome | None:
        """npm's outcome for diagnosis (of one run, the latest by default): the saved words, or the exit status."""
        record = self.run_record(run)
        saved = NpmOutcome.from_dict(record.outcome if record is not None else self.npm_outcome)
        exit_code = self.exit_of(run)
        if saved is None and exit_code is not None:
            return NpmOutcome(exit_code=exit_code)
        return saved


class SessionStore:
    """Thread-safe, ordered, upsert-by-id collection of exchanges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Exchange] = []
        self._index: dict[str, int] = {}
        self._pending: dict[str, list[Exchange]] = {}
        self.version = 0
        """Bumped on every change: cheap "did anything change?" checks for consumers."""
        self.current_run = 1
        """The npm run that live records belong to (:meth:`add_live`); the session lifecycle moves it on."""

    def add(self, exchange: Exchange) -> None:
        """Insert or replace (same id) a record."""
        with self._lock:
            self._put(exchange, self._index.get(exchange.id))

    def add_live(self, exchange: Exchange) -> None:
        """The capture's sink (called from the proxy thread): a new record joins the current run; a replaced one
        keeps the run it started in."""
        with self._lock:
            position = self._index.get(exchange.id)
            run = self.current_run if position is None else self._items[position].run
            self._put(exchange if exchange.run == run else replace(exchange, run=run), position)

    def _put(self, exchange: Exchange, position: int | None) -> None:
        if position is None:
            self._index[exchange.id] = len(self._items)
            self._items.append(exchange)
        else:
            self._items[position] = exchange
        for queue in self._pending.values():
            queue.append(exchange)
        self.version += 1

    def clear(self) -> None:
        """Forget every record (the demo starts a fresh attempt); queues are emptied too."""
        with self._lock:
            self._items.clear()
            self._index.clear()
            for name in self._pending:
                self._pending[name] = []
            self.version += 1

    def extend(self, exchanges: list[Exchange]) -> None:
        for exchange in exchanges:
            self.add(exchange)

    def subscribe(self, name: str) -> None:
        """Start a named batch queue; :meth:`drain` returns what arrived since."""
        with self._lock:
            self._pending.setdefault(name, [])

    def unsubscribe(self, name: str) -> None:
        """End a batch queue (a view or journal that is gone)."""
        with self._lock:
            self._pending.pop(name, None)

    def drain(self, name: str) -> list[Exchange]:
        """Take everything added since the last drain of this queue (a record may appear more than once)."""
        with self._lock:
            batch = self._pending.get(name, [])
            self._pending[name] = []
            return batch

    def exchanges(self) -> list[Exchange]:
        """A snapshot of all records in arrival order."""
        with self._lock:
            return list(self._items)

    def get(self, exchange_id: str) -> Exchange | None:
        with self._lock:
            position = self._index.get(exchange_id)
            return self._items[position] if position is not None else None

    def position(self, exchange_id: str) -> int | None:
        with self._lock:
            return self._index.get(exchange_id)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges())

    def __getitem__(self, position: int) -> Exchange:
        return self._items[position]
