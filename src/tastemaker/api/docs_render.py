"""Render the OpenAPI document as readable HTML: operations, field tables, examples.

Server-side, in plain Python: the page needs no JavaScript and no CDN (a self-hosted engine
must document itself on a machine without internet access), and tests can read it.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any, Iterable

METHODS = ("get", "post", "put", "patch", "delete")
_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
_MAX_EXAMPLE_CHARS = 1600


def prose(text: str | None) -> str:
    """Escaped text with ``literal`` and `literal` (reStructuredText, Markdown) as <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1) or m.group(2)}</code>", escape(text or ""))


def anchor(kind: str, name: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def type_html(schema: dict[str, Any]) -> str:
    """A short, linked description of a schema's type: "array of <Event>", "string or null"."""
    name = _ref_name(schema)
    if name:
        return f'<a href="#{anchor("schema", name)}">{escape(name)}</a>'
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [type_html(s) for s in schema[key] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[key])
            return " or ".join(dict.fromkeys(parts)) + (" or null" if nullable else "")
    if "allOf" in schema:
        return " and ".join(type_html(s) for s in schema["allOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(json.dumps(v))}</code>" for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_html({**schema, "type": k}) for k in kind)
    if kind == "array":
        return "array of " + type_html(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map of string → " + type_html(schema["additionalProperties"])
    return escape(kind or "any")


def constraints(schema: dict[str, Any]) -> list[str]:
    """Limits a value must respect, in words."""
    out = []
    for inner in schema.get("anyOf", []) + schema.get("oneOf", []):
        if inner.get("type") != "null" and "$ref" not in inner:
            out += constraints(inner)
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None or hi is not None:
        if hi is None:
            out.append("non-empty" if lo == 1 else f"at least {lo} characters")
        else:
            out.append(f"{lo}–{hi} characters" if lo else f"at most {hi} characters")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        out.append(f"{lo}–{hi}")
    elif lo is not None:
        out.append(f"≥ {lo}")
    elif hi is not None:
        out.append(f"≤ {hi}")
    if schema.get("minItems") or schema.get("maxItems"):
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        out.append(f"{lo}–{hi} items" if lo and hi else f"at most {hi} items" if hi else f"at least {lo} items")
    if "pattern" in schema and "examples" not in schema:
        out.append(f"pattern <code>{escape(schema['pattern'])}</code>")
    if "default" in schema and schema["default"] not in (None, [], {}):
        out.append(f"default <code>{escape(json.dumps(schema['default']))}</code>")
    return list(dict.fromkeys(out))


def _rows(schema: dict[str, Any], prefix: str = "", depth: int = 0) -> Iterable[str]:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        notes = prose(prop.get("description"))
        limits = constraints(prop)
        if limits:
            notes += (" " if notes else "") + f'<span class="lim">{"; ".join(limits)}</span>'
        req = '<span class="req">required</span>' if name in required else ""
        yield (f"<tr><td><code>{escape(prefix + name)}</code>{req}</td><td>{type_html(prop)}</td>"
               f"<td>{notes}</td></tr>")
        if depth < 2 and prop.get("type") == "object" and prop.get("properties"):
            yield from _rows(prop, f"{prefix}{name}.", depth + 1)
        items = prop.get("items", {})
        if depth < 2 and prop.get("type") == "array" and items.get("properties"):
            yield from _rows(items, f"{prefix}{name}[].", depth + 1)


def field_table(schema: dict[str, Any]) -> str:
    rows = list(_rows(schema))
    if not rows:
        return ""
    return ('<table class="fields"><thead><tr><th>field</th><th>type</th><th>description</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def example_block(title: str, value: Any, open_: bool = False) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > _MAX_EXAMPLE_CHARS:  # keep the page scannable; the whole example is in /openapi.json
        text = text[:_MAX_EXAMPLE_CHARS].rsplit("\n", 1)[0] + "\n  …"
    return (f'<details class="ex"{" open" if open_ else ""}><summary>{title}</summary>'
            f"<pre>{escape(text)}</pre></details>")


def _parameters(params: list[dict[str, Any]]) -> str:
    if not params:
        return ""
    rows = []
    for p in params:
        schema = p.get("schema", {})
        notes = prose(p.get("description"))
        limits = constraints(schema)
        if limits:
            notes += f' <span class="lim">{"; ".join(limits)}</span>'
        req = '<span class="req">required</span>' if p.get("required") else ""
        rows.append(f"<tr><td><code>{escape(p['name'])}</code>{req}</td><td>{escape(p['in'])}</td>"
                    f"<td>{type_html(schema)}</td><td>{notes}</td></tr>")
    return ('<h4>Parameters</h4><table class="fields"><thead><tr><th>name</th><th>in</th><th>type</th>'
            f"<th>description</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _responses(spec: dict[str, Any], responses: dict[str, Any]) -> str:
    rows, examples = [], []
    for status, response in responses.items():
        name = _ref_name(response)
        if name:
            response = spec["components"]["responses"][name]
        media_type, media = next(iter(response.get("content", {}).items()), (None, {}))
        body = type_html(media["schema"]) if media.get("schema") else "—"
        if media_type and "json" not in media_type:
            body = escape(media_type.split(";")[0])
        kind = "ok" if status.startswith("2") else "err"
        rows.append(f'<tr><td><span class="st {kind}">{escape(status)}</span></td><td>{prose(response.get("description"))}</td>'
                    f"<td>{body}</td></tr>")
        if "example" in media:
            examples.append(example_block(f'<span class="st {kind}">{escape(status)}</span> {prose(response.get("description"))}',
                                          media["example"], open_=kind == "ok" and not examples))
    return ('<h4>Responses</h4><table class="fields"><thead><tr><th>status</th><th>meaning</th><th>body</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>" + "".join(examples))


def operation(spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
    permission = op.get("x-required-permission")
    badge = f"{permission}: {', '.join(op.get('x-roles', []))}" if permission else "public"
    description = op.get("description", "")
    parts = [f'<section class="op" id="{anchor("op", op.get("operationId", method + path))}">',
             f'<div class="head"><span class="m {method}">{method.upper()}</span><code class="path">{escape(path)}</code>'
             f'<span class="scope">{badge}</span></div><p class="sum">{prose(op.get("summary"))}</p>']
    if description:
        parts.append(f"<p>{prose(description)}</p>")
    parts.append(_parameters(spec["paths"][path].get("parameters", []) + op.get("parameters", [])))
    body = op.get("requestBody")
    if body:
        kind, media = next(iter(body["content"].items()))  # JSON, or the OAuth token endpoint's form
        optional = "" if body.get("required", True) else " (optional)"
        label = "JSON" if kind == "application/json" else f"<code>{escape(kind)}</code>"
        parts.append(f"<h4>Request body{optional}</h4><p>{label}: {type_html(media['schema'])}</p>")
        if media["schema"].get("description"):
            parts.append(f"<p>{prose(media['schema']['description'])}</p>")
        for i, (name, ex) in enumerate(media.get("examples", {}).items()):
            parts.append(example_block(f"Example: {prose(ex.get('summary', name))}", ex["value"], open_=i == 0))
    parts.append(_responses(spec, op["responses"]))
    parts.append("</section>")
    return "".join(parts)


def schema_section(name: str, schema: dict[str, Any]) -> str:
    parts = [f'<section class="schema" id="{anchor("schema", name)}"><h3>{escape(name)}</h3>']
    if schema.get("description"):
        parts.append(f"<p>{prose(schema['description'])}</p>")
    for part in schema.get("allOf", []):
        if _ref_name(part):
            parts.append(f"<p>Every field of {type_html(part)}, and:</p>")
        else:
            parts.append(field_table(part))
    table = field_table(schema)
    parts.append(table or ("" if "allOf" in schema else f"<p>{type_html(schema)}</p>"))
    if schema.get("additionalProperties") is False:
        parts.append('<p class="lim">No other fields are accepted.</p>')
    parts.append("</section>")
    return "".join(parts)


def grouped_operations(spec: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, str, dict[str, Any]]]]]:
    """(tag, description, [(path, method, op)]) in the document's tag order."""
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {t["name"]: [] for t in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                groups.setdefault((item[method].get("tags") or ["Other"])[0], []).append((path, method, item[method]))
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return [(tag, descriptions.get(tag, ""), ops) for tag, ops in groups.items() if ops]
