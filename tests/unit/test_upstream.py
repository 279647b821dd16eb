"""Upstream proxy URLs: credentials with '@' and ':' must work; bad URLs say how to fix them."""

import pytest

from inspector.errors import UpstreamUrlError
from inspector.upstream import parse_upstream


def test_percent_encoded_credentials_are_decoded():
    up = parse_upstream("http://carol:p%40ss%3Aw0rd@proxy.corp:3128")
    assert (up.host, up.port, up.username, up.password) == ("proxy.corp", 3128, "carol", "p@ss:w0rd")
    assert up.credentials == "carol:p@ss:w0rd"
    assert up.mode_spec == "upstream:http://proxy.corp:3128"
    assert up.display == "http://carol:***@proxy.corp:3128"


def test_a_raw_at_sign_in_the_password_splits_at_the_last_at():
    up = parse_upstream("http://carol:p@ss:w0rd@proxy.corp:3128")
    assert (up.host, up.password) == ("proxy.corp", "p@ss:w0rd")


def test_default_ports_and_https_proxies():
    assert parse_upstream("http://proxy.corp").port == 80
    assert parse_upstream("https://proxy.corp").port == 443
    assert parse_upstream("http://[::1]:3128").address == "[::1]:3128"


@pytest.mark.parametrize(
    "url, words",
    [
        ("proxy.corp:3128", "no scheme"),
        ("socks5://proxy.corp:1080", "npm cannot use"),
        ("http://:3128", "no host"),
        ("http://proxy.corp:99999", "not a valid URL"),
        ("http://proxy.corp:3128/path", "has a path"),
    ],
)
def test_bad_urls_say_what_to_write(url, words):
    with pytest.raises(UpstreamUrlError, match=words):
        parse_upstream(url)


def test_an_error_never_shows_the_password():
    with pytest.raises(UpstreamUrlError) as info:
        parse_upstream("ftp://carol:hunter2@proxy.corp:21")
    assert "hunter2" not in str(info.value)
