"""The origin policy: who counts as the app itself, who is allowed, what the headers say."""

from __future__ import annotations

import pytest

from ui.security import OriginPolicy, is_same_origin, public_base_url
from ui.settings import Settings


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:7860", "127.0.0.1:7860", True),
        ("https://qa.example.com", "qa.example.com", True),  # behind a TLS proxy that keeps Host
        ("http://qa.example.com", "qa.example.com", True),
        ("http://qa.example.com:8080", "qa.example.com", False),
        ("http://127.0.0.1:8000", "127.0.0.1:7860", False),
        ("http://localhost:7860", "127.0.0.1:7860", False),
        ("null", "127.0.0.1:7860", False),
        ("http://127.0.0.1:7860", None, False),
    ],
)
def test_same_origin(origin, host, same):
    assert is_same_origin(origin, host) is same


def test_policy_allows_listed_origins_only():
    policy = OriginPolicy(["https://news.example.com/"])
    assert policy.allows("https://news.example.com", "qa.example.com")
    assert not policy.allows("https://evil.example", "qa.example.com")
    assert not policy.allows("null", "qa.example.com")
    assert policy.frame_ancestors() == "frame-ancestors 'self' https://news.example.com"
    assert policy.cors_origins() == ["https://news.example.com"]
    assert "https://news.example.com" in policy.describe()


def test_default_policy_explains_how_to_allow_a_site():
    policy = OriginPolicy()
    assert policy.frame_ancestors() == "frame-ancestors 'self'" and policy.cors_origins() == []
    assert "--allowed-origins https://" in policy.describe()


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8000/",  # a trailing slash: browsers never send one
        "HTTP://127.0.0.1:8000",  # upper case
        "http://127.0.0.1:08000",  # a leading zero
        "http://127.0.0.1:8000/path",
        " http://127.0.0.1:8000",
        "http://user@127.0.0.1:8000",
        "https://news.example.com:443",  # the default port written out
        "http://127.0.0.1:99999",
        "null",
        "",
    ],
)
def test_only_origins_in_the_form_browsers_send_are_allowed(origin):
    """Issue 14.13: `http://host/`, `HTTP://…` and `:08000` were accepted."""
    policy = OriginPolicy(["http://127.0.0.1:8000", "https://news.example.com"])
    assert not policy.allows(origin, "127.0.0.1:8000")
    assert not policy.allows(origin, "qa.example.com")


def test_same_origin_needs_the_browser_form_too():
    assert is_same_origin("http://127.0.0.1:7860", "127.0.0.1:7860")
    assert is_same_origin("http://qa.example.com", "QA.example.com")  # Host is case-insensitive
    assert not is_same_origin("HTTP://127.0.0.1:7860", "127.0.0.1:7860")
    assert not is_same_origin("http://127.0.0.1:7860/", "127.0.0.1:7860")
    assert not is_same_origin("http://127.0.0.1:07860", "127.0.0.1:7860")


@pytest.mark.parametrize("host", ["[::1", "a b", "127.0.0.1:x", "::1:7860", "[::1]:99999", "", None])
def test_a_malformed_host_is_never_the_same_origin_and_never_raises(host):
    """Issue 14.11: `Host: [::1` with any Origin raised ValueError (a 500)."""
    assert not is_same_origin("http://127.0.0.1:7860", host)
    assert not OriginPolicy().allows("http://127.0.0.1:7860", host)


def test_snippet_address_comes_from_the_socket_or_the_settings_never_a_foreign_host():
    settings = Settings(port=7860)
    assert public_base_url(settings, "127.0.0.1:7860") == "http://127.0.0.1:7860"
    assert public_base_url(settings, "localhost:7860") == "http://localhost:7860"
    assert public_base_url(settings, "evil.example") == "http://127.0.0.1:7860"
    assert public_base_url(settings, "127.0.0.1:6666") == "http://127.0.0.1:7860"
    assert public_base_url(settings, "127.0.0.1:9000", ("127.0.0.1", 9000)) == "http://127.0.0.1:9000"
    assert public_base_url(settings, "evil.example:9000", ("127.0.0.1", 9000)) == "http://127.0.0.1:9000"
    lan = Settings(host="0.0.0.0", port=80)
    assert public_base_url(lan, "192.168.1.5", ("192.168.1.5", 80)) == "http://192.168.1.5"
    assert public_base_url(Settings(public_url="https://qa.example.com"), "evil.example") == (
        "https://qa.example.com"
    )
