"""The one record builder, fed facts directly (no mitmproxy): the same facts make the same record, whoever saw them."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.build import ExchangeFacts, build_exchange, fail_tunnel, scrub_exchange
from inspector.records import Hop, TlsInfo, to_dict
from inspector.redact import fingerprint
from inspector.vault import SecretVault

TOKEN = "npm_" + "K" * 36
PASSWORD_HEADER = "Basic Y2Fyb2w6aHVudGVyMg=="  # carol:hunter2


def http(**fields) -> ExchangeFacts:
    base = dict(
        source="capture", id="f1", seq=1, started=1_800_000_000.0, method="GET", scheme="https",
        host="registry.lab.test", port=443, path="/@corp%2fsecret", in_tunnel=True, status=200, reason="OK",
        request_headers=((b"user-agent", b"npm/11.19.1 node/v20.20.2"), (b"npm-command", b"install"), (b"pacote-req-type", b"packument"), (b"authorization", f"Bearer {TOKEN}".encode())),
        response_headers=((b"content-type", b"application/json"),),
    )
    base.update(fields)
    return ExchangeFacts(**base)


def test_wire_bytes_become_redacted_text_and_the_vault_keeps_the_secret():
    vault = SecretVault()
    record = build_exchange(http(), vault=vault)
    assert TOKEN not in json.dumps(to_dict(record))
    assert dict(record.request_headers)["authorization"] == f"Bearer [redacted:{fingerprint(TOKEN)}]"
    assert record.auth.fingerprint == fingerprint(TOKEN) and vault.get(fingerprint(TOKEN)) == TOKEN
    assert (record.npm.command, record.npm.request_type) == ("install", "packument")


def test_a_registry_error_keeps_its_body_as_evidence_inflated_and_redacted():
    body = gzip.compress(json.dumps({"error": f"token {TOKEN} expired"}).encode())
    record = build_exchange(http(status=401, reason="Unauthorized", body=body, body_encoding="gzip", body_size=len(body),
                                 response_headers=(("content-type", "application/json"), ("www-authenticate", "Bearer"))))
    assert (record.hop, record.status) == (Hop.REGISTRY, 401)
    assert "expired" in record.evidence.error_body and TOKEN not in record.evidence.error_body
    assert record.evidence.www_authenticate == ("Bearer",) and record.evidence.status_line == "HTTP/1.1 401 Unauthorized"


def test_a_proxys_html_page_in_place_of_a_package_document_is_the_proxys():
    page = b"<html><title>Sign in to the Internet</title></html>"
    record = build_exchange(http(via_proxy=True, in_tunnel=False, scheme="http", body=page, body_size=len(page),
                                 response_headers=(("content-type", "text/html"),), upstream="10.0.0.8:3128"))
    assert record.hop is Hop.PROXY and record.substituted and "Sign in" in record.body_preview


def test_no_answer_through_the_proxy_before_the_registry_was_reached_is_the_proxys():
    record = build_exchange(http(status=None, reason="", response_headers=(), via_proxy=True, error="Connection refused"))
    assert (record.hop, record.error.kind, record.status) == (Hop.PROXY, "connect-failed", None)
    assert record.evidence.reason == "no HTTP answer: Connection refused"


def test_a_rejected_registry_certificate_names_the_tls_hop():
    tls = TlsInfo(sni="registry.lab.test", issuer="CN=Corp CA", failed_by=Hop.REGISTRY, error=f"certificate verify failed {TOKEN}")
    record = build_exchange(http(status=None, response_headers=(), via_proxy=True, error="TLS handshake failed", tls=tls))
    assert (record.hop, record.error.kind) == (Hop.TLS, "tls")
    assert record.tls.sni == "registry.lab.test" and TOKEN not in record.tls.error


def test_the_probes_refusal_is_the_proxys_with_the_credential_it_carried():
    vault = SecretVault()
    facts = ExchangeFacts(
        source="probe", id="c1", seq=2, kind="connect", started=1_800_000_000.0, method="CONNECT", host="registry.lab.test", port=443,
        status=407, reason="Proxy Authentication Required",
        request_headers=(("proxy-authorization", "Basic b3RoZXI6eA=="),),
        response_headers=(("Proxy-Authenticate", 'Basic realm="Corp"'), ("Server", "squid/5.7"), ("X-Squid-Error", "ERR_CACHE_ACCESS_DENIED 0")),
        proxy_authorization=PASSWORD_HEADER, via_proxy=True, upstream="127.0.0.1:3128",
        body=b"<html>password hunter2 refused</html>",
    )
    record = build_exchange(facts, vault=vault)
    assert (record.kind, record.hop, record.state, record.scheme, record.path) == ("connect", Hop.PROXY, "done", "", "")
    assert record.evidence.squid_error == "ERR_CACHE_ACCESS_DENIED 0" and record.evidence.proxy_authenticate == ('Basic realm="Corp"',)
    assert record.proxy_auth.username == "carol"  # the probe's own credential wins over the header npm sent
    assert record.evidence.reason == "the upstream proxy 127.0.0.1:3128 answered the CONNECT"
    assert vault.get(fingerprint("carol:hunter2")) is not None or vault.get(fingerprint(PASSWORD_HEADER.split()[1])) is not None


def test_a_probe_without_answer_says_how_far_the_proxy_got():
    facts = ExchangeFacts(source="probe", id="c2", seq=3, kind="connect", started=0.0, method="CONNECT", host="r", port=443,
                          via_proxy=True, upstream="127.0.0.1:3128", error="npm gave up", error_kind="proxy-slow")
    record = build_exchange(facts)
    assert (record.hop, record.error.kind) == (Hop.PROXY, "proxy-slow")
    assert "accepted the TCP connection" in record.evidence.reason


def test_a_direct_tunnel_that_failed_is_the_registrys_and_npm_inspects_own_407_is_the_inspectors():
    direct = build_exchange(ExchangeFacts(source="direct", id="d", seq=4, kind="connect", started=0.0, method="CONNECT", host="r", port=443,
                                          status=502, reason="Bad Gateway", body="connect to r:443 failed"))
    assert (direct.hop, direct.error.kind, direct.state) == (Hop.REGISTRY, "connect-failed", "done")
    refusal = build_exchange(ExchangeFacts(source="inspector", id="i", seq=5, kind="connect", started=0.0, method="CONNECT", host="r", port=443,
                                           status=407, reason="Proxy Authentication Required",
                                           response_headers=((b"Proxy-Authenticate", b'Basic realm="npm-inspect"'),)))
    assert refusal.hop is Hop.INSPECTOR and "nothing was sent upstream" in refusal.evidence.reason


def test_a_har_entry_and_a_live_flow_with_the_same_facts_make_the_same_record_but_for_the_source_note():
    live = build_exchange(http(status=403, reason="Forbidden", via_proxy=True, response_headers=(("Server", "squid/5.7"), ("X-Squid-Error", "ERR_ACCESS_DENIED 0"))))
    har = build_exchange(http(source="har", status=403, reason="Forbidden", via_proxy=True, response_headers=(("Server", "squid/5.7"), ("X-Squid-Error", "ERR_ACCESS_DENIED 0"))))
    assert live.hop is har.hop is Hop.PROXY
    assert har.evidence.reason == live.evidence.reason + " (read from a HAR file)"
    assert to_dict(live) | {"evidence": None} == to_dict(har) | {"evidence": None}


def test_hostile_sizes_are_capped_in_the_builder():
    huge = ("x-big", "a" * 500_000)
    record = build_exchange(http(path="/" + "p" * 100_000, reason="R" * 50_000, response_headers=(huge,) * 300, request_headers=(huge,)))
    assert len(json.dumps(to_dict(record))) < 700_000
    assert len(record.response_headers) == 101 and record.response_headers[-1][0] == "X-Npm-Inspect-Truncated"


def test_a_failed_tunnel_is_redacted_and_bounded():
    tunnel = build_exchange(ExchangeFacts(source="probe", id="t", seq=6, kind="connect", started=0.0, method="CONNECT", host="r", port=443,
                                          status=200, reason="Connection established", via_proxy=True, upstream="p:3128", state="open"))
    assert tunnel.state == "open"
    failed = fail_tunnel(tunnel, TlsInfo(failed_by=Hop.CLIENT, error=f"bad {TOKEN}", chain=("x",) * 50), Hop.CLIENT, "tls", f"npm said {TOKEN}")
    assert TOKEN not in json.dumps(to_dict(failed)) and len(failed.tls.chain) == 10 and failed.hop is Hop.CLIENT


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
raw_headers = st.lists(st.tuples(st.sampled_from(["authorization", "cookie", "x-api-key", "server", "via", "accept", "location"]), text), max_size=6).map(tuple)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(["capture", "probe", "direct", "inspector", "har"]),
    status=st.one_of(st.none(), st.integers(100, 599)),
    request_headers=raw_headers,
    response_headers=raw_headers,
    body=st.one_of(st.none(), st.binary(max_size=2000), text),
    error=st.one_of(st.none(), text),
    via_proxy=st.booleans(),
    path=text,
)
def test_any_facts_build_a_record_that_is_json_and_stays_put_when_scrubbed_again(source, status, request_headers, response_headers, body, error, via_proxy, path):
    secret = "Sup3rSecretPassw0rd"
    facts = http(source=source, status=status, request_headers=(*request_headers, ("authorization", f"Basic {secret}")),
                 response_headers=response_headers, body=body, body_size=len(body or ""), error=error, via_proxy=via_proxy, path=path,
                 kind="connect" if source in ("probe", "direct") else "http")
    record = build_exchange(facts)
    text_out = json.dumps(to_dict(record), ensure_ascii=False)
    assert secret not in text_out
    assert scrub_exchange(record) == record  # redaction and caps are idempotent: HAR round trips keep records
