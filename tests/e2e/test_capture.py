"""End to end: the real npm → npm-inspect → a real Squid → a real Verdaccio.

Each case runs npm twice, straight through Squid and through npm-inspect, and
checks that npm prints the same error code both ways (the inspector does not
change the error being debugged) and that the report names the right hop.
"""

from __future__ import annotations

import pytest

from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import npm_error_code, run_inspector

pytestmark = pytest.mark.e2e

USER, PASSWORD = "carol", "p@ss:w0rd#1"


def configure(npm_env, verdaccio, lab_pki, *, scheme="https", proxy=None, extra=()):
    lines = [f"registry={verdaccio.url(scheme)}", f"cafile={lab_pki.ca.cert}"]
    if proxy:
        lines += [f"proxy={proxy}", f"https-proxy={proxy}"]
    npm_env.write_userconfig(*lines, *extra)


def direct_code(npm_env, *npm_args):
    result = npm_env.run(*npm_args)
    return result.returncode, npm_error_code(result.stderr)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_happy_path_names_the_proxy_for_connect_and_the_registry_for_the_answer(scheme, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, scheme=scheme, proxy=squid.url)
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    assert run.report["upstream"] == squid.url
    (get,) = run.exchanges(kind="http", path="/lab-hello")
    assert (get["status"], get["hop"], get["host"]) == (200, "registry", REGISTRY_HOST)
    assert get["upstream"] == f"127.0.0.1:{squid.port}"
    connects = run.exchanges(kind="connect")
    if scheme == "https":
        assert connects and all(c["status"] == 200 and c["hop"] == "proxy" for c in connects)
        assert connects[0]["evidence"]["status_line"].startswith("HTTP/1.1 200")
        assert get["timings"]["tls"] is not None or len(connects) > 1
    else:
        assert connects == []


