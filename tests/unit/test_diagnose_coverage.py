"""The rules that close the gaps: each fires on its case (records and npm's own words) and keeps quiet on
near-misses; and whatever the records, a failing npm never ends with zero findings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.diagnose import diagnose
from inspector.diagnose.rules import RULE_IDS
from inspector.npmconfig import ConfigValue, NpmConfigSnapshot
from inspector.npmoutcome import NpmOutcome
from inspector.records import ErrorInfo, Evidence, Exchange, Hop, NpmIdentity, Timings, TlsInfo
from tests.strategies import exchanges, make_exchange, outcomes

PROXY = "127.0.0.1:3128"
REG = "https://registry.lab.test:4873/"


def config(**values: str) -> NpmConfigSnapshot:
    env_tls = values.pop("_env_tls", {})
    layer = values.pop("_layer", "user")
    return NpmConfigSnapshot(
        values={k if k.startswith("@") else k.replace("_", "-"): ConfigValue(k, v, layer, "/home/u/.npmrc") for k, v in values.items()},
        env_tls=env_tls,
        files={"user": "/home/u/.npmrc", "project": "/w/app/.npmrc"},
        npm_version="12.2.0",
    )


def failed(code: str | None, *message: str, **more) -> NpmOutcome:
    return NpmOutcome(exit_code=1, code=code, message=message, source="npm's debug log", **more)


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def page(path="/lodash", **kw) -> Exchange:
    fields = dict(
        path=path,
        scheme="http",
        port=80,
        hop=Hop.PROXY,
        upstream=PROXY,
        content_type="text/html; charset=utf-8",
        body_preview="<!DOCTYPE html><html><head><title>Corporate Web Access - Sign in</title></head></html>",
    )
    return make_exchange(**(fields | kw))


# -- the fallback ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(exchanges, max_size=20), outcomes, st.sampled_from([config(), config(registry=REG, **{"strict-ssl": "false"})]))
def test_a_failing_npm_never_ends_without_an_error_finding(records, outcome, snap):
    findings = diagnose(records, snap, outcome)
    for finding in findings:
        assert finding.rule in RULE_IDS and finding.count >= 1 and finding.title and finding.explanation
    if outcome.exit_code:
        assert any(f.severity == "error" for f in findings), [(f.rule, f.severity) for f in findings]


def test_npm_error_quotes_npm_and_says_nothing_reached_the_wire():
    outcome = failed("EJSONPARSE", "Unexpected end of JSON input while parsing near '...'", log_file="/u/.npm/_logs/x-debug-0.log")
    (f,) = diagnose([], config(), outcome)
    assert (f.rule, f.severity, f.hop) == ("npm-error", "error", Hop.CLIENT)
    assert f.title.startswith("npm failed: EJSONPARSE — Unexpected end of JSON input")
    assert "No request reached npm-inspect" in f.explanation and "npm's debug log /u/.npm/_logs/x-debug-0.log" in f.explanation
    assert f.commands == ("cat /u/.npm/_logs/x-debug-0.log",)


def test_npm_error_names_failures_no_rule_recognised():
    odd = make_exchange(status=418, hop=Hop.REGISTRY)
    (f,) = diagnose([odd], config(), failed("E418", "418 I'm a teapot - GET https://registry.npmjs.org/lodash"))
    assert f.rule == "npm-error" and f.hop == Hop.REGISTRY and "418 ×1" in f.explanation


def test_npm_error_without_npms_words_says_how_to_get_them():
    (f,) = diagnose([], config(), NpmOutcome(exit_code=130))
    assert f.title == "npm failed: exit status 130 (interrupted (Ctrl-C))"
    assert any("--report json" in c for c in f.caveats)


def test_no_fallback_when_a_rule_explains_it_or_npm_succeeded():
    denied = make_exchange(kind="connect", status=403, hop=Hop.PROXY, upstream=PROXY, evidence=Evidence(status_line="HTTP/1.1 403 Forbidden", squid_error="ERR_ACCESS_DENIED 0"))
    assert "npm-error" not in rules(diagnose([denied], config(), failed("E403", "403 Forbidden - GET https://registry.npmjs.org/x")))
    assert diagnose([make_exchange()], config(), NpmOutcome(exit_code=0)) == []


# -- the proxy's own page ----------------------------------------------------------------------------------


def test_a_proxy_page_is_proxy_interstitial_with_its_title_and_login_advice():
    outcome = failed("FETCH_ERROR", "invalid json response body at http://r/lodash reason: Unexpected token '<'")
    (f, *_) = diagnose([page()], config(proxy="http://proxy.corp:3128"), outcome)
    assert (f.rule, f.hop) == ("proxy-interstitial", Hop.PROXY)
    assert "Corporate Web Access - Sign in" in f.title and "login page" in f.explanation
    assert "npm config set 'proxy=http://<user>:<password>@proxy.corp:3128' --location=user" in f.commands


def test_a_tarball_page_is_about_eintegrity_and_a_block_page_about_policy():
    blocked = page(path="/lodash/-/lodash-4.17.21.tgz", body_preview="<title>Access Denied by policy</title>")
    (f, *_) = diagnose([blocked], config(), failed("EINTEGRITY", "integrity checksum failed"))
    assert "tarball" in f.title and "EINTEGRITY" in f.explanation and "block page" in f.explanation and not f.changes


def test_the_registrys_json_is_not_an_interstitial():
    ok = make_exchange(hop=Hop.REGISTRY, content_type="application/json")
    assert "proxy-interstitial" not in rules(diagnose([ok], config(), failed("E500", "x")))


def test_without_decryption_npms_words_point_at_the_proxys_page():
    tunnel = make_exchange(kind="connect", status=200, hop=Hop.PROXY, upstream=PROXY, decrypted=False)
    outcome = failed("FETCH_ERROR", "invalid json response body at https://r/x reason: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON")
    (f, *_) = diagnose([tunnel], config(), outcome)
    assert f.rule == "proxy-interstitial" and "metadata-only" in f.explanation


# -- the proxy URL's scheme ----------------------------------------------------------------------------------


def scheme_error(message: str, kind: str = "proxy-scheme") -> Exchange:
    return make_exchange(kind="connect", status=None, hop=Hop.PROXY, upstream=PROXY, error=ErrorInfo(kind, message))


def test_a_confirmed_https_url_for_a_plain_proxy_is_fixed_to_http_keeping_the_user():
    e = scheme_error(f"upstream proxy {PROXY}: TLS with the proxy failed: WRONG_VERSION_NUMBER; the same port answered plain HTTP (HTTP/1.1 400): {PROXY} is an http:// proxy, but its URL says https://")
    snap = config(**{"https-proxy": "https://carol:***@127.0.0.1:3128", "_layer": "project"})
    (f, *_) = diagnose([e], snap, failed("E502", "502 Bad Gateway"), "npm config https-proxy (project /w/app/.npmrc)")
    assert (f.rule, f.hop) == ("proxy-scheme-mismatch", Hop.PROXY)
    assert "Confirmed" in f.explanation and "EPROTO" in f.explanation
    assert f.commands == ("npm config set 'https-proxy=http://carol:<password>@127.0.0.1:3128' --location=project",)


def test_the_reverse_mismatch_asks_for_https():
    e = scheme_error(f"upstream proxy {PROXY}: the proxy closed the connection; the same port completed a TLS handshake (TLSv1.3): {PROXY} is an https:// proxy, but its URL says http://")
    (f, *_) = diagnose([e], config(**{"https-proxy": "http://127.0.0.1:3128"}), failed("ECONNRESET", "socket hang up"))
    assert f.rule == "proxy-scheme-mismatch" and "npm config set https-proxy=https://127.0.0.1:3128 --location=user" in f.commands


def test_an_unconfirmed_tls_failure_with_the_proxy_is_still_named_and_from_upstream_says_so():
    e = scheme_error(f"upstream proxy {PROXY}: TLS with the proxy failed: [SSL] record layer failure", kind="tls")
    (f, *_) = diagnose([e], config(), failed("E502", "x"), "--upstream")
    assert f.rule == "proxy-scheme-mismatch" and "Not confirmed" in f.explanation
    assert f.commands == (f"npm-inspect --upstream http://{PROXY} …",)


def test_a_certificate_error_with_the_proxy_is_not_a_scheme_mismatch():
    e = scheme_error("upstream proxy x: TLS with the proxy failed: certificate verify failed", kind="tls")
    assert "proxy-scheme-mismatch" not in rules(diagnose([e], config(), failed("E502", "x")))


# -- npm's config --------------------------------------------------------------------------------------------


def test_unscoped_credentials_get_npm_config_fix_and_scoped_keys():
    text = (
        "Invalid auth configuration found: `_authToken` must be renamed to `//r.corp/:_authToken` in user config, "
        "`username` is not allowed in project config"
    )
    (f,) = diagnose([], config(), failed("ERR_INVALID_AUTH", text, "Please run `npm config fix` to repair your configuration.`"))
    assert (f.rule, f.hop, f.rank) == ("npm-config-invalid", Hop.CLIENT, 1)
    assert f.commands == (
        "npm config fix",
        "npm config set '//r.corp/:_authToken=<token>' --location=user",
        "npm config delete _authToken --location=user",
        "npm config delete username --location=project",
    )
    assert [c.action for c in f.changes] == ["copy", "delete", "delete"]


def test_an_invalid_value_is_deleted_where_it_is_set():
    outcome = failed("ERR_INVALID_ARG_TYPE", "The \"timeout\" argument must be of type number", warnings=('invalid config fetch-timeout="soon" set in /w/app/.npmrc', "invalid config Must be numeric value"))
    (f,) = diagnose([], config(), outcome)
    assert f.rule == "npm-config-invalid" and f.commands == ("npm config delete fetch-timeout --location=project",)
    assert "Must be numeric value" in f.explanation


def test_a_key_npm_will_stop_accepting_is_a_warning_even_on_success():
    outcome = NpmOutcome(exit_code=0, warnings=('Unknown user config "always-auth". This will stop working in the next major version of npm.',))
    (f,) = diagnose([make_exchange()], config(), outcome)
    assert (f.rule, f.severity) == ("npm-config-invalid", "warning") and f.commands == ("npm config delete always-auth --location=user",)


# -- packages and versions -------------------------------------------------------------------------------------


def test_a_404_from_a_verdaccio_mirror_explains_uplinks():
    e = make_exchange(status=404, path="/left-pad", host="registry.lab.test", port=4873, evidence=Evidence(status_line="HTTP/1.1 404", error_body='{"error":"no such package available"}'))
    (f,) = diagnose([e], config(registry=REG), failed("E404", "404 Not Found - GET https://registry.lab.test:4873/left-pad"))
    assert (f.rule, f.hop) == ("package-not-found", Hop.REGISTRY)
    assert "Verdaccio" in f.explanation and "uplink" in f.explanation
    assert f.commands == (f"npm view left-pad versions --registry={REG}", "npm view left-pad versions --registry=https://registry.npmjs.org/")


def test_nexus_and_artifactory_mirrors_get_their_own_advice():
    nexus = make_exchange(status=404, path="/repository/npm-hosted/left-pad", host="nexus.corp")
    (f,) = diagnose([nexus], config(registry="https://nexus.corp/repository/npm-hosted/"), failed("E404", "x"))
    assert "group repository" in f.explanation
    art = make_exchange(status=404, path="/artifactory/api/npm/npm-local/left-pad", host="art.corp")
    (f,) = diagnose([art], config(registry="https://art.corp/artifactory/api/npm/npm-local/"), failed("E404", "x"))
    assert "virtual repository" in f.explanation


def test_a_curation_block_is_named():
    e = make_exchange(status=404, path="/evil-pkg", evidence=Evidence(status_line="HTTP/1.1 404", error_body="Package blocked by curation policy"))
    (f,) = diagnose([e], config(), failed("E404", "x"))
    assert "policy" in f.title and "curation" in f.explanation


def test_an_unmapped_scope_404_stays_scope_registry_missing():
    e = make_exchange(status=404, path="/@corp%2fui")
    assert rules(diagnose([e], config(), failed("E404", "x"))) == ["scope-registry-missing"]


def test_npms_own_404_names_the_package_when_the_wire_was_not_decrypted():
    (f,) = diagnose([], config(), failed("E404", "404 Not Found - GET https://registry.npmjs.org/left-pad - Not found"))
    assert f.rule == "package-not-found" and "left-pad" in f.title and "not decrypted" in f.explanation


def test_etarget_lists_what_the_registry_has():
    doc = make_exchange(path="/lodash", status=200)
    outcome = failed("ETARGET", "notarget No matching version found for lodash@^9.", versions=(("lodash", ("4.17.20", "4.17.21"), (("latest", "4.17.21"),)),))
    (f,) = diagnose([doc], config(), outcome)
    assert (f.rule, f.hop) == ("version-not-found", Hop.REGISTRY)
    assert f.title == "No version of lodash on https://registry.npmjs.org/ matches ^9"
    assert "It lists 4.17.20, 4.17.21; latest is 4.17.21" in f.explanation and "mirror may lag" in f.explanation


def test_etarget_without_a_document_says_npm_used_its_cache():
    (f,) = diagnose([], config(), failed("ETARGET", "No matching version found for @corp/ui@2.x."))
    assert "@corp/ui" in f.title and "from its cache" in f.explanation


# -- the lockfile ----------------------------------------------------------------------------------------------


def test_tarballs_from_an_old_mirror_are_a_lockfile_mismatch_with_the_path_prefix_as_fix():
    e = make_exchange(kind="connect", status=503, host="npm-old.example.com", port=8081, hop=Hop.PROXY, upstream=PROXY, evidence=Evidence(status_line="HTTP/1.1 503", squid_error="ERR_CONNECT_FAIL 111"))
    outcome = failed("E503", "503 Service Unavailable - GET https://npm-old.example.com:8081/repository/npm/x/-/x-1.tgz", lockfile="/w/app/package-lock.json", lockfile_hosts=(("https://npm-old.example.com:8081/repository/npm/", 40), (REG, 2)))
    findings = diagnose([e], config(registry=REG), outcome)
    f = findings[0]
    assert (f.rule, f.hop) == ("lockfile-registry-mismatch", Hop.CLIENT)
    assert "(40 resolved URL(s))" in f.title and "https://npm-old.example.com:8081/repository/npm/ ×40" in f.explanation
    assert f.commands[0] == "npm config set replace-registry-host=https://npm-old.example.com:8081/repository/npm --location=user"
    assert "proxy-unreachable" in rules(findings)  # the consequence, ranked after


def test_npm_12_refusing_remote_tarballs_is_a_lockfile_mismatch_with_a_host_fix():
    outcome = failed(
        "EALLOWREMOTE",
        'Fetching packages of type "remote" have been disabled',
        'Refusing to fetch "x@https://old.corp/x/-/x-1.tgz"',
        lockfile_hosts=(("https://old.corp/", 3),),
    )
    (f,) = diagnose([], config(registry=REG), outcome)
    assert f.rule == "lockfile-registry-mismatch" and "EALLOWREMOTE" in f.explanation
    assert f.commands[0] == "npm config set replace-registry-host=old.corp --location=user"


def test_a_lockfile_on_the_configured_registry_is_fine():
    tarball = make_exchange(path="/x/-/x-1.tgz", host="registry.lab.test", port=4873)
    outcome = failed("E500", "x", lockfile_hosts=((REG, 3),))
    assert "lockfile-registry-mismatch" not in rules(diagnose([tarball], config(registry=REG), outcome))


# -- settings that turn verification off ---------------------------------------------------------------------------


def resigned() -> Exchange:
    tls = TlsInfo(issuer="CN=Corp SSL Inspection CA, O=Corp", chain_pem="-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n")
    return make_exchange(kind="connect", status=200, tls=tls)


def test_strict_ssl_false_proposes_the_ca_it_saw_instead():
    (f,) = diagnose([resigned()], config(**{"strict-ssl": "false"}), NpmOutcome(exit_code=0))
    assert (f.rule, f.severity, f.hop) == ("insecure-tls-config", "warning", Hop.TLS)
    assert f.commands == ("npm config delete strict-ssl --location=user", "npm config set cafile=corporate-ca.pem --location=user")
    assert f.attachments and "Corp SSL Inspection CA" in f.explanation


def test_strict_ssl_false_with_public_certificates_just_turns_the_check_back_on():
    public = make_exchange(kind="connect", status=200, tls=TlsInfo(issuer="CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1"))
    (f,) = diagnose([public], config(**{"strict-ssl": "false"}))
    assert f.commands == ("npm config delete strict-ssl --location=user",) and not f.attachments


def test_node_tls_reject_unauthorized_and_http_registries_are_warnings():
    sent = make_exchange(scheme="http", port=80, host="npm.corp", auth=__import__("inspector.records", fromlist=["CredentialInfo"]).CredentialInfo("Bearer", "1a2b3c4d"))
    findings = diagnose([sent], config(registry="http://npm.corp/", _env_tls={"NODE_TLS_REJECT_UNAUTHORIZED": "0"}))
    assert rules(findings) == ["insecure-tls-config", "insecure-tls-config"]
    assert all(f.severity == "warning" for f in findings)
    http = next(f for f in findings if "http://" in f.title)
    assert "clear text 1 time(s)" in http.explanation and http.commands == ("npm config set registry=https://npm.corp/ --location=user",)


def test_a_secure_config_has_no_warning():
    assert diagnose([resigned()], config(registry=REG, cafile="/etc/corp.pem")) == []


# -- slow, not down ----------------------------------------------------------------------------------------------------


def test_a_proxy_that_accepted_but_did_not_answer_is_slow_not_unreachable():
    e = make_exchange(
        kind="connect", status=None, hop=Hop.PROXY, upstream=PROXY, timings=Timings(upstream_connect=0.4, total=12000.0),
        error=ErrorInfo("proxy-slow", "upstream proxy 127.0.0.1:3128: npm gave up after 12.0 s: the proxy had accepted the TCP connection"),
    )
    (f,) = diagnose([e], config(), NpmOutcome(exit_code=130))
    assert (f.rule, f.severity, f.hop) == ("slow-hop", "error", Hop.PROXY)
    assert "accepted the connection" in f.title and "12.0 s" in f.title


def test_a_refused_proxy_is_still_unreachable():
    e = make_exchange(kind="connect", status=None, hop=Hop.PROXY, upstream=PROXY, error=ErrorInfo("connect-failed", "connection refused"))
    assert rules(diagnose([e], config(), failed("E502", "x"))) == ["proxy-unreachable"]


# -- exact wording -------------------------------------------------------------------------------------------------------


def test_a_plain_http_denial_quotes_the_scheme_npm_used():
    e = make_exchange(scheme="http", port=80, host="registry.npmjs.org", status=403, hop=Hop.PROXY, upstream=PROXY, evidence=Evidence(status_line="HTTP/1.1 403", squid_error="ERR_ACCESS_DENIED 0"))
    (f,) = diagnose([e], config(), failed("E403", "x"))
    assert "GET http://registry.npmjs.org/…" in f.explanation and "https://" not in f.explanation.split("prints this as")[1].split("'")[1]


def test_the_proxy_source_is_the_real_one():
    e = make_exchange(kind="connect", status=407, hop=Hop.PROXY, upstream=PROXY, evidence=Evidence(status_line="HTTP/1.1 407", proxy_authenticate=('Basic realm="x"',)))
    (f,) = diagnose([e], config(), failed("E407", "x"), "--upstream")
    assert "npm-inspect's --upstream" in f.explanation and "inspector's upstream" not in f.explanation
    (f,) = diagnose([e], config(), failed("E407", "x"), "environment HTTPS_PROXY")
    assert "environment HTTPS_PROXY" in f.explanation


def test_npm_identity_tarball_requests_count_as_tarballs():
    e = page(path="/x/-/x-1.tgz", npm=NpmIdentity(request_type="tarball"))
    (f, *_) = diagnose([e], config(), failed("EINTEGRITY", "x"))
    assert "tarball" in f.title


# -- npm 12's install policies ---------------------------------------------------------------------------------------


def test_npm_12_refusing_a_git_dependency_is_npm_policy_with_allow_git_in_the_project():
    outcome = failed("EALLOWGIT", 'Fetching packages of type "git" have been disabled', 'Refusing to fetch "x@git+https://git.corp/x.git"')
    (f,) = diagnose([], config(), outcome)
    assert (f.rule, f.severity, f.hop) == ("npm-policy", "error", Hop.CLIENT)
    assert "x@git+https://git.corp/x.git" in f.title
    assert f.commands[0] == "npm config set allow-git=root --location=project"


def test_a_remote_tarball_the_lockfile_explains_is_left_to_the_lockfile_rule():
    outcome = failed("EALLOWREMOTE", 'Refusing to fetch "x@https://old.example/x/-/x-1.tgz"', lockfile_hosts=(("https://old.example/", 1),))
    assert rules(diagnose([], config(), outcome)) == ["lockfile-registry-mismatch"]
    direct = failed("EALLOWREMOTE", 'Refusing to fetch "x@https://cdn.example/x.tgz"')
    assert rules(diagnose([], config(), direct)) == ["npm-policy"]


def test_blocked_install_scripts_are_a_warning_with_the_approve_command():
    warnings = (
        "install-scripts 1 package had install scripts blocked because they are not covered by allowScripts:",
        'install-scripts   lab-native@1.0.0 (postinstall: node -e "x")',
    )
    (f,) = diagnose([make_exchange()], config(), NpmOutcome(exit_code=0, warnings=warnings))
    assert (f.rule, f.severity) == ("npm-policy", "warning") and "npm install-scripts approve lab-native" in f.commands
    npm11 = (warnings[0].replace("had install scripts blocked because they are", "has install scripts"), warnings[1])
    assert diagnose([make_exchange()], config(), NpmOutcome(exit_code=0, warnings=npm11)) == []
