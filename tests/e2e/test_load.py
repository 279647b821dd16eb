"""Nothing lost under load: every request is captured, journaled and shown, and the counts agree with the
proxy's and the registry's own logs. Bounded: 10,000 synthetic requests, one install of 301 packages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.ca import ensure_ca
from inspector.journal import JournalWriter, read_journal
from inspector.proxy import InspectorProxy, ProxyConfig
from inspector.session import SessionInfo, SessionStore
from inspector.tui.app import InspectorApp
from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import run_inspector
from tests.lab.packages import tree
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until
from tests.lab.verdaccio import count_requests

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def origin(tmp_path):
    port = free_port()
    process = ManagedProcess([sys.executable, "-m", "tests.lab.origin", str(port)], log=tmp_path / "origin.log", cwd=ROOT)
    wait_until(lambda: port_open(port), timeout=15, what="the origin server")
    yield port
    process.stop()


def origin_count(port: int) -> int:
    import urllib.request

    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://127.0.0.1:{port}/-/count", timeout=10) as r:
        return int(r.read())


async def test_ten_thousand_requests_over_two_hundred_connections_are_all_captured(tmp_path, origin):
    store = SessionStore()
    proxy = InspectorProxy(ProxyConfig(confdir=tmp_path / "ca"), store.add)
    ensure_ca(tmp_path / "ca")
    proxy.start()
    journal = JournalWriter(tmp_path / "load.jsonl", store, SessionInfo(), None).start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.lab.load", str(proxy.port), str(origin), "10000", "200"],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
        )
        summary = json.loads(result.stdout)
        wait_until(lambda: len(store) >= 10_000, timeout=60, what="every record in the store")
        proxy.settle(5)
    finally:
        proxy.stop()
        journal.close()
    assert summary == {"ok": 10_000, "failed": 0, "seconds": summary["seconds"]}
    assert origin_count(origin) == 10_000
    records = store.exchanges()
    assert len(records) == 10_000 and all(e.status == 200 and e.hop.value == "registry" for e in records)
    assert len(read_journal(tmp_path / "load.jsonl").exchanges) == 10_000
    app = InspectorApp(store, info=SessionInfo(), source="journal")
    async with app.run_test(size=(120, 36)):
        assert len(app.table.rows) == 10_000


def test_a_301_package_install_agrees_with_squid_and_verdaccio(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    root, leaves = tree(300, "load-pkg")
    verdaccio.publish(*leaves, root)
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('http')}", f"proxy={squid.url}", f"https-proxy={squid.url}")
    before = count_requests(verdaccio)
    session = tmp_path / "install.jsonl"
    run = run_inspector(npm_env, "--session", str(session), npm_args=["install", root.name, "--no-package-lock"], timeout=600)
    assert run.exit == 0, run.process.stderr[-2000:]
    captured = [e for e in run.report["exchanges"] if e["method"] == "GET" and e["host"] == REGISTRY_HOST]
    squid_gets = [e for e in squid.access_entries() if e["method"] == "GET" and REGISTRY_HOST in e["url"]]
    wait_until(lambda: count_requests(verdaccio) - before >= len(captured), timeout=10, what="Verdaccio's log")
    assert len(captured) >= 602  # a packument and a tarball per package
    assert len(captured) == len(squid_gets) == count_requests(verdaccio) - before
    journaled = [e for e in read_journal(session).exchanges if e.method == "GET"]
    assert len(journaled) == len(captured)