@pytest.mark.parametrize("mode", ["decrypt", "metadata-only"])
def test_407_without_credentials_reaches_npm_as_407_and_is_the_proxys(mode, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    without = direct_code(npm_env, "view", "lab-hello", "version")
    args = ["--no-decrypt"] if mode == "metadata-only" else []
    run = run_inspector(npm_env, *args, npm_args=["view", "lab-hello", "version"])
    assert without == (1, "E407")
    assert (run.exit, run.npm_error_code()) == without
    (connect,) = run.exchanges(kind="connect")
    assert (connect["status"], connect["hop"]) == (407, "proxy")
    assert connect["proxy_authorization_sent"] is False
    ev = connect["evidence"]
    assert ev["proxy_authenticate"] == ['Basic realm="Lab Corporate Proxy"']
    assert ev["server"].startswith("squid/") and ev["x_squid_error"].startswith("ERR_CACHE_ACCESS_DENIED")


def test_407_with_wrong_credentials_says_they_were_sent(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url_with(USER, "wrong-password"))
    without = direct_code(npm_env, "view", "lab-hello", "version")
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert (run.exit, run.npm_error_code()) == without == (1, "E407")
    (connect,) = run.exchanges(kind="connect")
    assert connect["status"] == 407 and connect["proxy_authorization_sent"] is True
    assert "wrong-password" not in run.process.stdout + run.process.stderr


def test_407_on_a_plain_http_registry_is_the_proxys(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, scheme="http", proxy=squid.url)
    without = direct_code(npm_env, "view", "lab-hello", "version")
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert (run.exit, run.npm_error_code()) == without == (1, "E407")
    (get,) = run.exchanges(kind="http")
    assert (get["status"], get["hop"]) == (407, "proxy")


def test_npms_own_credentials_with_at_and_colon_are_forwarded(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url_with(USER, PASSWORD))
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    assert run.report["upstream"] == f"http://{USER}:***@127.0.0.1:{squid.port}"
    assert PASSWORD not in run.process.stdout + run.process.stderr
    assert any(e["user"] == USER and e["method"] == "CONNECT" and e["status"] == "200" for e in squid.access_entries())


def test_upstream_flag_credentials_are_sent_by_the_inspector(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(users={USER: PASSWORD})
    configure(npm_env, verdaccio, lab_pki)  # npm itself knows no proxy
    run = run_inspector(npm_env, "--upstream", squid.url_with(USER, PASSWORD), npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    assert run.process.stdout.count(PASSWORD) == 0


def test_connect_403_from_squid_looks_like_a_registry_403_to_npm_but_not_to_us(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(deny_hosts=[REGISTRY_HOST])
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    without = direct_code(npm_env, "view", "lab-hello", "version")
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert without == (1, "E403")
    assert (run.exit, run.npm_error_code()) == without
    (connect,) = run.exchanges(kind="connect")
    assert (connect["status"], connect["hop"], connect["host"]) == (403, "proxy", REGISTRY_HOST)
    assert connect["evidence"]["x_squid_error"].startswith("ERR_ACCESS_DENIED")
    assert "squid" in connect["evidence"]["via"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_registry_401_for_an_anonymous_scoped_package(scheme, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, scheme=scheme, proxy=squid.url)
    without = direct_code(npm_env, "view", "@corp/secret", "version")
    run = run_inspector(npm_env, npm_args=["view", "@corp/secret", "version"])
    assert without[1] == "E401"
    assert (run.exit, run.npm_error_code()) == without
    (get,) = [e for e in run.exchanges(kind="http") if e["status"] == 401]
    assert get["hop"] == "registry" and get["authorization_sent"] is False
    assert "authorization required" in get["evidence"]["error_body"]
    assert get["evidence"]["www_authenticate"]


def test_registry_403_for_a_user_outside_the_group(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    token = verdaccio.tokens["bob"]
    nerf = verdaccio.url("https").replace("https:", "")
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url, extra=[f"{nerf}:_authToken={token}"])
    without = direct_code(npm_env, "view", "@corp/secret", "version")
    run = run_inspector(npm_env, npm_args=["view", "@corp/secret", "version"])
    assert without[1] == "E403"
    assert (run.exit, run.npm_error_code()) == without
    (get,) = [e for e in run.exchanges(kind="http") if e["status"] == 403]
    assert get["hop"] == "registry" and get["authorization_sent"] is True
    assert "user bob is not allowed" in get["evidence"]["error_body"]
    assert token not in run.process.stdout + run.process.stderr


def test_an_upstream_that_is_not_running_is_reported_with_hop_proxy(npm_env, verdaccio, lab_pki):
    from tests.lab.procs import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    configure(npm_env, verdaccio, lab_pki, proxy=dead)
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    direct_exit, _ = direct_code(npm_env, "view", "lab-hello", "version")
    assert run.exit == direct_exit != 0  # npm ran: its own status, as without npm-inspect
    assert run.report is not None
    connects = run.exchanges(kind="connect")
    assert connects and all(c["hop"] == "proxy" and c["error"]["kind"] == "connect-failed" for c in connects)
    last = run.process.stderr.strip().splitlines()[-1]
    assert last.startswith("npm-inspect: warning: the upstream proxy") and "refused" in last


def test_a_corporate_ca_in_npms_cafile_is_trusted_by_the_inspector(npm_env, verdaccio, lab_pki, squid_factory):
    """The lab registry's certificate is signed by the lab CA, known only through npm's cafile."""
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    assert all(e["error"] is None for e in run.report["exchanges"])


def test_npm_install_of_a_small_tree_captures_every_request(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_env, npm_args=["install", "lab-small-root", "--no-package-lock"])
    assert run.exit == 0, run.process.stderr
    gets = run.exchanges(kind="http", method="GET")
    paths = {e["path"] for e in gets}
    assert {"/lab-small-root", "/lab-small-000", "/lab-small-002"} <= paths
    tarballs = [e for e in gets if e["path"].endswith(".tgz")]
    assert len(tarballs) == 4 and all(e["status"] == 200 and e["bytes"]["received"] > 0 for e in tarballs)
