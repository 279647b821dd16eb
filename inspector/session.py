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
from dataclasses import dataclass, field

from .npmoutcome import NpmOutcome
from .records import Exchange


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

    def outcome(self) -> NpmOutcome | None:
        """npm's outcome for diagnosis: the saved words, or at least the exit status."""
        saved = NpmOutcome.from_dict(self.npm_outcome)
        if saved is None and self.npm_exit is not None:
            return NpmOutcome(exit_code=self.npm_exit)
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

    def add(self, exchange: Exchange) -> None:
        """Insert or replace (same id) a record. Called from the proxy thread."""
        with self._lock:
            position = self._index.get(exchange.id)
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
