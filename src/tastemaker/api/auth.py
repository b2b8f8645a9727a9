"""Authorization: permissions per route, roles as sets of permissions (one table), and the
bearer-token check as pure ASGI middleware (no per-request objects).

A bearer token is an API key (``tm_<id>_<secret>``) or an OAuth access token (a JWT from
``POST /oauth/token``); :class:`tastemaker.api.keys.KeyVerifier` turns either into an
:class:`ApiKeyRecord` whose ``scopes`` are role names. Two bindings narrow a record further:
``placements`` (recommendations for other placements: 403) and ``user_id`` (a browser key:
only that user's events and recommendations; checked by :func:`recommendation_refusal` and
:func:`event_refusal`, on the fast path too).
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.responses import problem
from tastemaker.storage.protocols import ApiKeyRecord

DEFAULT_PLACEMENT = "home"  # serving.request.DEFAULT_PLACEMENT: what a request without ``placement`` asks for

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
                          "/oauth/token", "/.well-known/jwks.json"})

# What a request may do. Every protected route needs exactly one permission (required_permission).
PERMISSIONS = {
    "recommendations.read": "GET /v1/recommendations and /v1/items/{id}/similar",
    "data.read": "GET items, users, event schemas, models, placements, train jobs, experiments",
    "events.write": "POST /v1/events",
    "catalog.write": "write or delete items and users (profiles)",
    "config.write": "register event schemas, configure placements, train, promote, roll back models, run experiments, "
                    "define segments",
    "keys.read": "list API keys and OAuth clients (never a secret)",
    "keys.manage": "create and revoke API keys and OAuth clients, rotate the token signing key",
    "privacy.manage": "export a person's data, erase a person (DELETE /v1/users/{id}?erase=true), /v1/privacy/*",
    "audit.read": "GET /v1/audit",
    "experiments.analyze": "GET /v1/experiments/{id}/results (the analysis and its HTML report)",
    "quarantine.manage": "list quarantined events and users, release or confirm them (/v1/quarantine*)",
}
# The one table of roles: a key or an OAuth client carries role names (its ``scopes``) and may
# do what the union of their permissions allows. ``read``, ``ingest`` and ``admin`` are the
# three original scopes, unchanged in what they allow.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "read": frozenset({"recommendations.read", "data.read"}),
    "ingest": frozenset({"events.write", "catalog.write"}),
    "analyst": frozenset({"recommendations.read", "data.read", "keys.read", "audit.read", "experiments.analyze"}),
    "tracker": frozenset({"events.write"}),
    "privacy_officer": frozenset({"data.read", "privacy.manage", "audit.read"}),
    # only on a key bound to one user (keys.create_key): that user's events and recommendations
    "browser": frozenset({"events.write", "recommendations.read"}),
}
# The rate-limit bucket (Settings.rate_limits) of each permission.
BUCKET = {"recommendations.read": "read", "data.read": "read", "events.write": "ingest", "catalog.write": "ingest"}


def permissions_of(roles: frozenset[str]) -> frozenset[str]:
    """The union of the roles' permissions (unknown role names grant nothing)."""
    if len(roles) == 1:
        return ROLES.get(next(iter(roles)), frozenset())
    return frozenset().union(*(ROLES.get(r, frozenset()) for r in roles))


def roles_with(permission: str) -> list[str]:
    """The roles that grant ``permission``, sorted.

    >>> roles_with("audit.read")
    ['admin', 'analyst', 'privacy_officer']
    """
    return sorted(r for r, perms in ROLES.items() if permission in perms)


def _erase_requested(query: bytes) -> bool:
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"erase" and value.lower() in (b"true", b"1"):
            return True
    return False


