"""``GET /docs``: the API reference, rendered on the server from the OpenAPI document.

The page is the document served at ``/openapi.json``, made readable: operations grouped by
tag with their parameters, request and response examples (every status, errors included),
schemas as field tables that link to each other, and the event types this server knows
(built-in and registered). No script and no external asset: it works offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from tastemaker.api.docs_render import anchor, grouped_operations, operation, prose, schema_section
from tastemaker.schema.records import BUILTIN_EVENT_TYPES

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9}header a{color:#9cd0ff}
.wrap{display:grid;grid-template-columns:250px minmax(0,1fr);max-width:1280px;margin:0 auto}
nav{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;padding:14px 10px 40px 20px;font-size:13px}
nav h2{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#57606a;margin:14px 0 4px}
nav a{display:block;color:#1d232a;text-decoration:none;padding:1px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
nav a:hover{color:#0a58ca}nav .m{min-width:52px;font-size:11px}
main{padding:8px 28px 60px;min-width:0}
h2.tag{margin:28px 0 2px;font-size:20px}p.tagdesc{margin:0 0 8px;color:#57606a}
.card,.op,.schema{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:12px 0;padding:12px 18px}
.head{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.m{display:inline-block;min-width:58px;font-weight:700;font-size:13px}
.get{color:#0b7a3e}.post{color:#0a58ca}.put{color:#a05a00}.patch{color:#7b3fb5}.delete{color:#b42318}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f3;padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
.path{font-size:15px;font-weight:600;background:none;padding:0}
.scope{margin-left:auto;font-size:12px;background:#eef0f3;border-radius:10px;padding:1px 10px;color:#57606a}
p.sum{margin:6px 0;font-weight:500}
h4{margin:14px 0 4px;font-size:14px;color:#3b444e}
table.fields{border-collapse:collapse;width:100%;font-size:14px;table-layout:auto}
.fields th{text-align:left;font-weight:600;color:#57606a;border-bottom:2px solid #e5e8ec;padding:4px 10px 4px 0}
.fields td{border-bottom:1px solid #eef0f3;padding:5px 12px 5px 0;vertical-align:top}
.fields td:first-child{white-space:nowrap}.fields td:nth-child(2){min-width:90px}
.fields td:last-child{width:60%}
.req{display:inline-block;margin-left:6px;font-size:11px;color:#b42318}
.lim{color:#57606a;font-size:13px}
.st{display:inline-block;min-width:36px;font-weight:700;font-family:ui-monospace,monospace}.st.ok{color:#0b7a3e}.st.err{color:#b42318}
details.ex{margin:6px 0}details.ex summary{cursor:pointer;color:#3b444e;font-size:14px}
pre{background:#1d232a;color:#e6e6e6;padding:10px 12px;border-radius:6px;overflow:auto;font-size:12.5px;line-height:1.45;margin:6px 0;max-height:420px}
a{color:#0a58ca}
"""


MEANING = {
    "view": "The user looked at an item (its page, a preview)",
    "click": "The user clicked an item, e.g. in a recommended list",
    "add_to_cart": "The user put an item in the basket",
    "purchase": "The user bought the item(s); <code>value</code> may carry the amount",
    "search": "The user searched; <code>query</code> is the text",
    "rating": "The user rated an item; <code>value</code> is the rating",
    "like": "An explicit thumbs-up", "dislike": "An explicit thumbs-down: the item is not recommended again",
    "share": "The user shared an item", "impression": "An item was shown to the user (logged for training)",
    "feedback": "Other explicit feedback about an item",
}


