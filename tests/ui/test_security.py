"""The origin policy: who counts as the app itself, who is allowed, what the headers say."""

from __future__ import annotations

import pytest

from ui.security import OriginPolicy, is_same_origin


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
