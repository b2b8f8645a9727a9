"""Slow-client protection: a request whose headers take too long, or whose body trickles in
below a floor rate, is answered ``408`` and its connection closed; nothing waits on the loop.

What uvicorn (0.55, httptools) gives already: ``timeout_keep_alive`` (5 s) closes a
connection idle *between* requests; ``h11_max_incomplete_event_size`` bounds the header bytes
of the h11 parser only. What it lacks, added here:

* **Headers**: no deadline at all. A fresh connection that sends nothing, or a request line
  and then a header byte every few seconds (slowloris), is held forever, and every such
  connection costs a file descriptor and a protocol object. :class:`HeaderDeadlineProtocol`
  (the ``http`` class ``tastemaker serve`` gives uvicorn) arms a timer when a connection opens
  and when a request's first byte arrives; unless the headers are complete within
  ``TASTEMAKER_HEADER_TIMEOUT_S`` (10 s) it writes a ``408`` and closes the connection.
* **Body**: once the headers are in, the app's ``receive()`` waits for body bytes with no limit.
  :class:`SlowBodyMiddleware` bounds every wait: the bytes received by time *t* since the
  headers must reach ``(t - grace) * floor`` (``TASTEMAKER_BODY_GRACE_S``, 10 s, and
  ``TASTEMAKER_MIN_BODY_RATE``, 1024 bytes/s), so a client may pause for the grace period
  but not trickle below the floor for long. A wait past that deadline answers ``408``
  (``Connection: close``) and nothing of the body is used.

Both are timers and awaited futures on the loop: a slow client costs the others nothing.
"""

from __future__ import annotations

import asyncio
import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tastemaker.api.responses import problem

HEADER_TIMEOUT_ENV = "TASTEMAKER_HEADER_TIMEOUT_S"
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s")
_HEADER_PROBLEM = (b'{"type":"about:blank","title":"Request Timeout","status":408,'
                   b'"detail":"the request headers did not arrive in time"}')


class SlowBody(Exception):
    """The body fell below the floor rate (raised by ``receive()``, answered by the middleware)."""

    def __init__(self, received: int, elapsed: float, floor: float):
        super().__init__(f"the request body arrived too slowly ({received} bytes in {elapsed:.1f} s; "
                         f"at least {floor:g} bytes/s after the first seconds); send it faster")


class SlowBodyMiddleware:
    """ASGI middleware bounding how long ``receive()`` may wait for body bytes (see the module doc).

    The endpoint's ``await receive()`` raises :class:`SlowBody` once the wait passes the
    deadline; it unwinds the endpoint (nothing of the body is used) and this middleware answers
    a ``408`` problem with ``Connection: close``. Requests that declare no body (no
    ``content-length`` above 0, no ``transfer-encoding``) pass untouched: the hot GET path
    pays one header scan.
    """

    def __init__(self, app: ASGIApp, grace_s: float, min_rate: float):
        self.app = app
        self.grace_s = grace_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.min_rate <= 0 or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        received = 0
        grace, floor = self.grace_s, self.min_rate

        async def bounded_receive() -> Message:
            nonlocal received
            wait = started + grace + received / floor - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.0))
            except asyncio.TimeoutError:
                raise SlowBody(received, time.monotonic() - started, floor) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        started_response = False

        async def tracked_send(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except SlowBody as exc:
            if started_response:
                raise  # too late for a 408: the server drops the connection
            response = problem(408, "Request Timeout", str(exc), headers={"Connection": "close"})
            await response(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers (see the module doc).

    One timer per connection, not per request (``call_later`` + ``cancel`` cost 3.8 us on
    uvloop): a request only notes when its headers began; the timer, when it fires, closes the
    connection if headers are overdue, sleeps again for the rest of a newer request's time, or
    lapses until the next request begins.
    """

    header_timeout_s = float(os.environ.get(HEADER_TIMEOUT_ENV, "10"))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_since: float | None = None
        self._awaiting_headers()  # a connection that never sends a byte is covered too (keep-alive is not armed yet)

    def _awaiting_headers(self) -> None:
        if self._headers_since is None:  # the first request keeps the connection's start
            self._headers_since = self.loop.time()
        if self._header_timer is None and self.header_timeout_s > 0:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._check_headers)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers()  # the next request on a kept-alive connection: its headers get the same time

    def on_headers_complete(self) -> None:
        self._headers_since = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _check_headers(self) -> None:
        self._header_timer = None
        since = self._headers_since
        if since is None or self.transport.is_closing():
            return  # no request waiting for its headers: the next one re-arms
        left = since + self.header_timeout_s - self.loop.time()
        if left > 0:
            self._header_timer = self.loop.call_later(left, self._check_headers)
            return
        if self.cycle is None or self.cycle.response_complete:  # not in the middle of a pipelined response
            self.transport.write(_408 % (len(_HEADER_PROBLEM), _HEADER_PROBLEM))
        self.transport.close()
