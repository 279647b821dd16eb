"""HAR 1.2: what npm-inspect exports validates, loads in mitmproxy, and reads back to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.build import scrub_exchange
from inspector.diagnose import diagnose
from inspector.errors import SessionFileError
from inspector.har import HarReader, make_har, read_har, write_har
from inspector.jsonstream import JsonStream
from inspector.records import ErrorInfo, Hop, TlsInfo, to_dict
from inspector.session import SessionInfo
from tests.strategies import complete_exchanges, exchanges, make_exchange
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


def _ordered(records):
    return sorted(records, key=lambda e: (e.started, e.seq))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(complete_exchanges, max_size=6))
def test_har_to_records_to_har_keeps_every_field(tmp_path_factory, generated):
    records = [scrub_exchange(e) for e in generated]  # records as the capture makes them: redacted and bounded
    folder = tmp_path_factory.mktemp("har")
    info = SessionInfo(npm_argv=["npm", "install"], npm_exit=1, upstream="http://carol:***@proxy.corp:3128")
    first = write_har(folder / "first.har", records, info)
    read, read_info, _ = read_har(first)
    assert [to_dict(r) for r in read] == [to_dict(r) for r in _ordered(records)]
    assert read == _ordered(records)
    second = write_har(folder / "second.har", read, read_info)
    assert json.loads(second.read_text()) == json.loads(first.read_text())


def test_a_har_keeps_the_sessions_runs_and_tool_side_by_side(tmp_path):
    """A ticket's HAR shows what the session showed: every run with its fix and outcome, and the tool that ran."""
    from inspector.report import text_report
    from inspector.session import RunRecord

    info = SessionInfo(
        npm_argv=["pnpm", "install"], npm_exit=0, tool="pnpm", tool_version="12.4.2", tool_display="pnpm 12.4.2",
        tool_notes=["pnpm lets HTTPS_PROXY lose to its own config"],
        runs=[RunRecord(1, ["pnpm", "install"], exit_code=1, error_code="E407"),
              RunRecord(2, ["pnpm", "install"], fix="pnpm config set https-proxy http://carol:***@proxy:3128", exit_code=0)],
    )
    first, second = make_exchange(status=407, run=1), make_exchange(status=200, run=2)
    path = write_har(tmp_path / "ticket.har", [first, second], info)
    log = json.loads(path.read_text())["log"]
    assert log["comment"].startswith("pnpm 12.4.2 install (exit 0)")
    assert "run 1: E407 · exit 1 — run 2 (fix: pnpm config set https-proxy http://carol:***@proxy:3128): exit 0" in log["comment"]
    records, reopened, _ = read_har(path)
    assert SessionInfo.from_dict({"upstream": "http://carol:hunter2@proxy:3128"}).upstream == "http://carol:***@proxy:3128"
    assert reopened.runs == info.runs and reopened.tool_label == "pnpm 12.4.2" and reopened.tool_notes == info.tool_notes
    assert [r.run for r in records] == [1, 2]
    text = text_report(reopened, records, [])
    assert "runs: run 1: E407 · exit 1 — run 2" in text and " r2  " in text


PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ29ycCBTU0wgSW5zcGVjdGlvbiBDQQ==\n-----END CERTIFICATE-----\n"


def test_a_har_reopened_from_a_ticket_still_saves_the_resigning_ca(tmp_path):
    tls = TlsInfo(
        sni="registry.npmjs.org",
        version="TLSv1.3",
        subject="CN=registry.npmjs.org",
        issuer="CN=Corp SSL Inspection CA, O=Corp",
        chain=("CN=Corp SSL Inspection CA, O=Corp",),
        chain_pem=PEM,
        failed_by=Hop.REGISTRY,
        error="certificate verify failed: unable to get local issuer certificate",
    )
    tunnel = make_exchange(kind="connect", status=200, hop=Hop.TLS, tls=tls, error=ErrorInfo("tls", "the registry's certificate was rejected"), run=2)
    live = [f for f in diagnose([tunnel]) if f.rule == "tls-untrusted"]
    assert live and live[0].attachments == (("corporate-ca.pem", PEM),)
    records, _, _ = read_har(write_har(tmp_path / "ticket.har", [tunnel], SessionInfo()))
    (reopened,) = records
    assert reopened.tls == tls and reopened.run == 2
    (finding,) = [f for f in diagnose(records) if f.rule == "tls-untrusted"]
    assert finding.attachments == (("corporate-ca.pem", PEM),)


