"""Where npm-inspect keeps its CA, sessions and logs (XDG base directories).

``NPM_INSPECT_HOME`` puts everything under one directory (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StorageError


def _base(xdg_var: str, fallback: str) -> Path:
    home = os.environ.get("NPM_INSPECT_HOME")
    if home:
        return Path(home)
    root = os.environ.get(xdg_var) or str(Path.home() / fallback)
    return Path(root) / "npm-inspect"


def config_dir() -> Path:
    """CA and settings: ``$XDG_CONFIG_HOME/npm-inspect``."""
    return _base("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    """Sessions: ``$XDG_DATA_HOME/npm-inspect``."""
    return _base("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    """Logs: ``$XDG_STATE_HOME/npm-inspect``."""
    return _base("XDG_STATE_HOME", ".local/state")


def ca_dir() -> Path:
    return config_dir() / "ca"


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with owner-only permissions on the last part.

    Raises :class:`~inspector.errors.StorageError` (one line: which variable to point elsewhere) when it cannot.
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
    except OSError as e:
        raise StorageError(
            f"cannot create the private directory {path} ({e.strerror}): "
            f"set {_variable_for(path)} to a writable directory (or NPM_INSPECT_HOME for everything)"
        ) from None
    return path


def _variable_for(path: Path) -> str:
    text = str(path)
    for variable, fallback in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state")):
        root = os.environ.get(variable) or str(Path.home() / fallback)
        if text.startswith(root):
            return variable
    return "NPM_INSPECT_HOME"
