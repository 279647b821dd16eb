"""HAR 1.2: what npm-inspect exports validates, loads in mitmproxy, and reads back to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.diagnose import diagnose
from inspector.errors import SessionFileError
from inspector.har import make_har, read_har, write_har
from inspector.records import Hop
from tests.strategies import exchanges
from tests.tui.conftest import proxy_407_session

SCHEMAS = Path(__file__).resolve().parents[1] / "vendor" / "har-schema"


def validator():
    import jsonschema
    from referencing import Registry, Resource

    schemas = [json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")]
    registry = Registry().with_resources((schema["$id"], Resource.from_contents(schema)) for schema in schemas)
    return jsonschema.Draft6Validator({"$ref": "har.json#"}, registry=registry)


def test_an_export_validates_against_the_har_1_2_schema():
    store, info = proxy_407_session()
    document = make_har(store.exchanges(), info)
    errors = sorted(validator().iter_errors(document), key=str)
    assert errors == [], errors[:3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(exchanges, max_size=8))
def test_any_records_export_to_a_valid_har_and_read_back(records):
    document = make_har(records)
    assert list(validator().iter_errors(document)) == []
    assert json.loads(json.dumps(document)) == document


def test_mitmproxys_own_har_reader_loads_it():
    from mitmproxy.io.har import request_to_flow

    store, info = proxy_407_session()
    document = make_har(store.exchanges(), info)
    flows = [request_to_flow(entry) for entry in document["log"]["entries"]]
    assert [f.request.method for f in flows][:3] == ["CONNECT", "CONNECT", "CONNECT"]
    assert flows[0].response.status_code == 407


def test_reading_our_own_har_gives_the_same_findings(tmp_path):
    store, info = proxy_407_session()
    path = write_har(tmp_path / "s.har", store.exchanges(), info)
    records, read_info, _ = read_har(path)
    assert [(r.id, r.status, r.hop, r.kind) for r in records] == [(r.id, r.status, r.hop, r.kind) for r in store.exchanges()]
    assert [f.to_dict() for f in diagnose(records)] == [f.to_dict() for f in diagnose(store.exchanges())]
    assert read_info.npm_argv == info.npm_argv and read_info.npm_exit == 1
    assert (path.stat().st_mode & 0o777) == 0o600


def test_exports_are_redacted(tmp_path):
    store, info = proxy_407_session()
    text = write_har(tmp_path / "s.har", store.exchanges(), info).read_text()
    assert "hunter2" not in text and "carol:***@" in text


def test_a_devtools_har_becomes_records_with_hops_and_redacted_secrets(tmp_path):
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-11-24T10:00:00.000Z",
                    "time": 12.5,
                    "request": {
                        "method": "GET",
                        "url": "https://nexus.corp/repository/npm-group/@corp%2fsecret",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Authorization", "value": "Bearer npm_" + "S" * 36}, {"name": "npm-command", "value": "install"}],
                        "cookies": [], "queryString": [], "headersSize": -1, "bodySize": 0,
                    },
                    "response": {
                        "status": 401, "statusText": "Unauthorized", "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "WWW-Authenticate", "value": "BASIC realm=\"Sonatype Nexus Repository Manager\""}, {"name": "Server", "value": "Nexus/3.70.0"}],
                        "cookies": [], "content": {"size": 30, "mimeType": "application/json", "text": "{\"error\":\"token expired\"}"},
                        "redirectURL": "", "headersSize": -1, "bodySize": 30,
                    },
                    "cache": {},
                    "timings": {"blocked": 0.5, "dns": -1, "connect": 8.0, "ssl": 5.0, "send": 0.1, "wait": 6.0, "receive": 1.0},
                },
                {
                    "startedDateTime": "2026-11-24T10:00:01.000Z",
                    "time": 3.0,
                    "request": {"method": "GET", "url": "https://registry.npmjs.org/lodash", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [], "queryString": [], "headersSize": -1, "bodySize": 0},
                    "response": {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
                    "cache": {},
                    "timings": {"send": 0, "wait": 0, "receive": 0},
                    "_error": "Upstream proxy 10.0.0.8:3128 refused HTTP CONNECT request: 407 Proxy Authentication Required",
                },
            ],
        }
    }
    path = tmp_path / "devtools.har"
    path.write_text(json.dumps(har))
    records, _, _ = read_har(path)
    nexus, refused = records
    assert (nexus.status, nexus.hop, nexus.auth.scheme) == (401, Hop.REGISTRY, "Bearer")
    assert "S" * 36 not in repr(nexus)
    assert nexus.timings.tls == 5.0 and nexus.timings.upstream_connect == 3.0
    assert (refused.kind, refused.status, refused.hop) == ("connect", 407, Hop.PROXY)
    rules = [f.rule for f in diagnose(records)]
    assert rules[:2] == ["proxy-auth-required", "registry-auth-rejected"]


@pytest.mark.parametrize(
    "content, words",
    [("not json", "not valid JSON"), ('{"x": 1}', "not a HAR"), ('{"log": {"entries": 3}}', "not a HAR")],
)
def test_bad_files_say_what_to_give(tmp_path, content, words):
    path = tmp_path / "bad.har"
    path.write_text(content)
    with pytest.raises(SessionFileError, match=words):
        read_har(path)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10), lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20))
def test_the_reader_never_crashes_on_arbitrary_entries(tmp_path_factory, junk):
    path = tmp_path_factory.mktemp("har") / "junk.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [junk, {"request": junk, "response": junk}]}}))
    records, _, _ = read_har(path)
    assert isinstance(records, list)


def test_a_har_written_by_mitmproxy_itself_reads_back(tmp_path):
    from mitmproxy.addons.savehar import SaveHar
    from mitmproxy.test import tflow, tutils

    ok = tflow.tflow(resp=tutils.tresp(status_code=200))
    refused = tflow.tflow(err=True)
    refused.error.msg = "Upstream proxy 10.0.0.8:3128 refused HTTP CONNECT request: 403 Forbidden"
    path = tmp_path / "mitmproxy.har"
    path.write_text(json.dumps(SaveHar().make_har([ok, refused])))
    records, _, _ = read_har(path)
    assert [r.status for r in records] == [200, 403]
    assert (records[1].kind, records[1].hop) == ("connect", Hop.PROXY)
    assert diagnose(records)[0].rule == "proxy-connect-denied"
