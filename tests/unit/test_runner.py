"""How npm is pointed at the inspector: the run's credential in its environment, never on its command line."""

from __future__ import annotations

from inspector.listener import ListenerCredential
from inspector.npmconfig import RawLayer, RawNpmConfig
from inspector.runner import resolve_upstream, strip_flags


def test_proxy_and_ca_flags_leave_npms_argv_whatever_their_form():
    args = ["install", "--proxy", "http://u:p@x:1", "--https-proxy=http://u:p@x:1", "--cafile", "/a.pem", "--ca=PEM", "lodash", "--save-dev"]
    assert strip_flags(args) == ["install", "lodash", "--save-dev"]


def test_arguments_after_a_double_dash_are_npms_scripts_own():
    assert strip_flags(["run", "build", "--", "--proxy", "x"]) == ["run", "build", "--", "--proxy", "x"]


def test_each_run_gets_its_own_credential_and_a_url_npm_can_use():
    a, b = ListenerCredential.generate(), ListenerCredential.generate()
    assert a.password != b.password and len(a.password) >= 20
    assert a.url("127.0.0.1", 8899) == f"http://npm-inspect:{a.password}@127.0.0.1:8899"
    assert a.url("0.0.0.0", 1).startswith("http://npm-inspect:") and "@127.0.0.1:1" in a.url("0.0.0.0", 1)
    assert a.password not in repr(a)


def raw(**layers: dict) -> RawNpmConfig:
    return RawNpmConfig(layers=[RawLayer(name, None, values) for name, values in layers.items()], effective={})


def test_the_upstream_carries_npms_own_credentials():
    upstream, source = resolve_upstream(raw(user={"https-proxy": "http://carol:p%40ss@proxy.corp:3128"}), None)
    assert (upstream.username, upstream.password, upstream.credentials) == ("carol", "p@ss", "carol:p@ss")
    assert source.startswith("npm config https-proxy")


def test_a_password_from_the_environment_fills_a_url_that_names_only_the_user():
    upstream, source = resolve_upstream(raw(), "http://carol@proxy.corp:3128", password="from-env")
    assert upstream.credentials == "carol:from-env" and source == "--upstream"
    upstream, _ = resolve_upstream(raw(), "http://carol:in-url@proxy.corp:3128", password="from-env")
    assert upstream.credentials == "carol:in-url"  # a password already in the URL wins
    upstream, source = resolve_upstream(raw(), "http://proxy.corp:3128", source="NPM_INSPECT_UPSTREAM", password="x")
    assert upstream.credentials is None and source == "NPM_INSPECT_UPSTREAM"
