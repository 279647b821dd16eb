"""The real binary in a real terminal (tmux) against the real lab: a 407 shows as the proxy's, with its fix."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.lab.procs import wait_until

pytestmark = pytest.mark.e2e


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def test_npm_install_in_the_dashboard_shows_the_407_and_its_fix(npm_env, verdaccio, lab_pki, squid_factory):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run ./dev test (it installs it)")
    squid = squid_factory(users={"carol": "pw"})
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    env = npm_env.env(NPM_INSPECT_HOME=os.environ["NPM_INSPECT_HOME"], TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    session = f"npm-inspect-{uuid.uuid4().hex[:8]}"
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "inspector", "--", "npm", "install", "lab-hello"])
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", "-c", str(npm_env.project), f"env -i {exports} {command}; sleep 30")
    try:
        screen = lambda: tmux("capture-pane", "-p", "-t", session)  # noqa: E731
        wait_until(lambda: "The corporate proxy wants a login" in screen(), timeout=60, what="the proxy-auth finding on screen")
        text = screen()
        row = next(line for line in text.splitlines() if "proxy-auth" in line)
        assert "CONNECT" in row and "407" in row and "proxy" in row
        assert "proxy-auth-required" in text
        assert "npm config set 'proxy=http://<user>:<password>@127.0.0.1:" in text
        wait_until(lambda: "exit 1" in screen(), timeout=60, what="npm's exit status in the status bar")
        tmux("send-keys", "-t", session, "q")
        wait_until(lambda: "npm-inspect" not in screen().split("\n", 1)[0] or "listening" not in screen(), timeout=20, what="the dashboard to quit")
    finally:
        tmux("kill-session", "-t", session)
