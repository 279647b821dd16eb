"""Naming the hop: who produced an answer."""

from inspector.hops import auth_schemes, classify_error, classify_response, looks_like_proxy_answer
from inspector.records import Hop

SQUID_403 = [("Server", "squid/5.7"), ("X-Squid-Error", "ERR_ACCESS_DENIED 0"), ("Via", "1.1 lab-proxy (squid/5.7)")]


def test_a_connect_answer_through_an_upstream_is_the_proxys():
    assert classify_response(kind="connect", status=403, headers=SQUID_403, via_proxy=True, in_tunnel=False)[0] is Hop.PROXY


def test_a_plain_http_answer_with_x_squid_error_is_the_proxys():
    hop, why = classify_response(kind="http", status=403, headers=SQUID_403, via_proxy=True, in_tunnel=False)
    assert hop is Hop.PROXY and "X-Squid-Error" in why


def test_a_registry_answer_relayed_by_squid_keeps_via_but_is_the_registrys():
    headers = [("Via", "1.1 lab-proxy (squid/5.7)"), ("Content-Type", "application/json"), ("X-Powered-By", "verdaccio/6")]
    assert classify_response(kind="http", status=403, headers=headers, via_proxy=True, in_tunnel=False)[0] is Hop.REGISTRY


def test_407_is_always_a_proxys_answer_when_a_proxy_is_in_the_path():
    assert classify_response(kind="http", status=407, headers=[], via_proxy=True, in_tunnel=False)[0] is Hop.PROXY


def test_inside_a_tunnel_the_answer_is_the_registrys_unless_a_proxy_signs_it():
    assert classify_response(kind="http", status=401, headers=[("Server", "nginx")], via_proxy=True, in_tunnel=True)[0] is Hop.REGISTRY
    assert classify_response(kind="http", status=403, headers=[("Server", "Zscaler/6.2")], via_proxy=True, in_tunnel=True)[0] is Hop.PROXY


def test_a_gateway_error_from_the_proxy_with_via_is_the_proxys():
    assert classify_response(kind="http", status=503, headers=[("Via", "1.1 p")], via_proxy=True, in_tunnel=False)[0] is Hop.PROXY


def test_auth_schemes_are_read_from_combined_and_separate_values():
    assert auth_schemes(['Basic realm="corp", NTLM', "Negotiate"]) == ("Basic", "NTLM", "Negotiate")
    assert auth_schemes(['Basic realm="a, b"']) == ("Basic",)


def test_errors_name_their_hop():
    assert classify_error("Upstream proxy 1.2.3.4:3128 refused HTTP CONNECT request: 407", via_proxy=True, phase_reached_registry=False) == ("proxy-refused", Hop.PROXY)
    assert classify_error("Certificate verify failed: self-signed certificate in certificate chain", via_proxy=True, phase_reached_registry=True)[1] is Hop.TLS
    assert classify_error("Connection refused", via_proxy=True, phase_reached_registry=False) == ("connect-failed", Hop.PROXY)
    assert classify_error("Connection refused", via_proxy=False, phase_reached_registry=False) == ("connect-failed", Hop.REGISTRY)
    assert classify_error("[Errno 111] Connect call failed ('127.0.0.1', 3128)", via_proxy=True, phase_reached_registry=False) == ("connect-failed", Hop.PROXY)
    assert classify_error("Client disconnected", via_proxy=True, phase_reached_registry=True) == ("client-abort", Hop.CLIENT)


def test_no_proxy_markers_means_none():
    assert looks_like_proxy_answer([("Server", "nginx/1.25")]) is None


# -- a proxy's own page is not the registry's 200 ------------------------------------------------------------

from inspector.hops import has_registry_marker, interstitial_reason, npm_wants  # noqa: E402

HTML = [("Content-Type", "text/html; charset=utf-8")]


def test_what_npm_asks_for():
    assert npm_wants("/lodash/-/lodash-4.17.21.tgz") == "tarball"
    assert npm_wants("/lodash", [("accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8")]) == "json"
    assert npm_wants("/x", [("pacote-req-type", "tarball")]) == "tarball"
    assert npm_wants("/favicon.ico") is None


def test_an_html_200_where_npm_wanted_json_through_a_proxy_is_the_proxys():
    hop, why = classify_response(kind="http", status=200, headers=HTML, via_proxy=True, in_tunnel=False, wanted="json")
    assert hop is Hop.PROXY and "where npm asked for JSON" in why
    assert classify_response(kind="http", status=200, headers=HTML, via_proxy=True, in_tunnel=True, wanted="tarball")[0] is Hop.PROXY


def test_the_registrys_own_html_or_json_stays_the_registrys():
    assert classify_response(kind="http", status=200, headers=[("content-type", "application/json")], via_proxy=True, in_tunnel=False, wanted="json")[0] is Hop.REGISTRY
    marked = HTML + [("X-Nexus-UI", "true")]
    assert classify_response(kind="http", status=200, headers=marked, via_proxy=True, in_tunnel=True, wanted="json")[0] is Hop.REGISTRY
    assert classify_response(kind="http", status=200, headers=HTML, via_proxy=False, in_tunnel=True, wanted="json")[0] is Hop.REGISTRY
    assert interstitial_reason(200, HTML, None) is None and interstitial_reason(404, HTML, "json") is None


def test_x_powered_by_counts_only_as_verdaccios():
    assert has_registry_marker([("X-Powered-By", "hidden")]) and has_registry_marker([("x-powered-by", "verdaccio/6")])
    assert not has_registry_marker([("X-Powered-By", "Express")])
