"""npm-inspect's dashboard in a real terminal: tmux, for the end-to-end tests that type keys and read the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .npm import NpmEnv


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


class Terminal:
    """One tmux session running ``python -m inspector …`` in an npm env's project."""

    def __init__(self, name: str) -> None:
        self.name = name

    def screen(self) -> str:
        """What the terminal shows, long lines joined."""
        return tmux("capture-pane", "-p", "-J", "-t", self.name)

    def keys(self, *keys: str) -> None:
        """Key names as tmux spells them (``Enter``, ``q``), one at a time."""
        for key in keys:
            tmux("send-keys", "-t", self.name, key)

    def type(self, text: str) -> None:
        """Literal text (a password with @ and :)."""
        tmux("send-keys", "-t", self.name, "-l", text)


@contextmanager
def dashboard(npm_env: NpmEnv, *args: str, size: tuple[int, int] = (140, 40)) -> Iterator[Terminal]:
    """``npm-inspect ARGS`` in tmux with the npm env's environment (colour on, as in a user's terminal)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run ./dev test (it installs it)")
    env = npm_env.env(NPM_INSPECT_HOME=os.environ["NPM_INSPECT_HOME"], TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    name = f"npm-inspect-{uuid.uuid4().hex[:8]}"
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "inspector", *args])
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    width, height = size
    tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "-c", str(npm_env.project), f"env -i {exports} {command}; sleep 30")
    try:
        yield Terminal(name)
    finally:
        tmux("kill-session", "-t", name)
