"""The addon in stock mitmproxy: ``mitmdump -s addons/npm_capture.py`` prints one line per exchange."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from inspector.ca import ensure_ca
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mitmdump_with_the_script_prints_each_exchange_and_relays_407(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={"carol": "pw"})
    confdir = tmp_path / "mitm"
    mitm_ca = ensure_ca(confdir)  # created once, before mitmdump starts
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(lab_pki.ca.cert.read_text() + mitm_ca.read_text())
    port = free_port()
    mitmdump = Path(sys.executable).with_name("mitmdump")
    log = tmp_path / "mitmdump.log"
    process = ManagedProcess(
        [str(mitmdump), "-s", str(ROOT / "addons" / "npm_capture.py"), "--listen-host", "127.0.0.1", "-p", str(port),
         "--mode", f"upstream:{squid.url}", "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={lab_pki.ca.cert}"],
        log=log,
    )
    try:
        wait_until(lambda: port_open(port), timeout=30, what="mitmdump to listen")
        registry = verdaccio.url("https")
        common = [f"--registry={registry}", f"--cafile={bundle}"]
        refused = npm_env.run("view", "lab-hello", "version", *common, f"--https-proxy=http://127.0.0.1:{port}")
        allowed = npm_env.run("view", "lab-hello", "version", *common, f"--https-proxy=http://carol:pw@127.0.0.1:{port}")
        wait_until(lambda: "GET https://" in log.read_text(), timeout=10, what="mitmdump to print the GET")
    finally:
        process.stop()
    assert "npm error code E407" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    lines = [line.split("npm-inspect: ", 1)[1] for line in log.read_text().splitlines() if "npm-inspect: " in line]
    host = registry.split("//")[1].rstrip("/")
    assert any(line.startswith(f"CONNECT {host} 407 proxy") for line in lines), lines
    assert any(line.startswith(f"CONNECT {host} 200 proxy") for line in lines), lines
    assert any(line.startswith(f"GET https://{host}/lab-hello 200 registry") for line in lines), lines
    # a tunnel is printed once, when the proxy answers, and not again when it closes
    assert all(line.endswith("open") for line in lines if line.startswith(f"CONNECT {host} 200"))
