"""The real npm client with an isolated configuration per test.

Nothing of the developer's own npm setup leaks in: ``globalconfig`` and
``userconfig`` point at files in the test's directory, the cache is fresh,
and proxy variables from the environment are removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NPM = shutil.which("npm") or "npm"

_PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


LAB_DIR = Path(__file__).resolve().parent
NPM12_BIN = LAB_DIR / "npm12" / "node_modules" / ".bin"
"""npm 12.2 and the node 22 it needs (``npm ci`` in tests/lab/npm12, done by ./dev test)."""


@dataclass
class NpmEnv:
    """A throwaway npm world: config files, cache and a project directory.

    ``bin_dir`` goes first on npm's PATH: the lab's npm 12 (with its node 22)
    instead of the machine's npm.
    """

    root: Path
    userconfig_lines: list[str] = field(default_factory=list)
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.project.mkdir(exist_ok=True)
        self.cache.mkdir(exist_ok=True)
        self.globalconfig.write_text("")
        self.write_userconfig(*self.userconfig_lines)
        if not (self.project / "package.json").exists():
            (self.project / "package.json").write_text('{"name":"lab-app","version":"1.0.0","private":true}\n')

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def userconfig(self) -> Path:
        return self.root / "userconfig.npmrc"

    @property
    def globalconfig(self) -> Path:
        return self.root / "global.npmrc"

    def write_userconfig(self, *lines: str) -> None:
        self.userconfig.write_text("".join(f"{line}\n" for line in lines))

    def add_userconfig(self, *lines: str) -> None:
        with self.userconfig.open("a") as f:
            f.writelines(f"{line}\n" for line in lines)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS and not k.lower().startswith("npm_config_")}
        env.update(
            npm_config_userconfig=str(self.userconfig),
            npm_config_globalconfig=str(self.globalconfig),
            npm_config_cache=str(self.cache),
            npm_config_update_notifier="false",
            npm_config_fund="false",
            npm_config_audit="false",
            npm_config_fetch_retries="0",
            npm_config_fetch_timeout="20000",
            NO_COLOR="1",
        )
        if self.bin_dir is not None:
            env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    @property
    def npm(self) -> str:
        """The npm program this world runs."""
        return str(self.bin_dir / "npm") if self.bin_dir is not None else NPM

    def run(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.npm, *args],
            cwd=self.project,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def run_in_pty(argv: list[str], answers: list[tuple[str, str]], *, cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run a command on a pseudo-terminal, typing each answer once its prompt shows (``npm login`` needs a TTY).

    Returns the exit status and everything the command printed.
    """
    import os
    import pty
    import select
    import time

    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True)
    os.close(slave)
    output = b""
    searched = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            found = output.find(pending[0][0].encode(), searched) if pending else -1
            if found >= 0:
                prompt, answer = pending.pop(0)
                searched = found + len(prompt)  # the next prompt must come after this one
                os.write(master, answer.encode() + b"\r")
            if process.poll() is not None and not ready:
                break
        else:
            process.kill()
    finally:
        os.close(master)
    return process.wait(timeout=10), output.decode("utf-8", "replace")
