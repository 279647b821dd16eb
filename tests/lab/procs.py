"""Process and port helpers for the lab: free ports, waiting on conditions, stopping by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from inspector.lab.net import free_port, port_open

__all__ = ["ManagedProcess", "free_port", "port_open", "wait_until"]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; raise ``TimeoutError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """A child process we started and must stop (and reap: PID 1 here does not)."""

    def __init__(self, argv: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None):
        self.argv = argv
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen(
            argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def listens_on(self, port: int) -> bool:
        """True when this process's group (Squid forks workers) holds the listening socket on ``port``.

        An open port is not enough: test runs side by side on one machine can pick the same free port, and a
        readiness check would then talk to somebody else's server.
        """
        inodes = _listening_inodes(port)
        if not inodes:
            return False
        for pid in _group_pids(self.proc.pid):
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    except OSError:
                        continue
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return True
            except OSError:
                continue
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL; always reap."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=timeout)
        self._log_file.close()

    def kill(self) -> None:
        """SIGKILL at once (for fault tests), and reap."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._log_file.close()


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port`` (IPv4 and IPv6), from /proc/net."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _group_pids(leader: int) -> list[int]:
    """The process and every process in its group (started with start_new_session, so the group is ours)."""
    pids = [leader]
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != leader:
            try:
                if os.getpgid(int(entry)) == leader:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids
