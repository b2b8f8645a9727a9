"""/docs: an HTML page that renders /openapi.json, with no external assets."""

from __future__ import annotations

import re


def test_docs_page_references_openapi_json(anon):
    r = anon.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "fetch('/openapi.json')" in html or 'fetch("/openapi.json")' in html
    assert 'href="/openapi.json"' in html


def test_docs_page_loads_nothing_from_the_internet(anon):
    html = anon.get("/docs").text
    assert not re.search(r"""(src|href)=["']https?://""", html), "the docs must work offline"
