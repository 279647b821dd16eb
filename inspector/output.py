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

Large outputs (a HAR of 100,000 exchanges) are written piece by piece with
:class:`PrivateFile`, checked block by block as they go, never held whole.
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


CHUNK_CHARS = 256 * 1024
"""Text gathered before it is leak-checked and written: a few large searches, not one per entry."""


def _is_special(path: Path) -> bool:
    """A device or FIFO (``/dev/null``, ``/dev/stdout``): written in place, no temp file, rename or chmod."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except OSError as e:
        raise StorageError(f"cannot write {path}: {e.strerror}; choose a writable path") from None
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class PrivateFile:
    """The streaming form of :func:`write_private`: write text piece by piece, checked as it goes.

    ``with PrivateFile(path, vault=v, what="the HAR x") as out: out.write(text)`` — pieces are
    gathered into blocks; each block is searched for the vault's secrets (together with the end of
    the block before it, so a secret split across two pieces is still found) *before* it is
    written, into a temporary file beside the target that is renamed over it only when
    everything was written. A hit raises :class:`~inspector.errors.SecretLeakError` and deletes
    the temporary file: the target is untouched. A device (``/dev/null``, ``/dev/stdout``) is
    written in place: what came before the hit may have been written there, never the secret.
    """

    def __init__(self, path: Path, *, vault: SecretVault | None = None, what: str | None = None) -> None:
        self.path = path
        self.vault = vault if vault is not None and len(vault) else None
        self.what = what or str(path)
        self._pieces: list[str] = []
        self._size = 0
        self._tail = ""
        self._overlap = self.vault.longest_form() if self.vault is not None else 0
        self._file = None
        self._temp: str | None = None

    def __enter__(self) -> "PrivateFile":
        path = self.path
        if _is_special(path):
            self._file = path.open("wb")  # /dev/null, /dev/stdout, a FIFO: no rename, no chmod
            return self
        fd, self._temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: 0600
        self._file = os.fdopen(fd, "wb")
        return self

    def write(self, text: str) -> None:
        self._pieces.append(text)
        self._size += len(text)
        if self._size >= CHUNK_CHARS:
            self._write_block()

    def _write_block(self) -> None:
        if not self._pieces:
            return
        block = "".join(self._pieces)
        self._pieces, self._size = [], 0
        if self.vault is not None:
            check_no_secret(self._tail + block, self.vault, self.what)
            if self._overlap > 1:
                self._tail = (self._tail + block)[-(self._overlap - 1) :]
        assert self._file is not None
        self._file.write(block.encode("utf-8"))

    def close(self) -> Path:
        """Write the rest, make it durable and put it in place."""
        try:
            self._write_block()
        except BaseException:
            self.abort()
            raise
        assert self._file is not None
        file, self._file = self._file, None
        if self._temp is None:
            file.close()
            return self.path
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        self._temp = None
        return self.path

    def abort(self) -> None:
        """Drop what was written (the target stays as it was)."""
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass
        if self._temp is not None:
            Path(self._temp).unlink(missing_ok=True)
            self._temp = None

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_private(path: Path, data: str | bytes, *, vault: SecretVault | None = None, what: str | None = None) -> Path:
    """Write ``data`` to ``path`` owner-only and atomically, after the leak check (see the module docstring)."""
    if isinstance(data, str):
        check_no_secret(data, vault, what or str(path))  # whole text first: nothing reaches even a device
        with PrivateFile(path, what=what) as out:
            out.write(data)
        return path
    # bytes (a zip) are checked member by member by their writer
    raw = data
    if _is_special(path):
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
