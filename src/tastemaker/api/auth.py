"""Bearer-token authentication and scope checks, as pure ASGI middleware (no per-request objects)."""

from __future__ import annotations

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


class AuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: KeyVerifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_scope(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                text = value.decode("latin-1")
                if text[:7].lower() == "bearer ":
                    token = text[7:].strip()
                break
        record = self.verifier.verify(token) if token else None
        if record is None:
            detail = "missing Authorization: Bearer <api key>" if token is None else "the API key is not valid"
            response = problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
        elif needed not in record.scopes and "admin" not in record.scopes:
            response = problem(403, "Forbidden", f"this key lacks the '{needed}' scope (it has: {', '.join(sorted(record.scopes))})")
        else:
            scope["tastemaker.key"] = record
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
