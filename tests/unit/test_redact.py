"""Redaction: the one place that knows what a secret looks like."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspector import redact

NPM_TOKEN = "npm_" + "A1b2C3d4E5" * 3 + "F6g7H8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"
UUID_TOKEN = "7b1e6c1a-1111-4222-8333-123456789abc"


def test_secret_headers_keep_their_scheme_and_lose_their_value():
    out = redact.redact_header_value("Authorization", "Bearer " + NPM_TOKEN)
    assert out.startswith("Bearer [redacted:")
    assert NPM_TOKEN not in out
    assert redact.redact_header_value("Proxy-Authorization", "Basic Y2Fyb2w6cEBzczp3MHJk").startswith("Basic [redacted:")
    assert redact.redact_header_value("Cookie", "session=abc123") == redact.mask("session=abc123")


def test_the_same_secret_gets_the_same_fingerprint_and_different_ones_differ():
    a = redact.redact_header_value("authorization", "Bearer token-one-123")
    b = redact.redact_header_value("authorization", "Bearer token-one-123")
    c = redact.redact_header_value("authorization", "Bearer token-two-456")
    assert a == b != c


def test_fingerprints_depend_on_the_installation_key():
    before = redact.fingerprint("hunter2")
    redact.set_fingerprint_key(b"another installation")
    try:
        assert redact.fingerprint("hunter2") != before
    finally:
        redact.set_fingerprint_key(b"npm-inspect fingerprint v1")


def test_urls_keep_the_user_and_hide_the_password():
    assert redact.redact_url("http://carol:p%40ss@proxy.corp:3128") == "http://carol:***@proxy.corp:3128"
    assert redact.redact_url("http://carol@proxy.corp:3128") == "http://carol@proxy.corp:3128"
    assert redact.redact_url("http://proxy.corp:3128") == "http://proxy.corp:3128"


def test_npmrc_lines_and_json_fields_are_scrubbed():
    assert NPM_TOKEN not in redact.redact_text(f"//registry.npmjs.org/:_authToken={NPM_TOKEN}")
    body = '{"name":"alice","password":"p@ss w0rd \\" tricky","type":"user"}'
    out = redact.redact_text(body)
    assert "p@ss" not in out and "tricky" not in out and '"name":"alice"' in out
    assert "s3cr3t" not in redact.redact_text("_password=s3cr3t")


def test_token_shapes_are_scrubbed_in_free_text():
    for secret in (NPM_TOKEN, JWT, UUID_TOKEN):
        assert secret not in redact.redact_text(f"the value {secret} leaked")
    assert "Zm9vOmJhcg" not in redact.redact_text("header Basic Zm9vOmJhcg==")


def test_ordinary_text_is_left_alone():
    for text in ("GET /lodash 200", "user bob is not allowed to access package @corp/secret", "ERR_ACCESS_DENIED 0"):
        assert redact.redact_text(text) == text


def test_redaction_is_idempotent():
    once = redact.redact_text(f"_authToken={NPM_TOKEN} and Bearer {JWT}")
    assert redact.redact_text(once) == once


def test_basic_credentials_expose_only_the_user_name():
    assert redact.credential_username("Basic Y2Fyb2w6cEBzczp3MHJk") == "carol"
    assert redact.credential_username("Bearer abc") is None


alnum = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=36, max_size=48)
b64url = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=10, max_size=60)
token_shapes = st.one_of(
    alnum.map(lambda s: "npm_" + s),
    st.tuples(b64url, b64url, b64url).map(lambda t: f"eyJ{t[0]}.eyJ{t[1]}.{t[2]}"),
    st.uuids().map(str),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=30, max_size=40).map(lambda s: "ghp_" + s),
)
surroundings = st.text(" \n\t,;:()[]{}<>'\"", max_size=3)


@given(token=token_shapes, before=surroundings, after=surroundings)
def test_no_generated_token_shape_survives(token, before, after):
    assert token not in redact.redact_text(f"{before}{token}{after}")


@given(secret=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=30))
def test_secret_headers_are_replaced_whole(secret):
    for name in ("Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "npm-otp"):
        assert redact.redact_header_value(name, f"Bearer {secret}") == f"Bearer {redact.mask(secret)}"
        assert redact.redact_header_value(name, secret) == redact.mask(secret)


@given(key=st.sampled_from(["_authToken", "_auth", "_password", "password", "token"]), value=st.text("abcdefghijklmnopqrstuvwxyz0123456789+/=_-.", min_size=4, max_size=40))
def test_npmrc_secret_values_never_survive(key, value):
    assert value not in redact.redact_text(f"//host/path/:{key}={value}")
    assert value not in redact.redact_text(f'{{"{key}": "{value}"}}')


# -- evidence stays evidence ------------------------------------------------------------


def test_challenges_are_evidence_and_never_redacted():
    for name in ("Proxy-Authenticate", "WWW-Authenticate", "proxy-authenticate"):
        for value in ('Basic realm="Corp Proxy"', 'Basic realm="Squid proxy-caching web server"', "Negotiate", 'Bearer realm="npm", charset="UTF-8"'):
            assert redact.redact_header_value(name, value) == value
    assert redact.redact_text('Proxy-Authenticate: Basic realm="Corp Proxy"') == 'Proxy-Authenticate: Basic realm="Corp Proxy"'
    assert redact.redact_text('Basic charset="UTF-8"') == 'Basic charset="UTF-8"'


def test_basic_credentials_next_to_a_challenge_are_still_masked():
    out = redact.redact_text('Basic Y2Fyb2w6cEBzczp3MHJk= and Basic realm="x"')
    assert "Y2Fyb2w6cEBzczp3MHJk" not in out and 'Basic realm="x"' in out


# -- shapes found on the wire and on npm's command line ------------------------------------------


@pytest.mark.parametrize(
    "url, secret",
    [
        ("/pkg/-/pkg-1.0.0.tgz?X-Amz-Signature=0a1b2c3d4e5f&X-Amz-Date=20261129", "0a1b2c3d4e5f"),
        ("/pkg/-/pkg-1.0.0.tgz?X-Amz-Credential=AKIAEXAMPLE%2F2026", "AKIAEXAMPLE%2F2026"),
        ("/pkg/-/pkg-1.0.0.tgz?sv=2024&sig=abcDEF123%3D", "abcDEF123%3D"),
        ("/pkg?token=tok-1234567", "tok-1234567"),
        ("/pkg?access_token=zzzzzzzzz", "zzzzzzzzz"),
        ("/x.tgz?X-Goog-Signature=deadbeef99", "deadbeef99"),
        ("https://cdn.corp/x.tgz?expires=1&signature=s1gn4ture", "s1gn4ture"),
        ("/x?api_key=k3yk3yk3y&size=20", "k3yk3yk3y"),
    ],
)
def test_secret_query_parameters_are_masked(url, secret):
    out = redact.redact_text(url)
    assert secret not in out and "[redacted:" in out


def test_ordinary_query_parameters_are_kept():
    url = "/-/v1/search?text=lodash&size=20&from=0&quality=0.65"
    assert redact.redact_text(url) == url


@pytest.mark.parametrize("name", ["X-Custom-Token", "X-Api-Key", "X-Session-Id", "X-Auth-Request-User", "X-Client-Secret", "Private-Cookie"])
def test_custom_headers_whose_names_say_secret_are_masked_whole(name):
    assert redact.redact_header_value(name, "plain-looking-value") == redact.mask("plain-looking-value")


def test_headers_that_only_sound_secret_are_kept():
    assert redact.redact_header_value("npm-auth-type", "web") == "web"
    assert redact.redact_header_value("Keep-Alive", "timeout=5") == "timeout=5"
    assert redact.redact_header_value("Content-Type", "application/json") == "application/json"


ARGV = [
    "npm", "install", "lodash",
    "--registry", "https://alice:Reg1stryPass@registry.corp/",
    "--//registry.corp/:_authToken=npm_tokenValue123456",
    "--//other.corp/:_auth", "YWxpY2U6cGFzc3dvcmQ=",
    "--otp", "123456", "--otp=654321",
    "--password=Hunter2Hunter2",
    "https://bob:TarballPass@files.corp/x-1.0.0.tgz?sig=UrlSig999",
    "--auth-type=legacy", "--save-dev",
]
ARGV_SECRETS = ["Reg1stryPass", "npm_tokenValue123456", "YWxpY2U6cGFzc3dvcmQ=", "123456", "654321", "Hunter2Hunter2", "TarballPass", "UrlSig999"]


def test_npm_argv_loses_every_secret_and_keeps_the_rest():
    out = redact.redact_argv(ARGV)
    text = " ".join(out)
    for secret in ARGV_SECRETS:
        assert secret not in text
    for kept in ("npm", "install", "lodash", "--registry", "alice", "registry.corp", "--otp", "--auth-type=legacy", "--save-dev", "files.corp/x-1.0.0.tgz"):
        assert kept in text
    assert len(out) == len(ARGV)


def test_argv_secrets_finds_what_redact_argv_hides():
    assert set(ARGV_SECRETS) <= set(redact.argv_secrets(ARGV))


@given(
    flag=st.sampled_from(["--otp", "--password", "--//r.corp/:_authToken", "--//r.corp/path/:_password", "--_auth", "--token"]),
    value=st.text("abcdefghijklmnopqrstuvwxyz0123456789+/=_-.%", min_size=1, max_size=30),
    joined=st.booleans(),
)
def test_no_secret_flag_value_survives(flag, value, joined):
    argv = ["npm", "publish", f"{flag}={value}"] if joined else ["npm", "publish", flag, value]
    out = redact.redact_argv(argv)
    assert out == (["npm", "publish", f"{flag}={redact.mask(value)}"] if joined else ["npm", "publish", flag, redact.mask(value)])


# -- bounds -----------------------------------------------------------------------------------------


def test_a_huge_header_keeps_a_prefix_and_says_how_much_was_cut():
    (name, value), = redact.bounded_headers([("X-Big", "a" * 1_000_000)])
    assert len(value) < redact.HEADER_VALUE_LIMIT + 64 and value.endswith(f"[truncated {1_000_000 - redact.HEADER_VALUE_LIMIT} bytes]")


def test_a_huge_secret_header_is_fingerprinted_whole():
    value = "Bearer " + "t" * 500_000
    (name, out), = redact.bounded_headers([("Authorization", value)])
    assert out == f"Bearer {redact.mask('t' * 500_000)}"


def test_a_secret_near_the_cut_is_scrubbed_before_cutting():
    text = "x" * (redact.HEADER_VALUE_LIMIT - 10) + " _authToken=SECRETSECRETSECRET " + "y" * 100_000
    assert "SECRETSECRET" not in redact.bounded_text(text) and "SECR" not in redact.bounded_text(text)


def test_too_many_headers_are_counted_not_kept():
    out = redact.bounded_headers([(f"X-H{i}", "v") for i in range(5000)], max_count=100)
    assert len(out) == 101 and out[-1] == ("X-Npm-Inspect-Truncated", "4900 more headers not kept")
