"""The session journal: an append-only JSON Lines file that survives crashes.

Every ``npm-inspect`` and ``npm-inspect run`` writes one. Line 1 says what
the file is (schema, run metadata, the redacted npm config snapshot); then
come ``exchange`` lines (a record may appear again when it changes: the last
one wins), ``findings`` lines (the latest list wins) and ``info`` lines (run
metadata updates, e.g. npm's exit status). Records are already redacted, so
the journal holds no secret.

The writer flushes small batches (a few times a second) from its own thread:
if npm-inspect dies, everything flushed before is readable, and the reader
skips a torn last line with a warning. A full or unwritable disk turns the
journal off with a warning; capture goes on in memory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnose import Finding
from .errors import SessionFileError
from .npmconfig import NpmConfigSnapshot
from .output import open_private_append
from .paths import private_dir, sessions_dir
from .records import Exchange, from_dict, to_dict
from .session import SessionInfo, SessionStore
from .vault import SecretVault

logger = logging.getLogger(__name__)

JOURNAL_SCHEMA = "npm-inspect/journal@1"
FLUSH_INTERVAL = 0.25
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
"""Journal lines are plain trees: skip the encoder's cycle bookkeeping (it runs for every exchange)."""


def new_session_path(argv: list[str]) -> Path:
    """A fresh file in the per-user sessions directory, named by time and npm command."""
    directory = private_dir(sessions_dir())
    words = [a for a in argv[1:3] if not a.startswith("-")]
    slug = re.sub(r"[^A-Za-z0-9@._-]+", "-", "-".join(words))[:40].strip("-") or "session"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}-{slug}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stamp}-{slug}-{n}.jsonl"
    return path


class JournalWriter:
    """Appends a session store's changes to a journal file from its own thread."""

    def __init__(
        self,
        path: Path,
        store: SessionStore,
        info: SessionInfo,
        config: NpmConfigSnapshot | None = None,
        *,
        on_error: Callable[[str], None] | None = None,
        vault: SecretVault | None = None,
    ) -> None:
        self.path = path
        self.vault = vault
        """The session's secrets: a line that holds one (a redaction bug) is scrubbed before it is written."""
        self.store = store
        self.info = info
        self.config = config
        self.on_error = on_error
        self.error: str | None = None
        self.lines_written = 0
        self._queue_name = f"journal:{id(self)}"
        self._file = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._extra: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def start(self) -> "JournalWriter":
        self.store.subscribe(self._queue_name)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open_private_append(self.path)
        except OSError as e:
            raise SessionFileError(f"cannot write the session file {self.path}: {e.strerror}; choose another with --session") from None
        header = {
            "type": "session",
            "schema": JOURNAL_SCHEMA,
            "created": time.time(),
            "info": self.info.to_dict(),
            "config": self.config.to_dict() if self.config else None,
        }
        self._write_lines([header])
        # records that arrived before the journal started
        self._write_lines([{"type": "exchange", "data": to_dict(e)} for e in self.store.exchanges()])
        self.store.drain(self._queue_name)
        self._thread = threading.Thread(target=self._run, name="npm-inspect-journal", daemon=True)
        self._thread.start()
        return self

    def update_info(self, info: SessionInfo) -> None:
        self.info = info
        with self._lock:
            self._extra.append({"type": "info", "data": info.to_dict()})
        self._wake.set()

    def write_findings(self, findings: list[Finding], run: int | None = None) -> None:
        """The latest findings (of one npm run, when the session holds several)."""
        line: dict[str, Any] = {"type": "findings", "data": [f.to_dict() | {"attachments": []} for f in findings]}
        if run is not None:
            line["run"] = run
        with self._lock:
            self._extra.append(line)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        batch = self.store.drain(self._queue_name)
        with self._lock:
            extra, self._extra = self._extra, []
        lines = [{"type": "exchange", "data": to_dict(e)} for e in batch] + extra
        if lines:
            self._write_lines(lines)

    def _write_lines(self, lines: list[dict[str, Any]]) -> None:
        if self._file is None or self.error is not None:
            return
        encode = _ENCODER.encode
        text = "".join([encode(line) + "\n" for line in lines])
        if self.vault is not None and self.vault.find_leak(text) is not None:
            logger.error("a record held a secret this session saw (a redaction bug): scrubbed before writing the session file")
            text = self.vault.scrub(text)
        try:
            self._file.write(text)
            self._file.flush()
            self.lines_written += len(lines)
        except OSError as e:
            self.error = f"the session file {self.path} stopped being written ({e.strerror}); capture continues in memory"
            logger.warning(self.error)
            if self.on_error is not None:
                self.on_error(self.error)

    def close(self) -> None:
        """Write what is left, fsync and close (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.flush()
                os.fsync(file.fileno())
            except OSError:
                pass
            try:
                file.close()
            except OSError:
                pass  # the buffer could not be written (disk full); the descriptor is released anyway


@dataclass
class JournalContents:
    info: SessionInfo
    config: NpmConfigSnapshot | None
    exchanges: list[Exchange]
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class JournalParser:
    """Turns journal lines into records; shared by the reader and the follower."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.info = SessionInfo()
        self.config: NpmConfigSnapshot | None = None
        self.findings: list[Finding] = []
        self.warnings: list[str] = []
        self.seen_header = False

    def feed(self, line: str, number: int, *, last: bool = False) -> Exchange | None:
        if not line.strip():
            return None
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not an object")
            kind = item.get("type")
            if kind == "session":
                if item.get("schema") != JOURNAL_SCHEMA:
                    raise SessionFileError(
                        f"{self.source} is a {item.get('schema') or 'unknown'} file; this npm-inspect reads {JOURNAL_SCHEMA}: upgrade npm-inspect"
                    )
                self.seen_header = True
                self.info = SessionInfo.from_dict(item.get("info"))
                self.config = NpmConfigSnapshot.from_dict(item["config"]) if item.get("config") else None
            elif kind == "exchange":
                return from_dict(item["data"])
            elif kind == "findings":
                self.findings = [Finding.from_dict(f) for f in item.get("data") or ()]
            elif kind == "info":
                self.info = SessionInfo.from_dict(item.get("data"))
        except SessionFileError:
            raise
        except RecursionError:
            where = "the last line" if last else f"line {number}"
            self.warnings.append(f"{self.source}: skipped {where}: nested too deeply to be an npm-inspect record")
            logger.warning(self.warnings[-1])
        except (ValueError, KeyError, TypeError) as e:
            where = "the last line (torn: npm-inspect probably stopped while writing)" if last else f"line {number}"
            self.warnings.append(f"{self.source}: skipped {where}: {e}")
            logger.warning(self.warnings[-1])
        return None


