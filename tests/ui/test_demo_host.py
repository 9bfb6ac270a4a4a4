"""The demo host: a page on another origin that embeds the chat, with the documented snippets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ui.demo_host import check_app_url, create_demo_host


@pytest.fixture
def host():
    with TestClient(create_demo_host("http://127.0.0.1:7860/")) as client:
        yield client


def test_widget_page_loads_the_widget_from_the_app(host):
    page = host.get("/").text
    assert (
        '<script src="http://127.0.0.1:7860/widget.js" data-title="人民日报 · 新闻问答" data-color="#c8161d"'
        in page
    )
    assert 'data-position="right" data-lang="zh"' in page and "&lt;script src=" in page  # shown as code too


def test_iframe_and_component_pages(host):
    assert '<iframe src="http://127.0.0.1:7860/?lang=zh"' in host.get("/iframe").text
    page = host.get("/component").text
    assert '<script type="module" src="http://127.0.0.1:7860/gradio.js"></script>' in page
    assert '<gradio-app src="http://127.0.0.1:7860/?lang=zh"' in page
    assert "?lang=en&amp;theme=dark" in host.get("/component?lang=en&theme=dark").text
    assert 'data-lang="en" data-theme="dark"' in host.get("/?lang=en&theme=dark").text
    assert host.get("/?theme=blue").status_code == 422
    assert host.get("/static/page.css").status_code == 200


def test_pages_link_nothing_but_the_app_and_themselves(host):
    import re

    for path in ("/", "/iframe", "/component"):
        urls = re.findall(r'(?:src|href)="([^"]+)"', host.get(path).text)
        assert urls and all(u.startswith(("/", "http://127.0.0.1:7860/")) for u in urls), urls


@pytest.mark.parametrize("url", ["127.0.0.1:7860", "ftp://x", "http://x/?a=1", ""])
def test_bad_app_address_is_refused(url):
    with pytest.raises(ValueError, match="http://127.0.0.1:7860"):
        check_app_url(url)
