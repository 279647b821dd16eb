"""Hostile input from either side never crashes the capture or the dashboard."""

from __future__ import annotations

import gc
import json
import os
import socket
import time

import pytest

from inspector.journal import JournalWriter
from inspector.records import to_dict
from inspector.tui.app import InspectorApp
from inspector.session import SessionInfo

from .test_faults import fetch, inspector  # noqa: F401  (fixture)
from .test_load import origin  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

UPSTREAM_PATHS = ["/bad-status", "/huge-headers", "/bad-chunked", "/non-utf8", "/gzip-bomb"]


async def test_malformed_answers_from_upstream_are_recorded_and_shown(inspector, origin):  # noqa: F811
    import asyncio

    proxy, store = inspector
    for path in UPSTREAM_PATHS:
        await asyncio.to_thread(fetch, proxy, f"http://127.0.0.1:{origin}{path}")
    assert await asyncio.to_thread(fetch, proxy, f"http://127.0.0.1:{origin}/ok") == 200
    deadline = time.monotonic() + 15
    while len({e.path for e in store.exchanges()}) < len(UPSTREAM_PATHS) + 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    records = {e.path: e for e in store.exchanges()}
    assert set(UPSTREAM_PATHS) <= set(records)
    bomb = records["/gzip-bomb"]
    assert bomb.status == 401 and bomb.evidence.error_body is not None and len(bomb.evidence.error_body) <= 4096
    for record in records.values():
        json.dumps(to_dict(record))  # every record stays serialisable
    app = InspectorApp(store, info=SessionInfo(), source="journal")
    async with app.run_test(size=(140, 40)) as pilot:
        for record in records.values():
            app.table.select_id(record.id)
            await pilot.press("enter")
            await pilot.pause(0.05)
        assert app.errors == []


CLIENT_GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"GET http://127.0.0.1:1/ HTTP/1.1\r\nX-Big: " + b"a" * 400_000 + b"\r\n\r\n",
    b"POST http://127.0.0.1:1/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot hex at all\r\n",
    b"GET http://127.0.0.1:1/ HTTP/1.1\r\nX-Name: \xff\xfe\x80\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    b"CONNECT :::: HTTP/1.1\r\n\r\n",
]


@pytest.mark.parametrize("payload", CLIENT_GARBAGE, ids=["bad-line", "huge-headers", "bad-chunked", "non-utf8", "tls-to-plain", "bad-connect"])
def test_malformed_requests_from_the_client_never_stop_the_proxy(inspector, origin, payload):  # noqa: F811
    proxy, store = inspector
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        try:
            sock.sendall(payload)
            sock.settimeout(5)
            sock.recv(65536)
        except OSError:
            pass
    assert fetch(proxy, f"http://127.0.0.1:{origin}/ok") == 200


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


RECORD_BOUND = 40_000
"""Bytes one record may take serialised, whatever a peer sends (today ~12 KB for a capped megabyte header)."""


def test_megabyte_headers_cost_a_bounded_amount_per_exchange(tmp_path, inspector, origin):  # noqa: F811
    """80 requests with a 1 MB header, 20 answers with a 300 KB header: memory and journal grow by a bounded
    amount per exchange (a prefix of each value and a "truncated N bytes" marker), not by what was sent."""
    proxy, store = inspector
    journal = JournalWriter(tmp_path / "big.jsonl", store, SessionInfo(), None).start()
    gc.collect()
    rss_before = _rss_bytes()
    big = b"a" * 1_000_000
    for n in range(80):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
            sock.sendall(f"GET http://127.0.0.1:{origin}/ok?n={n} HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\nX-Big: ".encode() + big + b"\r\nConnection: close\r\n\r\n")
            sock.settimeout(20)
            while sock.recv(65536):
                pass
    for _ in range(20):
        fetch(proxy, f"http://127.0.0.1:{origin}/huge-headers")
    deadline = time.monotonic() + 30
    while len(store) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    proxy.settle(5)
    journal.close()
    assert len(store) == 100
    sizes = [len(json.dumps(to_dict(e))) for e in store.exchanges()]
    assert max(sizes) < RECORD_BOUND, max(sizes)
    assert (tmp_path / "big.jsonl").stat().st_size < 100 * RECORD_BOUND
    truncated = [v for e in store.exchanges() for _, v in e.request_headers + e.response_headers if "[truncated " in v]
    assert len(truncated) == 100 and any(v.endswith(f"[truncated {1_000_000 - 4096} bytes]") for v in truncated)
    gc.collect()
    assert _rss_bytes() - rss_before < 60_000_000, f"RSS grew by {(_rss_bytes() - rss_before) / 1e6:.0f} MB"