def _event_types(request: Request) -> str:
    """The event types this server knows right now, with what each must carry."""
    event_schemas = request.app.state.engine.event_schemas
    rows = []
    for schema in event_schemas.all_latest():
        origin = "built-in" if schema.type in BUILTIN_EVENT_TYPES else f"custom, version {schema.version}"
        needs = ", ".join(f"<code>{r if r != 'item' else 'item_id or item_ids'}</code>" for r in schema.requires) or "—"
        if schema.value_min is not None or schema.value_max is not None:
            needs += f' <span class="lim">value {schema.value_min if schema.value_min is not None else "−∞"}'
            needs += f'–{schema.value_max if schema.value_max is not None else "∞"}</span>'
        rows.append(f"<tr><td><code>{escape(schema.type)}</code></td><td>{needs}</td>"
                    f"<td>{MEANING.get(schema.type) or prose(schema.description)} <span class='lim'>({origin})</span></td></tr>")
    return ('<section class="card" id="event-types"><h2>Event types</h2><p>The <code>type</code> of an event is one '
            'of these. A new type is registered with <a href="#op-post_event_schemas"><code>POST /v1/event-schemas</code></a> '
            "before use; every event also needs <code>id</code> and <code>user_id</code>.</p>"
            '<table class="fields"><thead><tr><th>type</th><th>must carry</th><th>description</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _intro(spec: dict[str, Any]) -> str:
    return ('<section class="card" id="start"><h2>Getting started</h2>'
            f"<p>{prose(spec['info'].get('description'))}</p><ul>"
            "<li>Every <code>/v1</code> call needs a key: <code>Authorization: Bearer tm_&lt;key id&gt;_&lt;secret&gt;</code>. "
            "A key has scopes: <code>read</code> (recommendations, lookups), <code>ingest</code> (events, items, users) "
            "and <code>admin</code> (everything, including keys, models and placements).</li>"
            "<li>Bodies are JSON. Errors are <code>application/problem+json</code> "
            f'(<a href="#{anchor("schema", "Problem")}">Problem</a>): <code>field</code> names the offending field '
            "as a JSON pointer into the body (<code>/3/value</code>) or a parameter name.</li>"
            "<li>Send events as they happen (<code>POST /v1/events</code>); ask for a list where it is shown "
            "(<code>GET /v1/recommendations?user_id=…&amp;placement=home</code>); send back the list's "
            "<code>recommendation_id</code> with the events it leads to.</li></ul></section>")


def _nav(spec: dict[str, Any], groups: list) -> str:
    parts = ['<nav><a href="#start">Getting started</a><a href="#event-types">Event types</a>']
    for tag, _, ops in groups:
        parts.append(f'<h2><a href="#{anchor("tag", tag)}">{escape(tag)}</a></h2>')
        for path, method, op in ops:
            parts.append(f'<a href="#{anchor("op", op["operationId"])}" title="{escape(op.get("summary", ""))}">'
                         f'<span class="m {method}">{method.upper()}</span>{escape(path)}</a>')
    parts.append('<h2><a href="#schemas">Schemas</a></h2>')
    parts += [f'<a href="#{anchor("schema", n)}">{escape(n)}</a>' for n in spec["components"]["schemas"]]
    return "".join(parts) + "</nav>"


def render(spec: dict[str, Any], event_types: str) -> str:
    groups = grouped_operations(spec)
    body = [_intro(spec), event_types]
    for tag, description, ops in groups:
        body.append(f'<h2 class="tag" id="{anchor("tag", tag)}">{escape(tag)}</h2><p class="tagdesc">{prose(description)}</p>')
        body += [operation(spec, path, method, op) for path, method, op in ops]
    body.append('<h2 class="tag" id="schemas">Schemas</h2><p class="tagdesc">Every request and response body, field by field.</p>')
    body += [schema_section(name, schema) for name, schema in spec["components"]["schemas"].items()]
    info = spec["info"]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(info['title'])} API {escape(info['version'])}</title>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head><body>'
            f"<header><h1>{escape(info['title'])} API <small>{escape(info['version'])}</small></h1>"
            '<p>OpenAPI 3.1 · machine-readable: <a href="/openapi.json">/openapi.json</a></p></header>'
            f'<div class="wrap">{_nav(spec, groups)}<main>{"".join(body)}</main></div></body></html>')


async def docs(request: Request) -> HTMLResponse:
    # the document the app serves at /openapi.json (built once, by build_app)
    return HTMLResponse(render(request.app.state.openapi, _event_types(request)))
