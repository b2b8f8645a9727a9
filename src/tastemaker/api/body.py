"""Reading request bodies with a size cap (a 10,000-event batch is a few MB)."""

from __future__ import annotations

from starlette.requests import Request

from tastemaker.schema.errors import FieldError, ValidationFailed

MAX_BODY_BYTES = 64 * 1024 * 1024


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise ValidationFailed([FieldError("", f"request body exceeds {MAX_BODY_BYTES} bytes")], status=413, title="Body too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValidationFailed([FieldError("", f"request body exceeds {MAX_BODY_BYTES} bytes")], status=413, title="Body too large")
        chunks.append(chunk)
    return b"".join(chunks)
