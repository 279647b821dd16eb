"""Opening a saved session: an npm-inspect journal or a HAR file, told apart by their content."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import SessionFileError
from .journal import looks_like_journal, read_journal
from .npmconfig import NpmConfigSnapshot
from .session import SessionInfo, SessionStore


@dataclass
class LoadedSession:
    path: Path
    kind: str
    """``journal`` or ``har``."""
    store: SessionStore
    info: SessionInfo
    config: NpmConfigSnapshot | None
    warnings: list[str] = field(default_factory=list)


def load(path: Path) -> LoadedSession:
    """Read a session file or a HAR into a store; :class:`SessionFileError` says what is wrong and what to give."""
    if not path.exists():
        raise SessionFileError(f"{path} does not exist: give a session file (npm-inspect sessions lists them) or a HAR")
    if path.is_dir():
        raise SessionFileError(f"{path} is a directory: give a session file (npm-inspect sessions lists them) or a HAR")
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise SessionFileError(f"cannot read {path}: {e.strerror}") from None
    store = SessionStore()
    if looks_like_journal(head):
        contents = read_journal(path)
        store.extend(contents.exchanges)
        return LoadedSession(path, "journal", store, contents.info, contents.config, contents.warnings)
    if head.lstrip().startswith(b"{"):
        from .har import read_har

        exchanges, info, config = read_har(path)
        store.extend(exchanges)
        return LoadedSession(path, "har", store, info, config)
    raise SessionFileError(f"{path} is neither an npm-inspect session (.jsonl) nor a HAR: give one of those")


def newest_session() -> Path:
    from .journal import list_sessions

    for path, *_ in list_sessions():
        return path
    raise SessionFileError("there is no saved session yet: run npm-inspect run -- npm install (or give a file)")
