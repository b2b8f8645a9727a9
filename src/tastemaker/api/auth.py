"""Bearer-token authentication and scope checks, as pure ASGI middleware (no per-request objects)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.keys import KeyVerifier, has_scope
from tastemaker.api.responses import problem

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for public endpoints.

    >>> required_scope("POST", "/v1/events"), required_scope("GET", "/v1/recommendations")
    ('ingest', 'read')
    >>> required_scope("POST", "/v1/keys"), required_scope("GET", "/healthz")
    ('admin', None)
    >>> required_scope("GET", "/v1/users/u1/export"), required_scope("GET", "/v1/users/u1")
    ('admin', 'read')
    """
    if path in PUBLIC_PATHS or not path.startswith("/v1/"):
        return None
    resource = path[4:].split("/", 1)[0]
    if resource in ("keys", "audit", "privacy"):
        return "admin"
    if resource == "users" and path.endswith("/export") and path.count("/") == 4:
        return "admin"  # a person's whole record (an id's own '/' arrives encoded: api.paths)
    if resource in ("event-schemas", "models", "placements"):
        return "read" if method in ("GET", "HEAD") else "admin"
    if method in ("GET", "HEAD"):
        return "read"
    return "ingest"


def authorization_header(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def bearer_token(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (None when absent or another scheme)."""
    return header[7:].strip() if header is not None and header[:7].lower() == "bearer " else None


def _unauthorized_detail(header: str | None, token: str | None) -> str:
    """Why a request is not authenticated, in words that say how to fix it.

    >>> _unauthorized_detail(None, None)
    'missing Authorization header: send Authorization: Bearer <api key>'
    >>> _unauthorized_detail("tm_abc123", None)
    "the Authorization header was sent but must be 'Bearer <api key>' (it has no 'Bearer ' prefix)"
    >>> _unauthorized_detail("Basic dXNlcg==", None)
    "the Authorization header was sent but must be 'Bearer <api key>' (it uses the 'Basic' scheme)"
    """
    if header is None:
        return "missing Authorization header: send Authorization: Bearer <api key>"
    if token is None:
        scheme, _, rest = header.strip().partition(" ")
        # Never echo the value: it may well be the key itself.
        how = f"it uses the '{scheme}' scheme" if rest and scheme.isalpha() and len(scheme) <= 16 else "it has no 'Bearer ' prefix"
        if not header.strip() or header.strip().lower() == "bearer":
            how = "it holds no key"
        return f"the Authorization header was sent but must be 'Bearer <api key>' ({how})"
    return "the API key is not valid (unknown or revoked)"


def authorize(verifier: KeyVerifier, scope: Scope, needed: str) -> Response | None:
    """None when the request's key has ``needed`` (the key is put in the scope), else a 401/403."""
    header = authorization_header(scope)
    token = bearer_token(header)
    record = verifier.verify(token) if token else None
    if record is None:
        detail = _unauthorized_detail(header, token or None)
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    if not has_scope(record, needed):
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