def test_a_har_from_the_previous_version_still_reads(tmp_path):
    """``_npmInspect`` as npm-inspect wrote it before records were written whole (HARs already attached to tickets)."""
    entry = {
        "startedDateTime": "2026-11-24T10:00:00Z",
        "time": 12.0,
        "request": {"method": "CONNECT", "url": "https://registry.npmjs.org:443/", "httpVersion": "HTTP/1.1", "cookies": [],
                    "headers": [{"name": "Proxy-Authorization", "value": "Basic [redacted:0a1b2c3d]"}], "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 407, "statusText": "Proxy Authentication Required", "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": "Proxy-Authenticate", "value": 'Basic realm="Corp"'}, {"name": "Server", "value": "squid/5.7"}],
                     "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": 3.0, "ssl": -1, "send": 0, "wait": 0, "receive": 0},
        "_npmInspect": {
            "id": "abc123", "seq": 7, "kind": "connect", "hop": "proxy", "state": "done", "upstream": "10.0.0.8:3128",
            "evidence": {"statusLine": "HTTP/1.1 407 Proxy Authentication Required", "server": "squid/5.7", "via": None,
                         "xSquidError": "ERR_CACHE_ACCESS_DENIED 0", "proxyAuthenticate": ['Basic realm="Corp"'], "wwwAuthenticate": [],
                         "errorBody": None, "reason": "the upstream proxy 10.0.0.8:3128 answered the CONNECT"},
            "npm": {"command": "install", "session": None, "userAgent": "npm/11.19.1", "authType": None, "scope": None},
            "proxyAuth": {"scheme": "Basic", "fingerprint": "0a1b2c3d", "user": "carol"},
            "auth": None,
            "timings": {"client": 0.5, "upstream_connect": 1.0, "connect": 2.0, "tls": None, "send": None, "wait": None, "receive": None, "total": 12.0},
            "tls": {"issuer": "CN=Corp CA", "subject": None, "chain": ["CN=Corp CA"], "failedBy": None, "error": None},
            "decrypted": False,
        },
    }
    path = tmp_path / "old.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "npm-inspect", "version": "0.1"}, "entries": [entry],
                                        "_npmInspect": {"npmArgv": ["npm", "install"], "npmExit": 1, "mode": "metadata-only"}}}))
    (record,), info, _ = read_har(path)
    assert (record.id, record.seq, record.kind, record.status, record.hop, record.upstream) == ("abc123", 7, "connect", 407, Hop.PROXY, "10.0.0.8:3128")
    assert record.evidence.squid_error == "ERR_CACHE_ACCESS_DENIED 0" and record.evidence.proxy_authenticate == ('Basic realm="Corp"',)
    assert record.proxy_auth.username == "carol" and record.npm.user_agent == "npm/11.19.1" and record.decrypted is False
    assert record.timings.connect == 2.0 and record.tls.issuer == "CN=Corp CA"
    assert record.request_headers == (("Proxy-Authorization", "Basic [redacted:0a1b2c3d]"),)
    assert (info.npm_exit, info.mode) == (1, "metadata-only")
    assert diagnose([record])[0].rule == "proxy-auth-rejected"  # a credential was sent and refused


def test_a_har_is_written_entry_by_entry_and_read_back_entry_by_entry(tmp_path):
    """Export takes a generator (never a list of entries); the reader walks log.entries with a tiny buffer too."""
    count = 300
    produced = []

    def records():
        for n in range(1, count + 1):
            record = make_exchange(seq=n, started=1_800_000_000.0 + n, path=f"/pkg-{n}")
            produced.append(record)
            yield record

    path = write_har(tmp_path / "big.har", records(), SessionInfo(npm_argv=["npm", "ci"], npm_exit=0))
    with path.open(encoding="utf-8") as f:
        stream = JsonStream(f, chunk=7)  # every entry crosses many buffer ends
        entries = []
        for key in stream.members():
            if key == "log":
                for name in stream.members():
                    if name == "entries":
                        entries.extend(stream.items())
                    else:
                        stream.value()
            else:
                stream.value()
        stream.end()
    assert [e["_npmInspect"]["path"] for e in entries] == [f"/pkg-{n}" for n in range(1, count + 1)]
    reader = HarReader(path)
    assert [r.path for r in reader.records()] == [r.path for r in produced]
    assert reader.info.npm_argv == ["npm", "ci"] and reader.info.npm_exit == 0


@pytest.mark.parametrize(
    "text, value",
    [("12345", 12345), ('"a\\"b"', 'a"b'), ("[1, 2, [3]]", [1, 2, [3]]), ('{"a": {"b": null}}', {"a": {"b": None}}), ("-0.5e3", -500.0)],
)
def test_the_json_stream_reads_values_cut_anywhere_by_its_buffer(tmp_path, text, value):
    import io

    for chunk in (1, 2, 3, 64):
        stream = JsonStream(io.StringIO(text), chunk=chunk)
        assert stream.value() == value
        stream.end()


@pytest.mark.parametrize("text", ['{"log": {"entries": [1, 2', '{"log": {"entries": [1 2]}}', '{"log": 1} x', "[1,]"])
def test_broken_json_is_said_to_be_broken(tmp_path, text):
    path = tmp_path / "broken.har"
    path.write_text(text)
    with pytest.raises(SessionFileError, match="not valid JSON"):
        read_har(path)
