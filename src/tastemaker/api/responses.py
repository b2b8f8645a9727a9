"""JSON and RFC 9457 problem responses, encoded with msgspec (fast, no intermediate str)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from tastemaker.schema.errors import FieldError, ValidationFailed

encode_json = msgspec.json.Encoder().encode


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode_json(content)


def problem(status: int, title: str, detail: str | None = None, errors: list[FieldError] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """An ``application/problem+json`` response naming the offending field(s)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if errors:
        body["field"] = errors[0].field
        body["errors"] = [e.to_dict() for e in errors]
        body["detail"] = detail or "; ".join(f"{e.field or '/'}: {e.reason}" for e in errors[:5])
    elif detail:
        body["detail"] = detail
    return Response(encode_json(body), status_code=status, media_type="application/problem+json", headers=headers)


def from_validation(exc: ValidationFailed) -> Response:
    return problem(exc.status, exc.title, errors=exc.errors)
