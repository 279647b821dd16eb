"""Hostile input from either side never crashes the capture or the dashboard."""

from __future__ import annotations

import json
import socket
import time

import pytest

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
