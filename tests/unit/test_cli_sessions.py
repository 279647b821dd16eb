"""Saved sessions from the command line: sessions, open --report, export, bundle, serve."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile

import pytest

from inspector.journal import JournalWriter
from inspector.paths import sessions_dir
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until
from tests.tui.conftest import proxy_407_session


def inspector(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture
def saved(tmp_path):
    store, info = proxy_407_session()
    directory = sessions_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "20261124-100000-install-lodash.jsonl"
    JournalWriter(path, store, info, None).start().close()
    return path


def test_sessions_lists_the_saved_one(saved):
    out = inspector("sessions").stdout
    assert str(saved) in out and "7 exchanges" in out and "exit 1" in out and "npm install lodash" in out


def test_sessions_when_there_are_none():
    assert "No sessions yet" in inspector("sessions").stdout


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_open_prints_the_report(saved, fmt):
    result = inspector("open", str(saved), "--report", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        assert json.loads(result.stdout)["findings"][0]["rule"] == "proxy-auth-required"
    else:
        assert "proxy-auth-required" in result.stdout


def test_open_a_har_prints_the_same_findings(saved, tmp_path):
    har = tmp_path / "s.har"
    assert inspector("export", str(saved), "--har", str(har)).returncode == 0
    from_journal = json.loads(inspector("open", str(saved), "--report", "json").stdout)["findings"]
    from_har = json.loads(inspector("open", str(har), "--report", "json").stdout)["findings"]
    assert from_har == from_journal


def test_export_no_redact_says_what_it_can_include(saved, tmp_path):
    result = inspector("export", str(saved), "--har", str(tmp_path / "x.har"), "--no-redact")
    assert result.returncode == 0 and "never hold secrets" in result.stderr


def test_bundle_holds_har_report_config_and_versions(saved, tmp_path):
    out = tmp_path / "ticket.zip"
    result = inspector("bundle", "-o", str(out))  # the newest session
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "har.har", "npm-config.json", "report.md", "versions.json"]
        assert "proxy-auth-required" in archive.read("report.md").decode()
        assert "hunter2" not in b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert (out.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    "args, words",
    [
        (["open", "/nonexistent.jsonl", "--report", "text"], "does not exist"),
        (["open", "/tmp", "--report", "text"], "is a directory"),
        (["bundle", "-o", "/nonexistent-dir/x.zip"], "does not exist"),
        (["export", "/nonexistent.jsonl", "--har", "x.har"], "does not exist"),
        (["bundle", "-o", "x.zip"], "no saved session yet"),
        (["open", "--follow", "--report", "text", "FILE"], "drop --follow"),
        (["serve", "--host", "127.0.0.2", "FILE"], "--i-know-this-is-exposed"),
        (["serve", "--host", "0.0.0.0", "--i-know-this-is-exposed", "FILE"], "give the one address the browser will use"),
        (["serve", "NOTES"], "neither an npm-inspect session"),
        (["sessions", "--", "npm", "install"], "takes no npm command"),
    ],
)
def test_bad_session_commands(args, words, tmp_path):
    if "FILE" in args:
        path = tmp_path / "s.jsonl"
        store, info = proxy_407_session()
        JournalWriter(path, store, info, None).start().close()
        args = [str(path) if a == "FILE" else a for a in args]
    if "NOTES" in args:
        (tmp_path / "notes.txt").write_text("hello")
        args = [str(tmp_path / "notes.txt") if a == "NOTES" else a for a in args]
    result = inspector(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


def test_a_non_session_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = inspector("open", str(path), "--report", "text")
    assert result.returncode == 2 and "neither an npm-inspect session" in result.stderr


def _get(url: str) -> int:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_serve_on_loopback_needs_the_printed_token_too(saved, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    process = ManagedProcess([sys.executable, "-m", "inspector", "serve", str(saved), "--port", str(port)], log=log, env=dict(os.environ))
    try:
        wait_until(lambda: port_open(port), timeout=30, what="npm-inspect serve")
        token = re.search(rf"serving .* at http://127\.0\.0\.1:{port}/\?token=([\w-]{{40,}}) ", log.read_text()).group(1)
        assert _get(f"http://127.0.0.1:{port}/") == 403
        assert _get(f"http://127.0.0.1:{port}/?token={token[:-1]}") == 403
        assert _get(f"http://127.0.0.1:{port}/?token={token}") == 200
    finally:
        process.stop()
    assert log.read_text().count(token) == 1  # printed once, for the user to open


def test_serve_beyond_loopback_needs_the_flag_and_then_the_token(saved, tmp_path):
    port = free_port("127.0.0.2")
    log = tmp_path / "serve.log"
    process = ManagedProcess(
        [sys.executable, "-m", "inspector", "serve", str(saved), "--host", "127.0.0.2", "--i-know-this-is-exposed", "--port", str(port)],
        log=log,
        env=dict(os.environ),
    )
    try:
        wait_until(lambda: port_open(port, "127.0.0.2"), timeout=30, what="npm-inspect serve")
        token = re.search(r"\?token=([\w-]+)", log.read_text()).group(1)
        assert _get(f"http://127.0.0.2:{port}/") == 403
        assert _get(f"http://127.0.0.2:{port}/?token=wrong") == 403
        assert _get(f"http://127.0.0.2:{port}/?token={token}") == 200
    finally:
        process.stop()
    assert "warning: serving on 127.0.0.2" in log.read_text()


def test_serve_on_a_taken_port_is_one_line(saved):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = inspector("serve", str(saved), "--port", str(sock.getsockname()[1]))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "token" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "choose another --port" in result.stderr
