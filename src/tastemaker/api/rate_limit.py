"""Rate limits as pure ASGI middleware, ahead of everything else (the recommendations fast
path included): token buckets per API key and per client address (``Settings.rate_limits``).

- A request with a key this process has verified before (``KeyVerifier.seen``) and that is
  still valid is counted against that key, in the bucket of the scope the request needs
  (``read``, ``ingest``, ``admin``).
- Any other request to a protected path (no key, a wrong or revoked key, a key not seen yet) is
  counted against its client address (``unauthenticated``) *before* its key is hashed or
  looked up: once an address has spent its bucket, its wrong-key flood is answered 429 for
  the price of a dict lookup, while keys verified before keep working from that address.
- Public endpoints (health, metrics, docs) are counted per client address (``public``).

IPv6 clients are counted per /64 (one host usually holds a whole /64). A refusal is a 429
``application/problem+json`` naming the limit, with ``Retry-After`` and the IETF draft's
``RateLimit-Limit``/``-Remaining``/``-Reset`` headers. Counters (``storage.factory.open_rate_limiter``)
are per process in the embedded deployment (with N workers a client may get up to N times a
limit) and shared in Redis in the distributed one (never more than the limit).
"""

from __future__ import annotations

import ipaddress
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.auth import authorization_header, bearer_token, required_scope
from tastemaker.api.keys import KeyVerifier
from tastemaker.api.metrics import Metrics, route_template
from tastemaker.api.responses import encode_json
from tastemaker.config import RateLimit
from tastemaker.storage.protocols import RateLimiter


def client_address(scope: Scope) -> str:
    """The address a request is counted under: the peer's IP, an IPv6 one cut to its /64.

    >>> client_address({"client": ("2001:db8::1", 5)}), client_address({"client": ("10.0.0.7", 5)})
    ('2001:db8::/64', '10.0.0.7')
    """
    client = scope.get("client")
    host = client[0] if client else "unknown"
    if ":" in host:
        try:
            return f"{ipaddress.IPv6Network((host, 64), strict=False).network_address}/64"
        except ValueError:
            return host
    return host


def refusal(name: str, limit: RateLimit, who: str, wait: float) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and problem body of a 429."""
    seconds = max(1, math.ceil(wait))
    body = {"type": "about:blank", "title": "Too Many Requests", "status": 429, "limit": name,
            "detail": f"the '{name}' rate limit of {who} ({limit}) is spent; retry in {seconds} s"}
    encoded = encode_json(body)
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(encoded)).encode()),
               (b"retry-after", str(seconds).encode()), (b"ratelimit-limit", str(limit.burst).encode()),
               (b"ratelimit-remaining", b"0"), (b"ratelimit-reset", str(seconds).encode()),
               (b"ratelimit-policy", f"{limit.burst};w={max(1, round(limit.burst / limit.rate))}".encode())]
    return headers, encoded


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, limits: dict[str, RateLimit], verifier: KeyVerifier,
                 metrics: Metrics):
        self.app = app
        self.limiter = limiter
        self.verifier = verifier
        self.metrics = metrics
        self.limits = {name: limit for name, limit in limits.items() if limit.rate > 0}
        self.any_limit = bool(self.limits)
        # path -> route label of a refusal: a flood repeats a few paths, and matching the routes
        # costs ~15 us a time (bounded: cleared when full, as paths are the client's choice)
        self._routes: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.any_limit:
            await self.app(scope, receive, send)
            return
        needed = required_scope(scope["method"], scope["path"])
        record = None
        if needed is not None:
            token = bearer_token(authorization_header(scope))
            record = self.verifier.verify(token) if token and self.verifier.seen(token) else None
        name = needed if record is not None else ("public" if needed is None else "unauthenticated")
        limit = self.limits.get(name)  # type: ignore[arg-type]
        if limit is not None:
            key = record.key_id if record is not None else client_address(scope)
            wait = self.limiter.acquire(name, key, limit.rate, limit.burst)  # type: ignore[arg-type]
            if wait > 0.0:
                await self._refuse(scope, send, name, limit, f"key {key}" if record is not None else f"address {key}", wait)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, name: str, limit: RateLimit, who: str, wait: float) -> None:
        start = time.perf_counter()
        headers, body = refusal(name, limit, who, wait)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        route = self._routes.get(scope["path"])
        if route is None:
            if len(self._routes) >= 1024:
                self._routes.clear()
            route = self._routes[scope["path"]] = route_template(scope, 429)
        self.metrics.observe(scope["method"], route, 429, time.perf_counter() - start)
