"""The real binary in a real terminal (tmux) against the real lab: a 407 shows as the proxy's, with its fix — and
the fix is tried, written and proven without leaving the dashboard."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.lab.procs import wait_until
from tests.lab.terminal import dashboard

pytestmark = pytest.mark.e2e


def test_npm_install_in_the_dashboard_shows_the_407_and_its_fix(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={"carol": "pw"})
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    with dashboard(npm_env, "--", "npm", "install", "lab-hello") as terminal:
        screen = terminal.screen
        wait_until(lambda: "The corporate proxy wants a login" in screen(), timeout=60, what="the proxy-auth finding on screen")
        text = screen()
        row = next(line for line in text.splitlines() if "proxy-auth" in line)
        assert "CONNECT" in row and "407" in row and "proxy" in row
        assert "proxy-auth-required" in text
        assert "npm config set 'proxy=http://<user>:<password>@127.0.0.1:" in text
        wait_until(lambda: "exit 1" in screen(), timeout=60, what="npm's exit status in the status bar")
        terminal.keys("q")
        wait_until(lambda: "session saved to" in screen(), timeout=20, what="the dashboard to quit")


def test_from_a_407_to_a_written_and_proven_fix_without_leaving_the_dashboard(npm_env, verdaccio, lab_pki, squid_factory):
    """npm-inspect -- npm install → 407 → x → the password typed (hidden) → tried through the same inspector →
    w → the user's npmrc holds the percent-encoded URL, a backup exists, and a plain npm install passes."""
    password = "Tmux@Pass:7"
    squid = squid_factory(users={"carol": password})
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"proxy={squid.url}", f"https-proxy={squid.url}")
    before = npm_env.userconfig.read_text()
    with dashboard(npm_env, "--", "npm", "install", "lab-hello") as terminal:
        screen = terminal.screen
        wait_until(lambda: "proxy-auth-required" in screen() and "exit 1" in screen(), timeout=60, what="the 407 and its finding")
        terminal.keys("f", "x")
        wait_until(lambda: "<password> (hidden as you type)" in screen(), timeout=30, what="the values screen")
        terminal.type("carol")
        wait_until(lambda: "carol" in screen(), timeout=10, what="the user name typed")
        terminal.keys("Enter")
        terminal.type(password)
        wait_until(lambda: "•" * len(password) in screen(), timeout=10, what="the password typed, hidden")
        assert password not in screen()
        terminal.keys("Enter")
        wait_until(lambda: "the finding is gone" in screen(), timeout=90, what="the fix tried in run 2")
        assert "run 2 (fix: npm config set" in screen() and password not in screen()
        terminal.keys("w")
        wait_until(lambda: "Write it (y)" in screen(), timeout=30, what="the write confirmation")
        assert "https-proxy=http://carol:***@127.0.0.1:" in screen() and password not in screen()
        terminal.keys("y")
        wait_until(lambda: "Written to" in screen(), timeout=30, what="the fix written")
        terminal.keys("q")
        wait_until(lambda: "session saved to" in screen(), timeout=30, what="the dashboard to quit")
    written = npm_env.userconfig.read_text()
    assert f"https-proxy=http://carol:{quote(password, safe='')}@127.0.0.1:{squid.port}" in written
    backups = list(npm_env.userconfig.parent.glob(f"{npm_env.userconfig.name}.npm-inspect-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == before
    result = npm_env.run("install", "lab-hello")
    assert result.returncode == 0, result.stderr
