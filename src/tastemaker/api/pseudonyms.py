"""The API's edge of pseudonymization (privacy.pseudonyms): where a caller's user id becomes
the stored id, before any handler, store or log sees it.

* ``/v1/users/{id}`` and everything under it (profile reads and writes, consent, export,
  erase): :class:`PseudonymousUserPaths` rewrites the path's id segment;
* ``GET /v1/recommendations?user_id=``: :func:`map_user_param` (the fast path and the route);
* bodies: events (``ingest.service``), user documents (``api.documents``), browser-key
  bindings (``api.keys_api``) call :func:`stored_user_id`.

With pseudonymization off (``engine.pseudonyms is None``) each of these is one ``None`` check.
"""

from __future__ import annotations

from typing import Any, MutableMapping
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.privacy.pseudonyms import Pseudonyms

USERS_PREFIX = "/v1/users/"
MAX_USER_ID = 256  # longer ids are refused by validation, not hashed into acceptance


def stored_user_id(request: Request, user_id: Any) -> Any:
    """``user_id`` as stored: its pseudonym when pseudonymization is on (non-strings pass, for validation to refuse)."""
    pseudonyms = request.app.state.engine.pseudonyms
    if pseudonyms is None or not isinstance(user_id, str) or not user_id:
        return user_id
    return pseudonyms(user_id)


def map_user_param(pseudonyms: Pseudonyms | None, params: MutableMapping[str, str]) -> None:
    """Replace a valid ``user_id`` query parameter by its pseudonym, in place."""
    if pseudonyms is not None:
        user_id = params.get("user_id")
        if user_id and len(user_id) <= MAX_USER_ID:
            params["user_id"] = pseudonyms(user_id)


class PseudonymousUserPaths:
    """ASGI middleware: ``/v1/users/<id>[/...]`` reaches the router as ``/v1/users/<pseudonym>[/...]``.

    Runs after :class:`~tastemaker.api.paths.EncodedIdPaths`, so the segment is still
    percent-encoded (an id may hold '/'); ``raw_path`` is dropped so nothing below reads the
    caller's id back from it.
    """

    def __init__(self, app: ASGIApp, pseudonyms: Pseudonyms):
        self.app = app
        self.pseudonyms = pseudonyms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(USERS_PREFIX) and len(path) > len(USERS_PREFIX):
            segment, sep, rest = path[len(USERS_PREFIX):].partition("/")
            user_id = unquote(segment)
            if len(user_id) <= MAX_USER_ID:
                path = f"{USERS_PREFIX}{quote(self.pseudonyms(user_id), safe='')}{sep}{rest}"
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)
