"""The one way npm-inspect writes a file: owner-only, whole, and checked for secrets first.

Reports, HAR files, bundles and saved certificates leave the machine in
support tickets. Each is written through :func:`write_private`:

- **owner-only**: a new file (mode 0600) is written beside the target and
  renamed over it, so a target that already existed with a looser mode (0644)
  does not keep that mode; devices such as ``/dev/null`` or ``/dev/stdout``
  are written in place;
- **whole**: a reader never sees half a file, and a failed write leaves the old
  file (and no temporary one) behind;
- **leak-checked**: when a :class:`~inspector.vault.SecretVault` is given, the
  text is searched for every secret the session has seen; a hit refuses the
  write (:class:`~inspector.errors.SecretLeakError`) — it would be a redaction
  bug, and a ticket is the worst place to find it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import SecretLeakError, StorageError
from .vault import SecretVault

PRIVATE_FILE = 0o600


def check_no_secret(text: str, vault: SecretVault | None, what: str) -> None:
    """Raise :class:`SecretLeakError` when ``text`` holds a secret the vault knows."""
    if vault is None:
        return
    leaked = vault.find_leak(text)
    if leaked is not None:
        raise SecretLeakError(
            f"refusing to write {what}: it would contain a secret seen in this session ([redacted:{leaked}]); "
            "nothing was written — please report this as an npm-inspect bug"
        )


def write_private(path: Path, data: str | bytes, *, vault: SecretVault | None = None, what: str | None = None) -> Path:
    """Write ``data`` to ``path`` owner-only and atomically, after the leak check (see the module docstring)."""
    if isinstance(data, str):  # bytes (a zip) are checked member by member by their writer
        check_no_secret(data, vault, what or str(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise StorageError(f"cannot write {path}: {e.strerror}; choose a writable path") from None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with path.open("wb") as f:  # /dev/null, /dev/stdout, a FIFO: no rename, no chmod
            f.write(raw)
        return path
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def open_private_append(path: Path):
    """Open ``path`` for appending, owner-only: created 0600, or an existing file of ours narrowed to 0600.

    An existing file that is not ours (its mode cannot be changed) is refused: others could read what follows.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    except OSError as e:
        os.close(fd)
        raise StorageError(
            f"{path} is readable by others and its mode cannot be made owner-only ({e.strerror}): choose another file"
        ) from None
    return os.fdopen(fd, "a", encoding="utf-8")
