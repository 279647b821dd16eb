"""Bad input: one line naming the fix, exit status 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def inspector(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True, timeout=60, env=env or dict(os.environ))


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npm-inspect: error: "), result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "--"], ["nothing to run", "npm-inspect run -- npm install"]),
        (["run"], ["nothing to run"]),
        (["run", "--upstream", "proxy.corp:3128", "--", "npm", "view", "x"], ["no scheme", "http://host:port"]),
        (["run", "--upstream", "socks5://p:1080", "--", "npm", "view", "x"], ["npm cannot use"]),
        (["run", "--port", "0", "--", "npm", "view", "x"], ["out of range"]),
        (["run", "--port", "http", "--", "npm", "view", "x"], ["not a number"]),
        (["run", "--", "yarn", "add", "x"], ["runs npm", "npm-inspect run -- npm add x"]),
        (["run", "--report", "pdf", "--", "npm", "view", "x"], ["invalid choice"]),
        (["run", "--listen-host", "0.0.0.0", "--", "npm", "view", "x"], ["--i-know-this-is-exposed"]),
        (["frobnicate"], ["unrecognized arguments"]),
        (["run", "--upstream", "http://", "--", "npm", "view", "x"], ["no host"]),
        (["run", "--upstream", "http://proxy:70000", "--", "npm", "view", "x"], ["not a valid URL"]),
        (["run", "--no-redact", "--", "npm", "view", "x"], ["--no-redact only applies to --har"]),
        (["run", "--fix-value", "novalue", "--", "npm", "view", "x"], ["needs NAME=VALUE"]),
        (["run", "--report-file", "/nonexistent-dir/r.txt", "--", "npm", "view", "x"], ["does not exist"]),
        (["run", "--har", "/tmp", "--", "npm", "view", "x"], ["is a directory"]),
        (["run", "--session", "/tmp", "--", "npm", "view", "x"], ["is a directory"]),
        (["run", "--log-file", "/nonexistent-dir/x.log", "--", "npm", "view", "x"], ["does not exist"]),
        (["run", "--log-level", "loud", "--", "npm", "view", "x"], ["invalid choice"]),
        (["--port", "-1"], ["out of range"]),
        (["--listen-host", "10.0.0.1"], ["--i-know-this-is-exposed"]),
        (["--", "pnpm", "install"], ["runs npm"]),
        (["export", "/etc/hostname"], ["required: --har"]),
        (["bundle"], ["required"]),
        (["serve", "--port", "99999"], ["out of range"]),
        (["serve", "--host", "::", "--i-know-this-is-exposed"], ["listens on every address", "give the one address"]),
        (["serve", "--host", "10.0.0.1"], ["--i-know-this-is-exposed"]),
        (["sessions", "--limit", "many"], ["invalid int"]),
        (["demo", "--apply-fix"], ["add --report json"]),
        (["demo", "nope", "--report", "json"], ["unknown scenario"]),
        (["demo", "--report", "pdf"], ["invalid choice"]),
        (["open"], ["required"]),
        (["ca", "--bundle", "extra"], ["unrecognized arguments"]),
        (["open", "x.jsonl", "--", "npm", "install"], ["takes no npm command"]),
    ],
)
def test_bad_arguments(args, words):
    assert_one_line_error(inspector(*args), *words)


def test_npm_missing_from_path():
    env = dict(os.environ, PATH="/nonexistent")
    assert_one_line_error(inspector("run", "--", "npm", "view", "x", env=env), "not on PATH", "install Node.js")


def test_a_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert_one_line_error(inspector("run", "--port", str(port), "--", "npm", "view", "x"), "already in use", "--port")


def test_credentials_never_echo_in_errors():
    result = inspector("run", "--upstream", "ftp://carol:hunter2@p:21", "--", "npm", "view", "x")
    assert_one_line_error(result)
    assert "hunter2" not in result.stderr
