"""``npm-inspect serve`` in a real browser: Debian's Chromium, driven by Playwright, against the real server.

The served terminal is a canvas, so these tests read what the page received
over its websocket (tests/lab/browser.py). Processes are counted as children
of the serve process: a refused connection must start none.
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inspector.journal import JournalWriter
from inspector.records import Hop
from inspector.session import SessionStore
from tests.lab.browser import served_page, served_text
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until
from tests.tui.conftest import proxy_407_session, record

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    """The live (not zombie) direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Served:
    process: ManagedProcess
    url: str
    token: str
    port: int
    journal: JournalWriter
    store: SessionStore
    log_file: Path
    tmp: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, token: str | None = None, host: str = "127.0.0.1") -> str:
        return f"ws://{host}:{self.port}/ws/{self.token if token is None else token}"

    def processes(self) -> int:
        return len(children(self.process.pid))


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    """A session being written (its journal stays open, so the test can grow it) served on a free port."""
    store, info = proxy_407_session()
    path = tmp_path / "growing.jsonl"
    journal = JournalWriter(path, store, info, None).start()
    port = free_port()
    log_file = tmp_path / "npm-inspect.log"
    (tmp_path / "tmp").mkdir()
    process = ManagedProcess(
        [sys.executable, "-m", "inspector", "serve", str(path), "--port", str(port), "--log-level", "debug", "--log-file", str(log_file)],
        log=tmp_path / "serve.out",
        env=dict(os.environ, TMPDIR=str(tmp_path / "tmp")),
    )
    try:
        wait_until(lambda: port_open(port) or not process.alive(), timeout=30, what="npm-inspect serve")
        assert process.alive(), process.log_tail()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/\?token=([\w-]+))", process.log.read_text())
        assert match, process.log_tail()
        yield Served(process, match.group(1), match.group(2), port, journal, store, log_file, tmp_path)
    finally:
        process.stop()
        journal.close()


def test_the_browser_shows_the_followed_dashboard_and_its_growth(served):
    with served_page(served.url) as page:
        assert page.response.status == 200
        page.wait_for_text("proxy-auth", "CONNECT registry.npmjs.org:443", "/@corp%2fsecret", "7 / 7 rows")
        page.wait_for_text("proxy-auth-required", "The corporate proxy wants a login and npm sent none")  # the finding
        assert served.processes() == 1

        mark = page.mark()
        page.press("d")  # the detail of the highlighted exchange
        page.wait_for_text("TLS issuer      CN=Corp SSL Inspection CA", "proxy connect", since=mark)

        mark = page.mark()
        served.store.add(record(8, path="/grown-after-the-page-opened", status=404, reason="Not Found", hop=Hop.REGISTRY))
        page.wait_for_text("/grown-after-the-page-opened", "8 / 8 rows", since=mark)
    served.process.stop()
    # the token was printed once, for the user; nothing npm-inspect wrote holds it (debug log, state, temp files)
    assert served.process.log.read_text().count(served.token) == 1
    written = [p for root in (served.tmp, Path(os.environ["NPM_INSPECT_HOME"])) for p in root.rglob("*") if p.is_file()]
    assert served.log_file in written and "starting the dashboard" in served.log_file.read_text()
    assert [p.name for p in written if served.token.encode() in p.read_bytes() and p != served.process.log] == []


def test_without_the_token_the_page_and_the_websocket_are_refused(served):
    base = f"{served.origin}/"
    with served_page(base) as page:
        assert page.response.status == 403
        assert page.probe_websocket(served.ws(token="")) == "refused"
        assert page.probe_websocket(served.ws(token="not-the-token")) == "refused"
        assert page.probe_websocket(served.ws(token=served.token[:-1])) == "refused"
        assert page.goto_status(f"{base}?token=not-the-token") == 403
        assert served.processes() == 0
        log = served.log_file.read_text()
        assert log.count("refused the websocket: no valid token") == 2  # by serve itself ('' matches no route: 404)
        assert log.count("refused the page: no valid token") == 2
        assert "starting the dashboard" not in log
        # the probe itself works: the right token from the right origin opens (and starts a process)
        assert page.probe_websocket(served.ws()) == "open"
        wait_until(lambda: served.processes() == 1, timeout=15, what="the dashboard process of the accepted websocket")


@pytest.fixture
def foreign_site() -> Iterator[int]:
    """Another site on this machine (another local user's page, or a web page whose name resolves here): its port."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>not npm-inspect</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_foreign_origin_and_a_rebound_name_are_refused_even_with_the_token(served, foreign_site):
    # Names resolve to 127.0.0.1 in this browser only: a page on a loopback address may open loopback websockets
    # (Chromium's local-network checks stop public pages itself, and other browsers do not), so serve must refuse.
    names = {"evil.example": "127.0.0.1", "rebound.example": "127.0.0.1"}
    with served_page(f"http://evil.example:{foreign_site}/", resolve=names) as page:
        assert page.response.status == 200
        # a web page the user has open, the token somehow in hand: a cross-site websocket
        assert page.probe_websocket(served.ws()) == "refused"
        # DNS rebinding: the attacker's name now resolves to 127.0.0.1, so its page and websocket look "same origin"
        assert page.goto_status(f"http://rebound.example:{served.port}/?token={served.token}") == 403
        assert page.probe_websocket(served.ws(host="rebound.example")) == "refused"
        assert served.processes() == 0
    log = served.log_file.read_text()
    # refused by serve itself, not by the browser
    assert f"websocket Origin 'http://evil.example:{foreign_site}' is not http://127.0.0.1:{served.port}" in log
    assert f"refused the page: Host 'rebound.example:{served.port}' is not 127.0.0.1:{served.port}" in log
    assert f"refused the websocket: Host 'rebound.example:{served.port}' is not 127.0.0.1:{served.port}" in log
    assert "starting the dashboard" not in log and served.token not in log


def test_a_har_is_served_opened_not_followed(tmp_path):
    """A HAR cannot grow: serve opens it (``open FILE``), and the lead's helper reads the served screens."""
    store, info = proxy_407_session()
    journal = tmp_path / "s.jsonl"
    JournalWriter(journal, store, info, None).start().close()
    har = tmp_path / "ticket.har"
    exported = subprocess.run([sys.executable, "-m", "inspector", "export", str(journal), "--har", str(har)], capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    port = free_port()
    process = ManagedProcess([sys.executable, "-m", "inspector", "serve", str(har), "--port", str(port)], log=tmp_path / "serve.out", env=dict(os.environ))
    try:
        wait_until(lambda: port_open(port) or not process.alive(), timeout=30, what="npm-inspect serve")
        url = re.search(r"at (http://\S+)", process.log.read_text()).group(1)
        text = served_text(url, until=["har ticket.har", "/@corp%2fsecret", "proxy-auth-required"], steps=[("d", ["Timing"])])
    finally:
        process.stop()
    assert "following" not in text and "--follow" not in process.log.read_text()
