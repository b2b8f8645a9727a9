"""/docs: the OpenAPI document as a readable page, rendered on the server, with no external assets."""

from __future__ import annotations

import re
from html import unescape

from tastemaker.api.docs_render import constraints, prose, type_html
from tastemaker.schema.records import BUILTIN_EVENT_TYPES


def _text_outside_examples(html: str) -> str:
    return re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)


def test_docs_page_is_html_linking_the_document(anon):
    r = anon.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.lstrip().lower().startswith("<!doctype html>")
    assert 'href="/openapi.json"' in r.text


def test_docs_page_loads_nothing_from_the_internet(anon):
    html = anon.get("/docs").text
    assert not re.search(r"""(src|href)=["']https?://""", html), "the docs must work offline"
    assert "<script" not in html  # rendered on the server: readable without JavaScript


def test_every_operation_and_schema_has_a_section_and_every_link_resolves(anon):
    spec = anon.get("/openapi.json").json()
    html = anon.get("/docs").text
    ids = set(re.findall(r'id="([^"]+)"', html))
    for item in spec["paths"].values():
        for method, op in item.items():
            if method != "parameters":
                assert f"op-{op['operationId']}" in ids, op["operationId"]
    assert {f"schema-{name}" for name in spec["components"]["schemas"]} <= ids
    assert set(re.findall(r'href="#([^"]+)"', html)) <= ids, "a link points nowhere"


def test_schemas_are_field_tables_not_raw_json_schema(anon):
    html = anon.get("/docs").text
    assert '"oneOf"' not in html and '{"$ref"' not in html and "&quot;$ref&quot;" not in html
    event = html[html.index('id="schema-Event"'):html.index('id="schema-Item"')]
    for field in ("id", "type", "user_id", "item_id", "value", "timestamp"):
        assert f"<code>{field}</code>" in event
    # Links between schemas: a request body names its schema, and the schema links to the nested one.
    ops = html[html.index('id="op-post_events"'):]
    assert 'JSON: <a href="#schema-Event">Event</a> or array of <a href="#schema-Event">Event</a>' in ops
    recommended = html[html.index('id="schema-RecommendedItem"'):]
    assert '<a href="#schema-Explanation">Explanation</a>' in recommended[:3000]


def test_every_operation_shows_its_examples(anon):
    spec = anon.get("/openapi.json").json()
    html = unescape(anon.get("/docs").text)
    assert '"id": "evt-7f3a9c"' in html  # the request example of POST /v1/events
    assert '"accepted": 5' in html  # its 200 response
    assert '"title": "Malformed JSON"' in html  # a problem example
    request_examples = sum(len(media.get("examples", {})) for item in spec["paths"].values() for m, op in item.items()
                           if m != "parameters" for media in op.get("requestBody", {}).get("content", {}).values())
    assert html.count("Example: ") == request_examples


def test_the_event_types_are_listed_with_what_they_need(client):
    html = client.get("/docs").text
    table = html[html.index('id="event-types"'):]
    table = table[:table.index("</section>")]
    for event_type in BUILTIN_EVENT_TYPES:
        assert f"<td><code>{event_type}</code></td>" in table
    assert "<code>query</code>" in table  # what a search needs
    r = client.post("/v1/event-schemas", json={"type": "wishlist", "requires": ["item"], "description": "added to a wish list"})
    assert r.status_code == 201, r.text
    html = client.get("/docs").text
    assert "<td><code>wishlist</code></td>" in html and "custom, version 1" in html


def test_no_literal_backticks_outside_examples(anon):
    html = _text_outside_examples(anon.get("/docs").text)
    assert "`" not in html
    assert "<code>id</code> is the idempotency key" in html  # from ``id`` in the Event docstring


def test_prose_type_and_constraints_helpers():
    assert prose("``id`` and `type` <b>") == "<code>id</code> and <code>type</code> &lt;b&gt;"
    assert type_html({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "string or null"
    assert type_html({"type": "array", "items": {"$ref": "#/components/schemas/Event"}}) == \
        'array of <a href="#schema-Event">Event</a>'
    assert type_html({"type": "object", "additionalProperties": {"type": "integer"}}) == "map of string → integer"
    assert constraints({"type": "string", "minLength": 1, "maxLength": 256}) == ["1–256 characters"]
    assert constraints({"type": "integer", "minimum": 1, "maximum": 500, "default": 10}) == ["1–500", "default <code>10</code>"]
