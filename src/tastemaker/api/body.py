"""Reading request bodies with a size cap, checked before a byte is decoded.

Each endpoint passes its own cap: ``POST /v1/events`` takes at most 10,000 events, which
are 2-5 MB of ordinary events, so its cap (``Settings.max_events_body_bytes``, 16 MiB) is
far below the catalogue's (``Settings.max_body_bytes``, 64 MiB: 10,000 items with long
descriptions); single documents and admin bodies are capped lower still. A body over its
cap is refused by its ``Content-Length`` before it is read, or, when it is streamed
without one, as soon as the bytes read pass the cap: never after decoding.
"""

from __future__ import annotations

from starlette.requests import Request

from tastemaker.schema.errors import FieldError, ValidationFailed


def too_large(limit: int, what: str = "request body") -> ValidationFailed:
    mib = f" ({limit / 2**20:g} MiB)" if limit >= 2**20 else ""
    return ValidationFailed([FieldError("", f"{what} exceeds {limit} bytes{mib}; send smaller batches")],
                            status=413, title="Body too large")


def body_limit(request: Request, kind: str = "batch") -> int:
    """The cap for this endpoint's body: ``events``, ``batch`` (items, users), ``document`` (one record), ``small``."""
    settings = request.app.state.engine.settings
    if kind == "events":
        return settings.max_events_body_bytes
    if kind == "document":  # one record: its free-form fields plus typed fields (a 64 KiB description)
        return settings.max_document_bytes * 2
    if kind == "small":  # schemas, training requests
        return settings.max_document_bytes
    return settings.max_body_bytes


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The whole body; :class:`ValidationFailed` (413) as soon as it is known to exceed ``limit``."""
    limit = body_limit(request) if limit is None else limit
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
