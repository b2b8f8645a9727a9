"""Bearer-token authentication and scope checks, as pure ASGI middleware (no per-request objects)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.keys import KeyVerifier
from tastemaker.api.responses import problem

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for public endpoints.

    >>> required_scope("POST", "/v1/events"), required_scope("GET", "/v1/recommendations")
    ('ingest', 'read')
    >>> required_scope("POST", "/v1/keys"), required_scope("GET", "/healthz")
    ('admin', None)
    """
    if path in PUBLIC_PATHS or not path.startswith("/v1/"):
        return None
    resource = path[4:].split("/", 1)[0]
    if resource in ("keys",):
        return "admin"
    if resource in ("event-schemas", "models", "placements"):
        return "read" if method in ("GET", "HEAD") else "admin"
    if method in ("GET", "HEAD"):
        return "read"
    return "ingest"


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text[:7].lower() == "bearer " else None
    return None


def authorize(verifier: KeyVerifier, scope: Scope, needed: str) -> Response | None:
    """None when the request's key has ``needed`` (the key is put in the scope), else a 401/403."""
    token = bearer_token(scope)
    record = verifier.verify(token) if token else None
    if record is None:
        detail = "missing Authorization: Bearer <api key>" if token is None else "the API key is not valid"
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    if needed not in record.scopes and "admin" not in record.scopes:
        return problem(403, "Forbidden", f"this key lacks the '{needed}' scope (it has: {', '.join(sorted(record.scopes))})")
    scope["tastemaker.key"] = record
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: KeyVerifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_scope(scope["method"], scope["path"])
        denied = authorize(self.verifier, scope, needed) if needed is not None else None
        if denied is None:
            await self.app(scope, receive, send)
        else:
            await denied(scope, receive, send)
