"""Exposure: loopback by default, an explicit flag and a generated password otherwise, owner-only files,
and no secret in the log at any level."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from inspector.ca import ensure_ca
from inspector.listener import ListenerCredential
from inspector.proxy import InspectorProxy, ProxyConfig
from inspector.session import SessionStore
from tests.lab.fixtures import run_inspector

from .test_faults import fetch
from .test_load import origin  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_proxy_listens_on_loopback_by_default(tmp_path):
    ensure_ca(tmp_path / "ca")
    proxy = InspectorProxy(ProxyConfig(confdir=tmp_path / "ca"), SessionStore().add).start()
    try:
        assert proxy.host == "127.0.0.1"
    finally:
        proxy.stop()


def test_beyond_loopback_a_proxy_password_is_required(tmp_path, origin):  # noqa: F811
    ensure_ca(tmp_path / "ca")
    listener = ListenerCredential("npm-inspect", "s3cret-gen")
    proxy = InspectorProxy(ProxyConfig(confdir=tmp_path / "ca", listen_host="127.0.0.2", listener=listener), SessionStore().add).start()
    try:
        assert proxy.host == "127.0.0.2"
        assert fetch(proxy, f"http://127.0.0.1:{origin}/ok") == 407
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://npm-inspect:s3cret-gen@127.0.0.2:{proxy.port}"}))
        with opener.open(f"http://127.0.0.1:{origin}/ok", timeout=10) as response:
            assert response.status == 200
    finally:
        proxy.stop()


def test_run_beyond_loopback_generates_a_password_and_npm_still_works(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    run = run_inspector(npm_env, "--listen-host", "127.0.0.2", "--i-know-this-is-exposed", npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    warning = next(line for line in run.process.stderr.splitlines() if line.startswith("npm-inspect: warning: listening on 127.0.0.2"))
    assert re.search(r"authenticate as npm-inspect:\S{16,}", warning)


def test_ca_key_sessions_reports_and_logs_are_owner_only(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    run = run_inspector(npm_env, "--session", str(tmp_path / "s.jsonl"), "--har", str(tmp_path / "s.har"), npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    home = Path(os.environ["NPM_INSPECT_HOME"])
    assert mode(home / "ca") == 0o700
    assert mode(home / "ca" / "mitmproxy-ca.pem") == 0o600  # the private key
    assert mode(home / "fingerprint.key") == 0o600
    assert mode(tmp_path / "s.jsonl") == 0o600 and mode(tmp_path / "s.har") == 0o600
    assert mode(home / "npm-inspect.log") == 0o600


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error"])
def test_no_secret_in_the_log_at_any_level(level, npm_env, verdaccio, lab_pki, squid_factory):
    password = "L0g-Secret@pw:1"
    squid = squid_factory(users={"carol": password})
    token = verdaccio.tokens["alice"]
    nerf = verdaccio.url("https").replace("https:", "")
    npm_env.write_userconfig(
        f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}",
        f"https-proxy={squid.url_with('carol', password)}", f"{nerf}:_authToken={token}",
    )
    log = Path(os.environ["NPM_INSPECT_HOME"]) / f"{level}.log"
    run = run_inspector(npm_env, "--log-level", level, "--log-file", str(log), npm_args=["view", "@corp/secret", "version"])
    assert run.exit == 0, run.process.stderr
    text = log.read_text() if log.exists() else ""
    for secret in (password, token, "L0g-Secret%40pw%3A1"):
        assert secret not in text
    if level == "debug":
        assert " DEBUG " in text and " INFO mitmproxy" in text  # mitmproxy's own logging went through the redactor


def test_python_older_than_3_12_gets_one_line():
    import shutil
    import subprocess

    old = next((p for p in ("python3.11", "python3.10", "python3") if shutil.which(p)), None)
    if old is None or subprocess.run([old, "-c", "import sys; sys.exit(sys.version_info >= (3, 12))"]).returncode != 0:
        pytest.skip("no Python older than 3.12 on this machine")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([old, "-m", "inspector", "run", "--", "npm", "view", "x"], capture_output=True, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "too old" in result.stderr and "3.12" in result.stderr and sys.version_info >= (3, 12)


def test_every_output_is_owner_only_even_over_a_looser_existing_file(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    """A 0644 file already at --session/--har/--report-file/--log-file does not keep its mode (another user read a
    --no-redact HAR that way)."""
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    targets = {name: tmp_path / name for name in ("s.jsonl", "s.har", "r.json", "l.log")}
    for path in targets.values():
        path.write_text("")
        path.chmod(0o644)
    run = run_inspector(
        npm_env,
        "--session", str(targets["s.jsonl"]), "--har", str(targets["s.har"]), "--no-redact",
        "--report-file", str(targets["r.json"]), "--log-file", str(targets["l.log"]),
        npm_args=["view", "lab-hello", "version"],
    )
    assert run.exit == 0, run.process.stderr
    assert {name: oct(mode(path)) for name, path in targets.items()} == {name: "0o600" for name in targets}
    assert json.loads(targets["r.json"].read_text())["exchanges"]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left beside the targets


def test_saved_attachments_are_owner_only(tmp_path):
    from inspector.diagnose import Finding
    from inspector.fixes import save_attachments
    from inspector.records import Hop

    finding = Finding("tls-untrusted", "error", Hop.TLS, "t", "e", attachments=(("corp-ca.pem", "-----BEGIN CERTIFICATE-----\n"),))
    save_attachments([finding], tmp_path / "saved")
    assert mode(tmp_path / "saved") == 0o700 and mode(tmp_path / "saved" / "corp-ca.pem") == 0o600


def test_rejected_proxy_options_leave_no_stray_ca_in_home(tmp_path, monkeypatch):
    from inspector.errors import ProxyStartError

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ensure_ca(tmp_path / "ca")
    with pytest.raises(ProxyStartError):
        InspectorProxy(ProxyConfig(confdir=tmp_path / "ca", extra_options={"proxyauth": "no-colon"}), SessionStore().add).start()
    assert not (tmp_path / "home" / ".mitmproxy").exists()


@pytest.mark.parametrize("cafile", ["missing", "binary"])
def test_no_temporary_folder_is_left_after_a_cafile_error(tmp_path, npm_env, cafile):
    temp = tmp_path / "tmp"
    temp.mkdir()
    bad = tmp_path / "corp.der"
    if cafile == "binary":
        bad.write_bytes(b"\x30\x82\x03\x0b\xff\xfe\x80" * 50)
    npm_env.write_userconfig(f"cafile={bad}")
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"], env={"TMPDIR": str(temp)})
    assert run.exit == 2 and len(run.process.stderr.strip().splitlines()) == 1, run.process.stderr
    assert ("not a PEM text file" if cafile == "binary" else "cannot be read") in run.process.stderr
    assert list(temp.iterdir()) == []
