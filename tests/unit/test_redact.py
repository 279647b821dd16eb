"""Redaction: the one place that knows what a secret looks like."""

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
