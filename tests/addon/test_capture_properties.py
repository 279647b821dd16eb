"""The record builder, fed arbitrary (hostile) flows: it never raises, and what it emits is JSON and redacted."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from inspector.capture import NpmCapture
from inspector.records import to_dict

TOKEN = "npm_" + "T" * 36
header_bytes = st.binary(min_size=1, max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b and b":" not in b)
headers = st.lists(st.tuples(header_bytes, st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b)), max_size=8)
encodings = st.sampled_from([b"", b"gzip", b"deflate", b"br", b"zstd", b"x-garbage", b"\xff"])
types = st.sampled_from([b"", b"application/json", b"text/html", b"application/octet-stream", b"\xfe\xff"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.integers(min_value=100, max_value=599),
    request_headers=headers,
    response_headers=headers,
    body=st.one_of(st.binary(max_size=3000), st.binary(max_size=3000).map(gzip.compress)),
    encoding=encodings,
    content_type=types,
    upstream=st.booleans(),
    error=st.one_of(st.none(), st.text(max_size=60)),
)
def test_any_flow_becomes_a_serialisable_redacted_record(status, request_headers, response_headers, body, encoding, content_type, upstream, error):
    records = []
    addon = NpmCapture(records.append)
    request = tutils.treq(headers=http.Headers([*request_headers, (b"authorization", f"Bearer {TOKEN}".encode())]), content=b"")
    response_h = http.Headers([*response_headers, (b"content-type", content_type), (b"content-encoding", encoding)])
    response = tutils.tresp(status_code=status, headers=response_h, content=b"")
    response.raw_content = body
    flow = tflow.tflow(req=request, resp=response)
    if upstream:
        flow.server_conn.via = ("http", ("127.0.0.1", 3128))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"] if upstream else ["regular"])
        addon.requestheaders(flow)
        addon.responseheaders(flow)
        if error is None:
            addon.response(flow)
        else:
            flow.error = tflow.terr(error)
            addon.error(flow)
    assert len(records) == 1
    text = json.dumps(to_dict(records[0]))
    assert TOKEN not in text
