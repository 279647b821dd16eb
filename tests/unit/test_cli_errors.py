"""Bad input: one line naming the fix, exit status 2, never a traceback."""

from __future__ import annotations

import os
import shutil
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
        (["run", "--", "deno", "add", "x"], ["runs npm, pnpm, yarn or bun", "not 'deno'", "npm-inspect run -- npm install"]),
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
        (["--", "deno", "install"], ["runs npm, pnpm, yarn or bun"]),
        (["--", "pnpm", "install"], ["the dashboard needs a terminal", "npm-inspect run --report text -- pnpm"]),
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


def test_another_package_manager_missing_from_path():
    env = dict(os.environ, PATH="/nonexistent")
    assert_one_line_error(inspector("run", "--", "pnpm", "install", env=env), "pnpm is not on PATH", "add its directory to PATH")


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


# -- inputs that used to end in a traceback (exit 70) -------------------------------------------


def test_a_binary_cafile_is_one_line(tmp_path):
    cafile = tmp_path / "corp.der"
    cafile.write_bytes(b"\x30\x82\x03\x0b\xff\xfe\x80" * 50)
    env = dict(os.environ, npm_config_cafile=str(cafile))
    result = inspector("run", "--", "npm", "config", "get", "registry", env=env)
    assert_one_line_error(result, "not a PEM text file", "openssl x509 -inform der")


@pytest.mark.parametrize("variable, command", [("XDG_DATA_HOME", ["run"]), ("XDG_CONFIG_HOME", ["run"]), ("XDG_DATA_HOME", ["sessions"])])
def test_an_unusable_xdg_directory_is_one_line_naming_the_variable(variable, command):
    env = {k: v for k, v in os.environ.items() if k != "NPM_INSPECT_HOME"}
    env[variable] = "/etc/hostname/not-a-dir"  # a path under a file: fails for root too
    args = [*command, "--", "npm", "config", "get", "registry"] if command == ["run"] else command
    result = inspector(*args, env=env)
    if command == ["sessions"]:  # nothing to create when listing: it just finds none
        assert result.returncode == 0 and "Traceback" not in result.stderr
    else:
        assert_one_line_error(result, variable)


def test_a_deeply_nested_har_is_one_line(tmp_path):
    har = tmp_path / "deep.har"
    har.write_text("[" * 100_000 + "]" * 100_000)
    assert_one_line_error(inspector("open", str(har), "--report", "text"))
    har.write_text('{"log": {"entries": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    assert_one_line_error(inspector("open", str(har), "--report", "text"), "nested too deeply")


def test_a_deeply_nested_journal_line_is_skipped_with_a_warning_and_the_rest_is_read(tmp_path):
    from inspector.journal import JournalWriter
    from tests.tui.conftest import proxy_407_session

    store, info = proxy_407_session()
    path = tmp_path / "s.jsonl"
    JournalWriter(path, store, info, None).start().close()
    with path.open("a") as f:
        f.write('{"type":"exchange","data":' + "[" * 100_000 + "]" * 100_000 + "}\n")
    result = inspector("open", str(path), "--report", "text")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "nested too deeply" in result.stderr and "proxy-auth-required" in result.stdout


@pytest.mark.parametrize("flag", ["--har", "--report-file", "--session", "--log-file"])
def test_an_output_that_cannot_be_written_is_refused_before_npm_runs(tmp_path, flag):
    marker = tmp_path / "npm-ran"
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(f"#!/bin/sh\n[ \"$1\" = config ] && exec {shutil.which('npm')} \"$@\"\ntouch {marker}\n")
    npm.chmod(0o755)
    env = dict(os.environ, PATH=f"{npm.parent}:{os.environ['PATH']}")
    result = inspector("run", flag, "/etc/hostname/out", "--", "npm", "install", env=env)
    assert_one_line_error(result, "/etc/hostname", "not a directory")
    assert not marker.exists()


def test_npm_flags_reach_the_config_check_as_npm_parses_them(tmp_path):
    """``--cache DIR`` read as ``--cache=true`` made npm create ./true/_logs in the user's folder."""
    cache = tmp_path / "npm-cache"
    result = subprocess.run(
        [sys.executable, "-m", "inspector", "run", "--report", "json", "--", "npm", "config", "get", "cache", "--cache", str(cache)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(cache) in result.stderr  # npm's own output (json mode sends it to stderr)
    assert not (tmp_path / "true").exists()
