"""The diagnosis cadence over a session store: when to diagnose, what with, and who hears about it.

A live session changes many times a second; a diagnosis over 100,000 records
takes a while. :class:`Diagnoser` runs the (pure) engine on its own thread when
something changed, at most once per :data:`MIN_GAP`, and never more than a fifth
of the time (it waits four times as long as the last diagnosis took). It saves the
findings' attachments (a re-signing CA as PEM), writes the findings to the
journal, counts exchanges per hop, and hands a :class:`Diagnosis` to its
listeners — the dashboard draws it, nothing more.

It diagnoses one npm run at a time (the latest, unless asked for another):
after a fix is tried, the findings say what is left in that run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .clients.render import for_tool
from .diagnose import Finding, diagnose
from .journal import JournalWriter
from .npmconfig import NpmConfigSnapshot
from .npmoutcome import NpmOutcome
from .records import Exchange
from .session import SessionInfo, SessionStore

logger = logging.getLogger(__name__)

POLL = 0.2
"""How often the thread looks for a change (records, a new run, npm's words)."""
MIN_GAP = 0.5
"""At most two diagnoses a second: a new finding shows within a second of its evidence."""


@dataclass(frozen=True)
class RunInputs:
    """What one run's diagnosis needs besides its records."""

    run: int
    config: NpmConfigSnapshot
    outcome: NpmOutcome | None = None
    upstream_source: str | None = None
    tool: str = "npm"
    """The package manager the run used: the rules' wording and the fixes' syntax follow it."""


@dataclass(frozen=True)
class Diagnosis:
    """Findings for one run, and counters over the whole session (for the status bar)."""

    run: int
    findings: list[Finding]
    by_hop: Counter[str] = field(default_factory=Counter)
    failures_by_hop: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    version: int = -1


Listener = Callable[[Diagnosis], None]


class Diagnoser:
    """Diagnoses ``store`` with what ``inputs(run)`` says about a run (``None``: the current one); see the module docstring."""

    def __init__(
        self,
        store: SessionStore,
        inputs: Callable[[int | None], RunInputs],
        *,
        attachments_dir: Path | None = None,
        journal: JournalWriter | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.store = store
        self.on_error = on_error
        """Told when a diagnosis fails (a rule's bug): the dashboard shows it; the session goes on."""
        self.inputs = inputs
        self.attachments_dir = attachments_dir
        self.journal = journal
        self.latest: Diagnosis | None = None
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._diagnosed: tuple[int, RunInputs] | None = None
        self._next = 0.0

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def diagnose_now(self, run: int | None = None) -> Diagnosis:
        """Diagnose one run (the current one by default) right away, on the caller's thread; tell the listeners."""
        inputs = self.inputs(run)
        version = self.store.version
        exchanges = self.store.exchanges()
        own = [e for e in exchanges if e.run == inputs.run]
        findings = diagnose(own, inputs.config, inputs.outcome, inputs.upstream_source, inputs.tool)
        if self.attachments_dir is not None and any(f.attachments for f in findings):
            from .fixes import save_attachments

            try:
                findings = save_attachments(findings, self.attachments_dir)
            except OSError:
                logger.warning("could not save a finding's attachment in %s", self.attachments_dir, exc_info=True)
        findings = for_tool(findings, inputs.tool)  # commands in the tool's own syntax (changes stay npm's keys)
        by_hop: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        size = 0
        for e in exchanges:
            hop = e.hop.value if e.hop else "?"
            by_hop[hop] += 1
            if e.failed:
                failures[hop] += 1
            size += e.bytes_sent + e.bytes_received
        result = Diagnosis(inputs.run, findings, by_hop, failures, size, version)
        with self._lock:
            changed = self.latest is None or _summary(self.latest) != _summary(result)
            self.latest = result
            self._diagnosed = (version, inputs)
        if changed and self.journal is not None:
            self.journal.write_findings(findings, run=inputs.run)
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception:  # a consumer's bug must not stop the diagnosis
                logger.exception("a diagnosis listener failed")
        return result

    def poke(self) -> None:
        """Something changed beyond the records (npm ended, a new run began): diagnose at the next chance."""
        with self._lock:
            self._diagnosed = None
            self._next = 0.0
        self._wake.set()

    def start(self) -> "Diagnoser":
        """Diagnose on a thread of its own from now on (live sessions)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="npm-inspect-diagnosis", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _due(self) -> bool:
        with self._lock:
            if time.monotonic() < self._next:
                return False
            diagnosed = self._diagnosed
        return diagnosed is None or diagnosed[0] != self.store.version or diagnosed[1] != self.inputs(None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL)
            self._wake.clear()
            if self._stop.is_set() or not self._due():
                continue
            started = time.monotonic()
            try:
                self.diagnose_now()
            except Exception as e:  # a rule's bug must not end the session
                logger.exception("diagnosis failed")
                if self.on_error is not None:
                    self.on_error(e)
            with self._lock:
                self._next = time.monotonic() + max(MIN_GAP, 4 * (time.monotonic() - started))


def last_run(exchanges: list[Exchange], info: SessionInfo) -> int:
    """The run a saved session's findings are about: its last (sessions from before runs: run 1)."""
    return info.runs[-1].number if info.runs else max((e.run for e in exchanges), default=1)


def saved_inputs(info: SessionInfo, config: NpmConfigSnapshot | None, exchanges: list[Exchange], run: int | None = None) -> RunInputs:
    """What a saved (or followed) session says about one of its runs."""
    run = last_run(exchanges, info) if run is None else run
    return RunInputs(run, config or NpmConfigSnapshot(), info.outcome(run), info.upstream_source, info.tool or "npm")


def diagnose_saved(exchanges: list[Exchange], info: SessionInfo, config: NpmConfigSnapshot | None) -> list[Finding]:
    """A saved session's findings (``open --report``, the bundle, a replay): its last run's."""
    inputs = saved_inputs(info, config, exchanges)
    own = [e for e in exchanges if e.run == inputs.run]
    return for_tool(diagnose(own, inputs.config, inputs.outcome, inputs.upstream_source, inputs.tool), inputs.tool)


def _summary(diagnosis: Diagnosis) -> tuple:
    return (diagnosis.run, [(f.rule, f.title, f.count) for f in diagnosis.findings])