def required_permission(method: str, path: str, query: bytes = b"") -> str | None:
    """The permission a request needs, or None for public endpoints (also applied to the
    OpenAPI path templates, which is how every operation documents it).

    >>> required_permission("POST", "/v1/events"), required_permission("GET", "/v1/recommendations")
    ('events.write', 'recommendations.read')
    >>> required_permission("DELETE", "/v1/users/u1"), required_permission("DELETE", "/v1/users/u1", b"erase=true")
    ('catalog.write', 'privacy.manage')
    >>> required_permission("GET", "/v1/users/u1/export"), required_permission("GET", "/healthz")
    ('privacy.manage', None)
    """
    if path in PUBLIC_PATHS or not path.startswith("/v1/"):
        return None
    resource = path[4:].split("/", 1)[0]
    read = method in ("GET", "HEAD")
    if resource in ("keys", "oauth"):
        return "keys.read" if read else "keys.manage"
    if resource == "audit":
        return "audit.read"
    if resource == "quarantine":
        return "quarantine.manage"
    if resource == "privacy" or (resource == "users" and path.endswith("/export") and path.count("/") == 4):
        return "privacy.manage"  # a person's whole record (an id's own '/' arrives encoded: api.paths)
    if resource == "experiments" and read and path.endswith("/results") and path.count("/") == 4:
        return "experiments.analyze"  # reads the logs and runs the statistics: admin and analyst only
    if resource in ("event-schemas", "models", "placements", "experiments", "segments", "features"):
        return "data.read" if read else "config.write"
    if resource == "recommendations" or (resource == "items" and path.endswith("/similar") and path.count("/") == 4):
        return "recommendations.read"
    if read:
        return "data.read"
    if resource == "events":
        return "events.write"
    if resource == "users" and method == "DELETE" and _erase_requested(query):
        return "privacy.manage"
    return "catalog.write"


def required_scope(method: str, path: str) -> str | None:
    """The rate-limit bucket of a request (``read``, ``ingest``, ``admin``), None when public.

    >>> required_scope("POST", "/v1/events"), required_scope("GET", "/v1/recommendations")
    ('ingest', 'read')
    >>> required_scope("POST", "/v1/keys"), required_scope("GET", "/healthz")
    ('admin', None)
    """
    permission = required_permission(method, path)
    return None if permission is None else BUCKET.get(permission, "admin")


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


class Verifier(Protocol):
    def verify(self, token: str) -> ApiKeyRecord | None: ...

    def reason(self, token: str) -> str: ...


def has_permission(record: ApiKeyRecord, permission: str) -> bool:
    return permission in permissions_of(record.scopes)


def _who(record: ApiKeyRecord) -> str:
    return f"OAuth client '{record.key_id}'" if record.kind == "client" else f"key '{record.key_id}'"


def authorize(verifier: Verifier, scope: Scope, needed: str) -> Response | None:
    """None when the request's key or token grants ``needed`` (its record is put in the
    scope), else a 401 (no valid credential) or 403 (valid, not allowed), naming why."""
    header = authorization_header(scope)
    token = bearer_token(header)
    record = verifier.verify(token) if token else None
    if record is None:
        detail = verifier.reason(token) if token else _unauthorized_detail(header, None)
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    if not has_permission(record, needed):
        roles = ", ".join(sorted(record.scopes)) or "none"
        return problem(403, "Forbidden", f"this {_who(record)} lacks the '{needed}' permission (its roles: {roles}; "
                                         f"roles that grant it: {', '.join(roles_with(needed))})")
    scope["tastemaker.key"] = record
    return None


def recommendation_refusal(record: ApiKeyRecord | None, params: Any) -> Response | None:
    """A 403 when ``record`` is bound to a user or to placements that this recommendation
    request (its query ``params``) is not for; None otherwise (and for unbound keys at once)."""
    if record is None or (record.user_id is None and record.placements is None):
        return None
    if record.user_id is not None and params.get("user_id") != record.user_id:
        return problem(403, "Forbidden", f"this browser key is bound to one user and may only ask recommendations "
                                         f"for that user (user_id={record.user_id!r})")
    placement = params.get("placement") or DEFAULT_PLACEMENT
    if record.placements is not None and placement not in record.placements:
        allowed = ", ".join(sorted(record.placements)) or "none"
        return problem(403, "Forbidden", f"this {_who(record)} may not ask for placement {placement[:64]!r} "
                                         f"(its placements: {allowed})")
    return None


def event_refusal(record: ApiKeyRecord | None, user_ids: Iterable[Any]) -> Response | None:
    """A 403 when a browser key sends an event of another user (``user_ids`` in batch order)."""
    if record is None or record.user_id is None:
        return None
    for i, user_id in enumerate(user_ids):
        if user_id != record.user_id:
            return problem(403, "Forbidden", f"this browser key may only send events of the user it is bound to "
                                             f"({record.user_id!r}); event {i} is for another user; nothing was written")
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: Verifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_permission(scope["method"], scope["path"], scope["query_string"])
        denied = authorize(self.verifier, scope, needed) if needed is not None else None
        if denied is None:
            await self.app(scope, receive, send)
        else:
            await denied(scope, receive, send)
