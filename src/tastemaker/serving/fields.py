"""Catalogue fields on recommended items (``fields=title,price,properties.image``).

A list of ids is not enough to render a page; with ``fields``, each recommended entry gains
an ``item`` object holding the requested catalogue fields of that item:

    {"id": "sku-1", "score": 0.93, "source": "covisitation",
     "item": {"title": "Trail shoe", "price": 89.0, "properties": {"image": "https://..."}}}

``id``, ``score`` and ``source`` stay as they are (and ``item`` is absent without
``fields``), so the response stays backwards compatible. Every requested field is present,
``null`` when the item has no value for it (an item only seen in events, without a
catalogue document, has ``null`` everywhere), so a front end can rely on the keys.
``properties`` returns the whole free-form map, ``properties.NAME`` one entry of it.

The fields are read from the item store only when asked, one lookup per served item: the
request without ``fields`` costs nothing more.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable

from tastemaker.schema.errors import FieldError
from tastemaker.schema.records import Item

PROPERTY_PREFIX = "properties."
# every catalogue field but ``id`` (each entry has it already), in the document's order
ITEM_FIELD_NAMES: tuple[str, ...] = tuple(f for f in Item.__struct_fields__ if f != "id")
MAX_FIELDS = 50  # bounds the per-item work a request can ask for


def known_fields_text() -> str:
    return ", ".join([*ITEM_FIELD_NAMES, f"{PROPERTY_PREFIX}NAME"])


def parse_fields(raw: str | None, errors: list[FieldError], name: str = "fields") -> tuple[str, ...]:
    """The field names of a ``fields`` parameter (comma-separated, duplicates dropped, order
    kept); unknown names are appended to ``errors`` (all of them, with the known ones).

    >>> parse_fields("title, price,properties.image,title", [])
    ('title', 'price', 'properties.image')
    """
    if raw is None:
        return ()
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        errors.append(FieldError(name, f"names no field; known: {known_fields_text()}"))
        return ()
    if len(names) > MAX_FIELDS:
        errors.append(FieldError(name, f"at most {MAX_FIELDS} fields"))
        return ()
    unknown = [f for f in names if f not in ITEM_FIELD_NAMES
               and not (f.startswith(PROPERTY_PREFIX) and len(f) > len(PROPERTY_PREFIX))]
    if unknown:
        hints = []
        for f in unknown:
            close = difflib.get_close_matches(f.lower(), ITEM_FIELD_NAMES, n=1)
            hints.append(f"'{f}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        errors.append(FieldError(name, f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                                       f"known: {known_fields_text()}"))
        return ()
    return tuple(names)


def item_fields(item: Item | None, fields: Iterable[str]) -> dict[str, Any]:
    """The requested ``fields`` of ``item`` as a JSON-ready dict (``None`` where unset)."""
    out: dict[str, Any] = {}
    properties = item.properties if item is not None else {}
    for name in fields:
        if name.startswith(PROPERTY_PREFIX):
            out.setdefault("properties", {})
            if isinstance(out["properties"], dict):
                out["properties"][name[len(PROPERTY_PREFIX):]] = properties.get(name[len(PROPERTY_PREFIX):])
        elif name == "properties":
            out["properties"] = dict(properties) if item is not None else None
        else:
            out[name] = getattr(item, name) if item is not None else None
    return out


def attach_fields(entries: list[dict[str, Any]], fields: tuple[str, ...],
                  get_item: Callable[[str], Item | None]) -> list[dict[str, Any]]:
    """Add ``"item": {fields}`` to each recommended entry, in place; returns ``entries``."""
    if fields:
        for entry in entries:
            entry["item"] = item_fields(get_item(entry["id"]), fields)
    return entries
