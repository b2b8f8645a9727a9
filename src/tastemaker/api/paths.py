"""Item and user ids in paths: any id that can be written can be read and deleted.

Ids are opaque strings (``team/alice``, ``50% off``, ``café``). A client sends them percent-
encoded (``/v1/users/team%2Falice``), but the ASGI server hands the router the *decoded*
path (``/v1/users/team/alice``), where the id's slash looks like a path separator and no
route matches. :class:`EncodedIdPaths` rebuilds the path of the id-carrying routes from the
raw bytes the client sent, keeping each segment percent-encoded; the routes' ``{id}``
parameter (see :func:`id_route`) decodes it again. ``/v1/items/{id}/similar`` still routes
by segment, so an item called ``x/similar`` is ``/v1/items/x%2Fsimilar`` and is never
mistaken for the similar-items request of ``x``.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote, unquote

from starlette.convertors import Convertor
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

#: Paths whose segment after the prefix is a user-chosen id.
ID_PREFIXES = ("/v1/items/", "/v1/users/")


class EncodedIdConvertor(Convertor[str]):
    """One path segment, still percent-encoded (see :class:`EncodedIdPaths`), decoded to the id."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


ENCODED_ID = EncodedIdConvertor()


def id_route(path: str, endpoint: Callable[..., Any], methods: list[str]) -> Route:
    """A route whose ``{id}`` is an encoded id; its template (metrics, docs) stays ``{id}``."""
    route = Route(path, endpoint, methods=methods)
    route.param_convertors["id"] = ENCODED_ID
    return route


def encoded_path(raw_path: bytes | None, path: str) -> str:
    """The path with every segment percent-encoded, taken from the raw bytes when there are some.

    >>> encoded_path(b"/v1/users/team%2Falice", "/v1/users/team/alice")
    '/v1/users/team%2Falice'
    >>> encoded_path(b"/v1/items/50%25%20off/similar", "/v1/items/50% off/similar")
    '/v1/items/50%25%20off/similar'
    >>> encoded_path(None, "/v1/users/caf\\u00e9")
    '/v1/users/caf%C3%A9'
    """
    if raw_path is None:
        segments = path.split("/")
    else:  # the bytes as sent: a raw (unencoded) UTF-8 byte stays the character it encodes
        segments = [unquote(part.decode("utf-8", "surrogateescape"), errors="surrogateescape")
                    for part in raw_path.split(b"/")]
    return "/".join(quote(segment, safe="", errors="surrogateescape") for segment in segments)


class EncodedIdPaths:
    """ASGI middleware: requests under :data:`ID_PREFIXES` are routed by their encoded path."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ID_PREFIXES):
            scope = {**scope, "path": encoded_path(scope.get("raw_path"), scope["path"])}
        await self.app(scope, receive, send)
