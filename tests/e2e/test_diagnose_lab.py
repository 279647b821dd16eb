"""The diagnosis engine on real failures: each lab scenario's top finding names the right rule and hop,
and for config-fixable ones, --verify-fix proves the fix on a temporary copy of the npm config."""

from __future__ import annotations

import pytest

from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import run_inspector
from tests.lab.procs import free_port
from tests.lab.squid import SquidConfig

pytestmark = pytest.mark.e2e

USER, PASSWORD = "carol", "p@ss:w0rd/#1"


def configure(npm_env, verdaccio, lab_pki, *lines, scheme="https", proxy=None):
    base = [f"registry={verdaccio.url(scheme)}", f"cafile={lab_pki.ca.cert}"]
    if proxy:
        base += [f"proxy={proxy}", f"https-proxy={proxy}"]
    npm_env.write_userconfig(*base, *lines)


def top(run):
    assert run.report is not None, run.process.stderr
    assert run.report["findings"], run.report["exchanges"]
    return run.report["findings"][0]


def test_407_is_proxy_auth_required_and_verify_fix_turns_it_green(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(
        npm_env, "--verify-fix", "--fix-value", f"user={USER}", "--fix-value", f"password={PASSWORD}",
        npm_args=["view", "lab-hello", "version"],
    )
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("proxy-auth-required", "proxy")
    assert f"npm config set 'https-proxy=http://<user>:<password>@127.0.0.1:{squid.port}' --location=user" in finding["commands"]
    (outcome,) = [v for v in run.report["verify"] if v["rule"] == "proxy-auth-required"]
    assert outcome["passed"] is True and outcome["exit"] == 0
    assert PASSWORD not in run.process.stdout + run.process.stderr
    assert "p%40ss%3Aw0rd%2F%231" not in run.process.stdout  # not even percent-encoded
    assert npm_env.userconfig.read_text().count("https-proxy=") == 1  # the real userconfig is untouched


def test_verify_fix_without_the_password_says_how_to_give_it(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_env, "--verify-fix", npm_args=["view", "lab-hello", "version"])
    (outcome,) = run.report["verify"]
    assert outcome["passed"] is None and "--fix-value" in outcome["note"] and "NPM_INSPECT_FIX_PASSWORD" in outcome["note"]


def test_wrong_proxy_password_is_proxy_auth_rejected(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url_with(USER, "old-password"))
    run = run_inspector(npm_env, "--verify-fix", "--fix-value", f"password={PASSWORD}", npm_args=["view", "lab-hello", "version"])
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("proxy-auth-rejected", "proxy")
    assert USER in finding["explanation"]
    assert run.report["verify"][0]["passed"] is True


def test_an_ntlm_only_proxy_is_an_unsupported_scheme(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(SquidConfig(ntlm_only=True))
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    finding = top(run_inspector(npm_env, npm_args=["view", "lab-hello", "version"]))
    assert (finding["rule"], finding["hop"]) == ("proxy-auth-unsupported-scheme", "proxy")


def test_connect_denied_is_the_proxys_403(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(deny_hosts=[REGISTRY_HOST])
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    finding = top(run_inspector(npm_env, npm_args=["view", "lab-hello", "version"]))
    assert (finding["rule"], finding["hop"]) == ("proxy-connect-denied", "proxy")
    assert f"{REGISTRY_HOST}:{verdaccio.https_port}" in finding["title"]
    assert "ERR_ACCESS_DENIED" in finding["explanation"]


def test_a_dead_proxy_is_proxy_unreachable(npm_env, verdaccio, lab_pki):
    configure(npm_env, verdaccio, lab_pki, proxy=f"http://127.0.0.1:{free_port()}")
    finding = top(run_inspector(npm_env, npm_args=["view", "lab-hello", "version"]))
    assert (finding["rule"], finding["hop"]) == ("proxy-unreachable", "proxy")


def test_an_internal_name_the_proxy_cannot_resolve_wants_noproxy(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    npm_env.write_userconfig("registry=https://npm.corp.internal/", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    finding = top(run_inspector(npm_env, npm_args=["view", "lab-hello", "version"]))
    assert (finding["rule"], finding["hop"]) == ("noproxy-internal-registry", "proxy")
    assert finding["commands"] == ["npm config set noproxy=npm.corp.internal --location=user"]


def test_markdown_report_for_the_401_case_starts_with_registry_auth_missing(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_env, report="markdown", npm_args=["install", "@corp/secret"])
    text = run.process.stdout
    assert text.startswith("# npm-inspect report")
    first = text.split("### 1. ", 1)[1].split("### 2. ", 1)[0]
    assert "`registry-auth-missing`" in first and "hop **registry**" in first
    nerf = verdaccio.url("https").replace("https:", "")
    assert f"npm config set '{nerf}:_authToken=<token>' --location=user" in first
    assert f"npm login --registry={verdaccio.url('https')}" in first


def test_registry_401_verify_fix_with_a_token(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    token = verdaccio.tokens["alice"]
    run = run_inspector(npm_env, "--verify-fix", npm_args=["view", "@corp/secret", "version"], env={"NPM_INSPECT_FIX_TOKEN": token})
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("registry-auth-missing", "registry")
    assert run.report["verify"][0]["passed"] is True
    assert token not in run.process.stdout + run.process.stderr


def test_an_invalid_token_is_registry_auth_rejected(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    nerf = verdaccio.url("https").replace("https:", "")
    configure(npm_env, verdaccio, lab_pki, f"{nerf}:_authToken=bm90LWEtcmVhbC10b2tlbg==", proxy=squid.url)
    finding = top(run_inspector(npm_env, npm_args=["view", "@corp/secret", "version"]))
    assert (finding["rule"], finding["hop"]) == ("registry-auth-rejected", "registry")


def test_a_user_outside_the_group_is_registry_forbidden(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    nerf = verdaccio.url("https").replace("https:", "")
    configure(npm_env, verdaccio, lab_pki, f"{nerf}:_authToken={verdaccio.tokens['bob']}", proxy=squid.url)
    finding = top(run_inspector(npm_env, npm_args=["view", "@corp/secret", "version"]))
    assert (finding["rule"], finding["hop"]) == ("registry-forbidden", "registry")
    assert any(c.startswith("npm whoami --registry=") for c in finding["commands"])


def test_a_token_under_the_wrong_path_is_a_mismatch_and_moving_it_fixes_it(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    nerf = verdaccio.url("https").replace("https:", "")
    configure(npm_env, verdaccio, lab_pki, f"{nerf}repository/npm-private/:_authToken={verdaccio.tokens['alice']}", proxy=squid.url)
    run = run_inspector(npm_env, "--verify-fix", npm_args=["view", "@corp/secret", "version"])
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("token-host-mismatch", "registry")
    assert run.report["verify"][0]["passed"] is True


def test_a_re_signing_corporate_proxy_is_tls_untrusted_and_its_saved_ca_fixes_it(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    """The corporate proxy re-signs TLS with its own CA, as TLS-inspecting proxies do: a real mitmdump,
    chained to Squid (which alone resolves the lab's registry name)."""
    import sys
    from pathlib import Path

    from tests.lab.procs import ManagedProcess, port_open, wait_until

    from tests.lab.pki import make_ca, make_intermediate_ca, write_mitmproxy_ca

    corp_root = make_ca(tmp_path / "corp-pki", "Corp Root CA", "Corp IT")
    inspection = make_intermediate_ca(tmp_path / "corp-pki", corp_root, "Corp SSL Inspection CA")
    confdir = tmp_path / "corp-proxy"
    write_mitmproxy_ca(confdir, inspection, corp_root.cert)
    port = free_port()
    squid = squid_factory()
    proxy = ManagedProcess(
        [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(port),
         "--mode", f"upstream:{squid.url}",
         "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={lab_pki.ca.cert}"],
        log=tmp_path / "corp-proxy.log",
    )
    try:
        wait_until(lambda: port_open(port), timeout=30, what="the re-signing proxy")
        configure(npm_env, verdaccio, lab_pki, proxy=f"http://127.0.0.1:{port}")
        run = run_inspector(npm_env, "--verify-fix", npm_args=["view", "lab-hello", "version"])
    finally:
        proxy.stop()
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("tls-untrusted", "tls"), run.report["exchanges"]
    assert "Corp SSL Inspection CA" in finding["title"]
    assert not any("strict-ssl" in c for c in finding["commands"])
    assert run.report["verify"][0]["passed"] is True


@pytest.fixture(scope="module")
def public_registry(tmp_path_factory, lab_pki):
    """A second registry playing the public one: it has lab-hello but knows nothing of @corp."""
    from tests.lab.packages import Package
    from tests.lab.verdaccio import Verdaccio

    registry = Verdaccio(
        tmp_path_factory.mktemp("public-registry"),
        tls=lab_pki.registry,
        ca=lab_pki.ca.cert,
        packages={"**": {"access": "$all", "publish": "$authenticated"}},
    ).start()
    try:
        registry.publish(Package("lab-hello", "2.0.0"))
        yield registry
    finally:
        registry.stop()


def test_a_scope_asked_of_the_public_registry_wants_a_scope_mapping(npm_env, verdaccio, public_registry, lab_pki, squid_factory):
    squid = squid_factory()
    private_nerf = verdaccio.url("https").replace("https:", "")
    npm_env.write_userconfig(
        f"registry={public_registry.url('https')}",
        f"cafile={lab_pki.ca.cert}",
        f"https-proxy={squid.url}",
        f"{private_nerf}:_authToken={verdaccio.tokens['alice']}",
    )
    run = run_inspector(npm_env, "--verify-fix", npm_args=["view", "@corp/secret", "version"])
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("scope-registry-missing", "registry")
    assert finding["commands"] == [f"npm config set @corp:registry={verdaccio.url('https')} --location=user"]
    assert run.report["verify"][0]["passed"] is True
