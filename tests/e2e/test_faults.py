"""Faults survived: the proxy dies and comes back, the registry misbehaves, npm is killed, a client
dribbles, a 1 GB tarball streams through, the dashboard raises, the disk is full. Bounded, loopback only."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from inspector.ca import ensure_ca
from inspector.diagnose import diagnose
from inspector.journal import JournalWriter, read_journal
from inspector.proxy import InspectorProxy, ProxyConfig
from inspector.records import Hop
from inspector.runner import RunRequest, child_command, prepare
from inspector.session import SessionInfo, SessionStore
from tests.lab import REGISTRY_HOST
from tests.lab.packages import tree
from tests.lab.procs import wait_until
from tests.lab.squid import Squid, SquidConfig

from .test_load import origin  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture
def inspector(tmp_path):
    """npm-inspect's proxy in direct mode, in this process."""
    ensure_ca(tmp_path / "ca")
    store = SessionStore()
    proxy = InspectorProxy(ProxyConfig(confdir=tmp_path / "ca"), store.add).start()
    yield proxy, store
    proxy.stop()


def fetch(proxy: InspectorProxy, url: str, timeout: float = 20) -> int | str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
    try:
        with opener.open(url, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        return type(e).__name__


def loop_tasks(proxy: InspectorProxy) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return asyncio.run_coroutine_threadsafe(count(), proxy._loop).result(5)


def test_the_upstream_proxy_killed_mid_install_and_restarted(tmp_path, npm_env, verdaccio):
    root, leaves = tree(40, "fault-pkg")
    verdaccio.publish(*leaves, root)
    squid = Squid(SquidConfig()).start()
    port = squid.port
    npm_env.write_userconfig(f"registry={verdaccio.url('http')}", f"proxy={squid.url}", f"https-proxy={squid.url}")
    store = SessionStore()
    prep = prepare(RunRequest(argv=["npm", "install", root.name, "--no-package-lock"], cwd=str(npm_env.project), env=npm_env.env()))
    proxy = InspectorProxy(prep.proxy_config, store.add).start()
    try:
        argv, env = child_command(prep, proxy)
        first = subprocess.Popen(argv, cwd=npm_env.project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: sum(1 for e in store.exchanges() if e.status == 200) >= 3, timeout=60, what="the install to start")
        squid.kill()
        assert first.wait(120) != 0
        failed = [e for e in store.exchanges() if e.failed]
        assert failed and all(e.hop == Hop.PROXY for e in failed)
        assert "proxy-unreachable" in [f.rule for f in diagnose(store.exchanges())], [(e.status, e.error) for e in failed]

        squid.cleanup()
        again = Squid(SquidConfig(), port=port).start()
        try:
            seen = len(store)
            second = subprocess.run(argv, cwd=npm_env.project, env=env, capture_output=True, text=True, timeout=180)
            assert second.returncode == 0, second.stderr[-1500:]
            later = store.exchanges()[seen:]
            assert later and all(e.status in (200, 304) for e in later if e.host == REGISTRY_HOST)
        finally:
            again.cleanup()
    finally:
        proxy.stop()


def test_a_registry_that_resets_and_answers_500_and_502(inspector, origin):  # noqa: F811
    proxy, store = inspector
    base = f"http://127.0.0.1:{origin}"
    assert fetch(proxy, f"{base}/500") == 500
    assert fetch(proxy, f"{base}/502") == 502
    assert fetch(proxy, f"{base}/reset") != 200
    assert fetch(proxy, f"{base}/ok") == 200  # still serving
    wait_until(lambda: len(store) >= 4, timeout=10, what="four records")
    by_path = {e.path: e for e in store.exchanges()}
    assert by_path["/500"].hop == Hop.REGISTRY and by_path["/502"].hop == Hop.REGISTRY
    reset = by_path["/reset"]
    assert reset.status in (None, 502) and reset.hop == Hop.REGISTRY


def test_npm_killed_mid_download_is_a_client_abort_and_leaks_nothing(inspector, origin, npm_env):  # noqa: F811
    proxy, store = inspector
    baseline = loop_tasks(proxy)
    env = npm_env.env(npm_config_proxy=proxy.url, npm_config_https_proxy=proxy.url)
    npm = subprocess.Popen(
        ["npm", "install", f"http://127.0.0.1:{origin}/slow/50000000"],
        cwd=npm_env.project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    wait_until(lambda: proxy.open_connections() > 0, timeout=30, what="npm to connect")
    time.sleep(1.0)  # let some of the body flow: a mid-download kill, not a race against the connect
    os.killpg(npm.pid, signal.SIGKILL)
    npm.wait(10)
    wait_until(lambda: any(e.path.startswith("/slow/") for e in store.exchanges()), timeout=15, what="the aborted record")
    aborted = next(e for e in store.exchanges() if e.path.startswith("/slow/"))
    assert aborted.error is not None and aborted.hop == Hop.CLIENT and aborted.error.kind == "client-abort"
    wait_until(lambda: proxy.open_connections() == 0, timeout=15, what="the connection to be released")
    wait_until(lambda: loop_tasks(proxy) <= baseline, timeout=15, what="the proxy's tasks to end")


def test_a_slow_loris_client_does_not_hold_up_others(inspector, origin):  # noqa: F811
    proxy, store = inspector
    slow = socket.create_connection(("127.0.0.1", proxy.port))
    stop = threading.Event()

    def dribble() -> None:
        for byte in f"GET http://127.0.0.1:{origin}/ok HTTP/1.1\r\nX-Slow: ".encode() + b"z" * 200:
            if stop.is_set():
                return
            try:
                slow.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.02)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        assert [fetch(proxy, f"http://127.0.0.1:{origin}/ok") for _ in range(20)] == [200] * 20
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        slow.close()
        thread.join(5)
    wait_until(lambda: proxy.open_connections() == 0, timeout=15, what="the dribbling connection to be released")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_1_gb_tarball_streams_through_with_flat_memory(inspector, origin):  # noqa: F811
    proxy, store = inspector
    size = 1 << 30
    before = _rss_mb()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = 0
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(f"GET http://127.0.0.1:{origin}/big/{size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        received = len(head.split(b"\r\n\r\n", 1)[1])
        while received < size:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
    done.set()
    sampler.join()
    assert received == size
    wait_until(lambda: any(e.path.startswith("/big/") for e in store.exchanges()), timeout=15, what="the record")
    record = next(e for e in store.exchanges() if e.path.startswith("/big/"))
    assert record.bytes_received == size and record.body_preview is None
    assert peak - before < 150, f"RSS grew by {peak - before:.0f} MB while streaming 1 GB"


async def test_a_widget_that_raises_does_not_stop_capture_or_the_journal(tmp_path, inspector, origin, monkeypatch):  # noqa: F811
    from inspector.tui.app import InspectorApp

    proxy, store = inspector
    journal = JournalWriter(tmp_path / "s.jsonl", store, SessionInfo(npm_argv=["npm", "ci"]), None).start()
    assert fetch(proxy, f"http://127.0.0.1:{origin}/ok") == 200
    app = InspectorApp(store, info=SessionInfo(), source="live", journal=journal)

    def broken(*args, **kwargs):
        raise ValueError("a widget bug")

    monkeypatch.setattr("inspector.tui.widgets.panels.detail", broken)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.errors and set(app.errors) == {"ValueError: a widget bug"} and app.is_running
            assert any("Dashboard error" in str(n.title) for n in app._notifications)
            assert await asyncio.to_thread(fetch, proxy, f"http://127.0.0.1:{origin}/ok?after=1") == 200
            await pilot.pause(0.6)
            assert len(app.table.rows) == 2
    finally:
        journal.close()
    assert len(read_journal(tmp_path / "s.jsonl").exchanges) == 2


async def test_a_full_disk_is_a_warning_in_the_dashboard_and_capture_goes_on(inspector, origin):  # noqa: F811
    from inspector.tui.app import InspectorApp

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this machine")
    proxy, store = inspector
    journal = JournalWriter(Path("/dev/full"), store, SessionInfo(), None)
    app = InspectorApp(store, info=SessionInfo(), source="live", journal=journal)
    async with app.run_test(size=(120, 36)) as pilot:
        journal.start()
        for _ in range(3):
            assert await asyncio.to_thread(fetch, proxy, f"http://127.0.0.1:{origin}/ok") == 200
        await pilot.pause(1.0)
        assert journal.error and "capture continues in memory" in journal.error
        assert any("capture continues in memory" in str(n.message) for n in app._notifications)
        assert len(app.table.rows) == 3
    journal.close()