def looks_like_journal(head: bytes) -> bool:
    return head.lstrip().startswith(b'{"type":"session"') or b'"schema":"npm-inspect/journal@' in head[:400]


def read_journal(path: Path) -> JournalContents:
    """Read a whole journal; a torn or broken line is skipped with a warning."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise SessionFileError(f"{path} is a directory: give a session file (npm-inspect sessions lists them)") from None
    except OSError as e:
        raise SessionFileError(f"cannot read {path}: {e.strerror}") from None
    text = raw.decode("utf-8", "replace")
    parser = JournalParser(str(path))
    latest: dict[str, Exchange] = {}
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        record = parser.feed(line, number, last=number == len(lines) and not text.endswith("\n"))
        if record is not None:
            latest[record.id] = record
    if not parser.seen_header:
        raise SessionFileError(f"{path} is not an npm-inspect session file (no session header): give a .jsonl from npm-inspect sessions, or a HAR")
    exchanges = sorted(latest.values(), key=lambda e: (e.seq, e.started))
    return JournalContents(parser.info, parser.config, exchanges, parser.findings, parser.warnings)


class JournalFollower:
    """Follows a journal another npm-inspect is still writing, feeding a store (for ``open --follow``)."""

    def __init__(self, path: Path, store: SessionStore, *, interval: float = 0.2) -> None:
        self.path = path
        self.store = store
        self.interval = interval
        self.parser = JournalParser(str(path))
        self._offset = 0
        self._buffer = b""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._number = 0

    def poll(self) -> int:
        """Read what was appended since the last poll; returns the records added."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return 0
        self._offset += len(chunk)
        data = self._buffer + chunk
        *complete, self._buffer = data.split(b"\n")
        added = 0
        for line in complete:
            self._number += 1
            record = self.parser.feed(line.decode("utf-8", "replace"), self._number)
            if record is not None:
                self.store.add(record)
                added += 1
        return added

    def start(self) -> "JournalFollower":
        self.poll()
        self._thread = threading.Thread(target=self._run, name="npm-inspect-follow", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def list_sessions(directory: Path | None = None) -> Iterator[tuple[Path, SessionInfo, int, int]]:
    """Newest first: (path, info, exchanges, failed exchanges)."""
    directory = directory or sessions_dir()
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            contents = read_journal(path)
        except SessionFileError:
            continue
        failed = sum(1 for e in contents.exchanges if e.failed)
        yield path, contents.info, len(contents.exchanges), failed
