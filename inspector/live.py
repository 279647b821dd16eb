"""A live session for the dashboard: the proxy on its thread, and npm as an asyncio child.

The dashboard owns the terminal, so npm's output is read line by line and
handed to a callback instead of being passed through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from .proxy import InspectorProxy
from .npmoutcome import OutputTail
from .redact import redact_argv, redact_text
from .runner import Preparation, RunRequest, child_command, npm_outcome, prepare, remember_secrets, session_info
from .session import SessionInfo, SessionStore
from .vault import SecretVault


@dataclass
class PointNpm:
    """How to send npm through a running inspector by hand (the URL holds this run's credential)."""

    once: str
    """One npm command with the settings as shell assignments (environment, not argv)."""
    env: str
    """``export …`` for every npm started from this shell."""


class LiveSession:
    """Start with :meth:`start` (blocking, call it off the UI loop), run npm with :meth:`run_npm`, end with :meth:`stop`."""

    def __init__(self, request: RunRequest, store: SessionStore) -> None:
        self.request = request
        self.store = store
        self.prep: Preparation | None = None
        self.proxy: InspectorProxy | None = None
        self.info = SessionInfo(
            npm_argv=redact_argv(request.argv) if len(request.argv) > 1 else [],
            mode="decrypt" if request.decrypt else "metadata-only",
        )
        self.vault = SecretVault()
        self.npm_process: asyncio.subprocess.Process | None = None
        self.npm_state = "not started"

    @property
    def has_npm_command(self) -> bool:
        return len(self.request.argv) > 1

    def start(self) -> None:
        self.prep = prepare(self.request)
        remember_secrets(self.vault, self.prep)
        self.proxy = InspectorProxy(self.prep.proxy_config, self.store.add, self.vault).start()
        self.info = session_info(self.prep, self.proxy)
        if not self.has_npm_command:
            self.info.npm_argv = []

    def reveal(self, fingerprint: str) -> str | None:
        """The secret behind a fingerprint, if it passed through this live session."""
        return self.vault.get(fingerprint)

    def point_npm(self) -> PointNpm:
        """The exact commands that point npm at this inspector: environment only (``ps`` shows no credential)."""
        assert self.prep is not None and self.proxy is not None
        argv, env = child_command(self.prep, self.proxy)
        url = env["npm_config_https_proxy"]
        cafile = env["npm_config_cafile"]
        assignments = f"npm_config_proxy={url} npm_config_https_proxy={url} npm_config_cafile={cafile}"
        return PointNpm(f"{assignments} npm install", f"export {assignments}")

    async def run_npm(self, on_line: Callable[[str], None]) -> int:
        """Run the npm command through the inspector; return its exit status."""
        assert self.prep is not None and self.proxy is not None
        argv, env = child_command(self.prep, self.proxy)
        env.setdefault("FORCE_COLOR", "0")
        self.npm_state = "running"
        started = time.time()
        self.npm_process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.request.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.npm_process.stdout is not None
        tail = OutputTail(lambda text: on_line(redact_text(text.rstrip("\n"))))  # npm may echo a URL or flag
        async for raw in self.npm_process.stdout:
            tail(raw.decode("utf-8", "replace"))
        code = await self.npm_process.wait()
        outcome = await asyncio.to_thread(npm_outcome, self.prep, self.proxy, code, started, tail.text())
        self.info.npm_outcome = outcome.to_dict()
        self.info.npm_exit = code
        self.npm_state = f"exit {code}"
        return code

    async def stop_npm(self) -> None:
        process = self.npm_process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        self.npm_state = "stopped"

    def stop(self) -> None:
        """Stop the proxy and remove the run's temporary CA bundle (idempotent)."""
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.prep is not None:
            shutil.rmtree(self.prep.workdir, ignore_errors=True)
