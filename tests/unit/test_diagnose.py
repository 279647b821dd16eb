"""The diagnosis engine, rule by rule: each fires on its case and keeps quiet on near-misses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.diagnose import diagnose
from inspector.diagnose.rules import RULE_IDS
from inspector.npmconfig import AuthEntry, ConfigValue, NpmConfigSnapshot
from inspector.records import CredentialInfo, ErrorInfo, Evidence, Exchange, Hop, Timings, TlsInfo
from tests.strategies import exchanges, make_exchange

PROXY = "127.0.0.1:3128"
SQUID = dict(server="squid/5.7", via="1.1 corp-proxy (squid/5.7)")


def config(**values: str) -> NpmConfigSnapshot:
    auth = values.pop("_auth_entries", ())
    env = values.pop("_env", {})
    return NpmConfigSnapshot(
        values={k.replace("_", "-") if not k.startswith("@") else k: ConfigValue(k, v, "user", "/home/u/.npmrc") for k, v in values.items()},
        auth=tuple(auth),
        env_proxy=env,
    )


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def connect(status, **kw) -> Exchange:
    ev = kw.pop("evidence", Evidence(status_line=f"HTTP/1.1 {status} x", **SQUID))
    return make_exchange(kind="connect", status=status, hop=Hop.PROXY, upstream=PROXY, evidence=ev, **kw)


def registry(status, path="/lodash", **kw) -> Exchange:
    return make_exchange(status=status, hop=Hop.REGISTRY, path=path, upstream=PROXY, **kw)


# -- proxy authentication --------------------------------------------------------------------

BASIC = Evidence(status_line="HTTP/1.1 407 Proxy Authentication Required", proxy_authenticate=('Basic realm="Corp"',), squid_error="ERR_CACHE_ACCESS_DENIED 0", **SQUID)


def test_407_without_credentials_is_proxy_auth_required_with_the_set_commands():
    snap = config(**{"https-proxy": "http://proxy.corp:3128"})
    (f,) = diagnose([connect(407, evidence=BASIC)] * 1, snap)
    assert (f.rule, f.hop) == ("proxy-auth-required", Hop.PROXY)
    assert "npm config set 'https-proxy=http://<user>:<password>@proxy.corp:3128' --location=user" in f.commands
    assert "npm config set 'proxy=http://<user>:<password>@proxy.corp:3128' --location=user" in f.commands
    assert any("%40" in c and "%3A" in c and "%23" in c and "%2F" in c for c in f.caveats)


def test_a_project_level_proxy_is_fixed_at_project_level():
    snap = NpmConfigSnapshot(values={"https-proxy": ConfigValue("https-proxy", "http://proxy.corp:3128", "project", "/p/.npmrc")})
    (f,) = diagnose([connect(407, evidence=BASIC)], snap)
    assert all(c.endswith("--location=project") for c in f.commands if c.startswith("npm config set 'https-proxy"))


def test_407_with_credentials_is_proxy_auth_rejected_and_names_the_user():
    sent = CredentialInfo("Basic", "abcd1234", "carol")
    (f,) = diagnose([connect(407, evidence=BASIC, proxy_auth=sent)], config())
    assert f.rule == "proxy-auth-rejected"
    assert "carol" in f.explanation and "abcd1234" in f.explanation
    assert any("carol:<password>" in c for c in f.commands)


def test_ntlm_only_is_an_unsupported_scheme_with_a_local_relay():
    ev = Evidence(status_line="HTTP/1.1 407 x", proxy_authenticate=("NTLM", "Negotiate"), **SQUID)
    (f,) = diagnose([connect(407, evidence=ev)], config())
    assert f.rule == "proxy-auth-unsupported-scheme"
    assert any(c.startswith("pip install px-proxy") for c in f.commands)
    assert any("http://127.0.0.1:3128" in c for c in f.commands)


def test_ntlm_with_basic_offered_is_not_unsupported():
    ev = Evidence(status_line="HTTP/1.1 407 x", proxy_authenticate=("NTLM", 'Basic realm="x"'), **SQUID)
    assert rules(diagnose([connect(407, evidence=ev)], config())) == ["proxy-auth-required"]


def test_a_407_from_the_registry_side_is_not_a_proxy_finding():
    assert "proxy-auth-required" not in rules(diagnose([registry(407)], config()))


def test_forty_refusals_make_one_finding_with_a_count():
    findings = diagnose([connect(407, evidence=BASIC) for _ in range(40)], config())
    assert rules(findings) == ["proxy-auth-required"]
    assert findings[0].count == 40 and len(findings[0].evidence) == 5


# -- proxy refusals and reachability -------------------------------------------------------------


def test_a_connect_403_names_the_proxy_host_and_offers_the_mirror():
    ev = Evidence(status_line="HTTP/1.1 403 Forbidden", squid_error="ERR_ACCESS_DENIED 0", **SQUID)
    (f,) = diagnose([connect(403, host="registry.npmjs.org", port=443, evidence=ev)], config())
    assert (f.rule, f.hop) == ("proxy-connect-denied", Hop.PROXY)
    assert "registry.npmjs.org:443" in f.title and "squid/5.7" in f.explanation and "ERR_ACCESS_DENIED" in f.explanation
    assert "tunneling socket could not be established, statusCode=403" in f.explanation
    assert f.commands[0] == "npm config set 'registry=<internal-mirror-url>' --location=user"
    assert not any(c.startswith("npm config set registry=http://") for c in f.commands)


def test_plain_http_is_proposed_only_when_it_passed_the_proxy():
    denied = connect(403, host="registry.npmjs.org", port=443)
    plain = make_exchange(scheme="http", host="registry.npmjs.org", port=80, status=200, hop=Hop.REGISTRY, upstream=PROXY)
    (f,) = [f for f in diagnose([denied, plain], config()) if f.rule == "proxy-connect-denied"]
    assert "npm config set registry=http://registry.npmjs.org/ --location=user" in f.commands
    assert any("integrity" in c for c in f.caveats)


def test_a_registry_403_is_not_a_connect_denial():
    assert "proxy-connect-denied" not in rules(diagnose([registry(403)], config()))


def test_an_unreachable_proxy():
    down = make_exchange(kind="connect", status=None, hop=Hop.PROXY, upstream=PROXY, error=ErrorInfo("connect-failed", "connection refused"))
    (f,) = diagnose([down], config())
    assert f.rule == "proxy-unreachable" and PROXY in f.title


def test_the_proxy_failing_to_reach_the_registry():
    ev = Evidence(status_line="HTTP/1.1 503 Service Unavailable", squid_error="ERR_DNS_FAIL 0", **SQUID)
    (f,) = diagnose([connect(503, host="registry.npmjs.org", evidence=ev)], config())
    assert f.rule == "proxy-unreachable" and "ERR_DNS_FAIL" in f.title


def test_a_registry_503_is_not_the_proxys_fault():
    assert "proxy-unreachable" not in rules(diagnose([registry(503)], config()))


def test_an_internal_registry_refused_by_the_proxy_wants_noproxy():
    ev = Evidence(status_line="HTTP/1.1 503 x", squid_error="ERR_DNS_FAIL 0", **SQUID)
    denied = connect(503, host="nexus.corp.internal", port=443, evidence=ev)
    findings = diagnose([denied], config(noproxy="localhost"))
    assert rules(findings) == ["noproxy-internal-registry"]
    assert findings[0].commands == ("npm config set noproxy=localhost,nexus.corp.internal --location=user",)


def test_a_public_registry_refused_is_not_a_noproxy_case():
    assert "noproxy-internal-registry" not in rules(diagnose([connect(403, host="registry.npmjs.org")], config()))


def test_only_http_proxy_in_the_environment_sends_https_around_the_proxy():
    direct = make_exchange(kind="connect", status=None, hop=Hop.REGISTRY, upstream=None, error=ErrorInfo("connect-failed", "timed out"))
    snap = config(_env={"HTTP_PROXY": "http://proxy.corp:3128"})
    (f,) = [f for f in diagnose([direct], snap) if f.rule == "proxy-missing-https"]
    assert f.commands == ("npm config set https-proxy=http://proxy.corp:3128 --location=user",)


def test_https_proxy_in_the_environment_is_not_missing():
    direct = make_exchange(kind="connect", status=None, hop=Hop.REGISTRY, upstream=None, error=ErrorInfo("connect-failed", "x"))
    snap = config(_env={"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "http://p:1"})
    assert "proxy-missing-https" not in rules(diagnose([direct], snap))


def test_npm_config_and_environment_disagreeing_is_a_warning():
    snap = config(**{"https-proxy": "http://old-proxy.corp:8080"}, _env={"HTTPS_PROXY": "http://proxy.corp:3128"})
    findings = diagnose([connect(407, evidence=BASIC)], snap)
    assert "proxy-missing-https" in rules(findings)


# -- registry ----------------------------------------------------------------------------


REG = "https://nexus.corp/repository/npm-group/"


def test_401_without_token_is_registry_auth_missing_with_login_and_token_commands():
    e = registry(401, host="nexus.corp", path="/repository/npm-group/@corp%2fsecret", evidence=Evidence(status_line="HTTP/1.1 401", www_authenticate=("Basic",)))
    (f,) = diagnose([e], config(registry=REG))
    assert f.rule == "registry-auth-missing" and f.hop == Hop.REGISTRY
    assert f"npm login --registry={REG}" in f.commands
    assert "npm config set '//nexus.corp/repository/npm-group/:_authToken=<token>' --location=user" in f.commands
    assert "Nexus" in f.explanation


def test_401_with_a_token_is_registry_auth_rejected():
    e = registry(401, host="nexus.corp", path="/repository/npm-group/x", auth=CredentialInfo("Bearer", "feedbeef"))
    snap = config(registry=REG, _auth_entries=[AuthEntry("//nexus.corp/repository/npm-group/", "_authToken", "user", "/home/u/.npmrc", "feedbeef")])
    (f,) = diagnose([e], snap)
    assert f.rule == "registry-auth-rejected" and "feedbeef" in f.explanation and "/home/u/.npmrc" in f.explanation
    assert f.commands[0] == f"npm logout --registry={REG}"


def test_403_with_a_token_is_registry_forbidden_with_whoami_and_owner():
    e = registry(403, path="/@corp%2fsecret", auth=CredentialInfo("Bearer", "12345678"), evidence=Evidence(error_body='{"error":"user bob is not allowed to access package @corp/secret"}'))
    (f,) = diagnose([e], config())
    assert f.rule == "registry-forbidden"
    assert "npm whoami --registry=https://registry.npmjs.org/" in f.commands
    assert "npm owner ls @corp/secret --registry=https://registry.npmjs.org/" in f.commands
    assert "user bob is not allowed" in f.explanation


def test_a_token_under_another_path_of_the_same_host_is_a_mismatch_not_a_missing_login():
    e = registry(401, host="nexus.corp", path="/repository/npm-group/lodash")
    snap = config(registry=REG, _auth_entries=[AuthEntry("//nexus.corp/repository/npm-private/", "_authToken", "user", "/home/u/.npmrc", "0badf00d")])
    findings = diagnose([e], snap)
    assert rules(findings) == ["token-host-mismatch"]
    (f,) = findings
    assert "//nexus.corp/repository/npm-private/" in f.title and "//nexus.corp/repository/npm-group/" in f.title
    assert f.changes[0].action == "copy"


def test_a_token_for_a_parent_path_is_no_mismatch():
    e = registry(401, host="nexus.corp", path="/repository/npm-group/lodash")
    snap = config(registry=REG, _auth_entries=[AuthEntry("//nexus.corp/", "_authToken", "user", None, "0badf00d")])
    assert "token-host-mismatch" not in rules(diagnose([e], snap))


def test_a_scoped_404_on_the_default_registry_wants_a_scope_mapping():
    e = registry(404, path="/@corp%2fsecret")
    snap = config(_auth_entries=[AuthEntry("//nexus.corp/repository/npm-private/", "_authToken", "user", None, "0badf00d")])
    (f,) = [f for f in diagnose([e], snap) if f.rule == "scope-registry-missing"]
    assert f.commands == ("npm config set @corp:registry=https://nexus.corp/repository/npm-private/ --location=user",)


def test_a_mapped_scope_is_not_missing():
    e = registry(404, path="/@corp%2fsecret", host="nexus.corp")
    snap = config(**{"@corp:registry": "https://nexus.corp/"})
    assert "scope-registry-missing" not in rules(diagnose([e], snap))


def test_an_unscoped_404_is_not_a_scope_problem_but_a_missing_package():
    assert rules(diagnose([registry(404, path="/left-pad")], config())) == ["package-not-found"]


# -- TLS and timing -------------------------------------------------------------------


def test_a_re_signing_proxy_is_named_and_its_ca_saved():
    tls = TlsInfo(sni="registry.npmjs.org", issuer="CN=Corp SSL Inspection CA, O=Corp", failed_by=Hop.REGISTRY, error="certificate verify failed", chain_pem="-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    e = make_exchange(status=None, hop=Hop.TLS, tls=tls, error=ErrorInfo("tls", "certificate verify failed"))
    (f,) = diagnose([e], config())
    assert (f.rule, f.hop) == ("tls-untrusted", Hop.TLS)
    assert "Corp SSL Inspection CA" in f.title
    assert f.commands == ("npm config set cafile=corporate-ca.pem --location=user",)
    assert f.attachments[0][0] == "corporate-ca.pem"
    assert any("strict-ssl=false" in c for c in f.caveats)
    assert not any("strict-ssl" in c for c in f.commands)


def test_npm_rejecting_the_inspectors_ca_is_about_the_client():
    e = make_exchange(kind="connect", status=200, hop=Hop.CLIENT, tls=TlsInfo(failed_by=Hop.CLIENT, error="unknown ca"))
    (f,) = diagnose([e], config())
    assert (f.rule, f.hop) == ("tls-untrusted", Hop.CLIENT)


def test_a_slow_proxy_connect_is_named_with_figures():
    fast = [make_exchange(timings=Timings(connect=20.0, total=40.0)) for _ in range(5)]
    slow = make_exchange(timings=Timings(connect=4000.0, total=4100.0))
    (f,) = diagnose([*fast, slow], config())
    assert (f.rule, f.hop, f.severity) == ("slow-hop", Hop.PROXY, "warning")
    assert "4000 ms" in f.explanation and "median" in f.explanation


def test_uniformly_slow_but_normal_timings_are_not_flagged():
    assert diagnose([make_exchange(timings=Timings(wait=900.0)) for _ in range(5)], config()) == []


# -- ranking and robustness --------------------------------------------------------------


def test_the_root_cause_comes_first():
    findings = diagnose([registry(401), connect(407, evidence=BASIC), registry(403, auth=CredentialInfo("Bearer", "x"))], config())
    assert findings[0].rule == "proxy-auth-required"


def test_a_healthy_session_has_no_findings():
    assert diagnose([connect(200), registry(200), registry(304)], config()) == []


def test_every_rule_id_is_documented():
    assert len(RULE_IDS) == len(set(RULE_IDS)) == 24


@settings(max_examples=200, deadline=None)
@given(st.lists(exchanges, max_size=25), st.sampled_from([config(), config(registry=REG, noproxy="x"), config(**{"https-proxy": "http://u:***@p:1"}, _env={"HTTP_PROXY": "http://p:2"})]))
def test_the_engine_never_crashes_and_only_names_known_rules(records, snap):
    for finding in diagnose(records, snap):
        assert finding.rule in RULE_IDS
        assert finding.count >= 1 and finding.title and finding.explanation
