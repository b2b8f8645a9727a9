"""Slow clients against a real uvicorn server: trickled headers and bodies get 408 and a closed
connection, while a normal client is served meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import uvicorn

from tastemaker.api.app import build_app
from tastemaker.api.slow_clients import HeaderDeadlineProtocol
from tastemaker.config import Settings
from tastemaker.engine import Engine

from ..conftest import ADMIN_KEY

HANG_CAP_S = 60.0  # a socket timeout only against a hung test, never a waited-for time
AUTH = f"Authorization: Bearer {ADMIN_KEY}\r\n".encode()


class QuickHeaders(HeaderDeadlineProtocol):
    header_timeout_s = 1.0


@pytest.fixture
def server(data_dir: Path) -> Iterator[str]:
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False, rate_limits={},
                        body_grace_s=0.5, min_body_rate=1000.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(build_app(Engine(settings)), host="127.0.0.1", port=port, http=QuickHeaders,
                            loop="asyncio", log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:  # the server's own flag; the thread sets it once it listens
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(HANG_CAP_S)
    return sock


def _trickle(sock: socket.socket, data: bytes, every_s: float, stop: threading.Event) -> list[int]:
    """Send ``data`` 10 bytes at a time until it is sent, the server closes, or ``stop``; the
    returned list holds the bytes sent so far."""
    sent = [0]

    def run() -> None:
        for i in range(0, len(data), 10):
            if stop.wait(every_s):
                return
            try:
                sock.sendall(data[i:i + 10])
            except OSError:
                return  # the server closed the connection: what the test waits for
            sent[0] = i + 10
    threading.Thread(target=run, daemon=True).start()
    return sent


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _served_meanwhile(url: str, slow: socket.socket) -> int:
    """Normal requests served while ``slow`` has no answer yet; how many."""
    served = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        for k in range(5):
            assert client.get("/healthz").status_code == 200
            r = client.post("/v1/events", json={"id": f"ok-{k}", "type": "view", "user_id": "u", "item_id": "i"})
            assert r.status_code == 200, r.text
            served += 2
    slow.setblocking(False)
    try:
        assert slow.recv(1) == b"", "the slow client was answered before the normal ones"
    except BlockingIOError:
        pass  # nothing yet: the normal client was served while the slow one was still pending
    slow.setblocking(True)
    slow.settimeout(HANG_CAP_S)
    return served


def test_trickled_headers_are_cut_off_with_408(server: str):
    sock, stop = _connect(server), threading.Event()
    headers = b"POST /v1/events HTTP/1.1\r\nHost: t\r\n" + b"X-Padding: " + b"a" * 2000 + b"\r\n\r\n"
    sent = _trickle(sock, headers, 0.05, stop)  # 200 bytes/s: the headers would take 10 s
    assert _served_meanwhile(server, sock) == 10
    reply = _read_all(sock)  # returns when the server closes the connection
    at_close = sent[0]
    stop.set()
    assert reply.startswith(b"HTTP/1.1 408 ") and b'"status":408' in reply
    assert at_close < len(headers)  # cut off while the headers were still trickling in
    sock.close()


def test_a_connection_that_sends_nothing_is_closed(server: str):
    sock = _connect(server)
    assert _read_all(sock).startswith(b"HTTP/1.1 408 ")
    sock.close()


def test_trickled_body_is_cut_off_with_408_and_nothing_is_written(server: str):
    body = json.dumps([{"id": f"slow-{k}", "type": "view", "user_id": "slow", "item_id": "i"} for k in range(60)]).encode()
    sock, stop = _connect(server), threading.Event()
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\n" + AUTH + b"Content-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode())
    sent = _trickle(sock, body, 0.1, stop)  # 100 bytes/s, under the 1000 bytes/s floor
    assert _served_meanwhile(server, sock) == 10
    reply = _read_all(sock)
    at_close = sent[0]
    stop.set()
    assert at_close < len(body)
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert "too slowly" in json.loads(payload)["detail"]
    sock.close()
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        assert client.get("/v1/users/slow").status_code == 404  # none of its events was written
        assert client.get("/v1/users/u").json()["activity"]["event_count"] == 5


def test_a_body_above_the_floor_is_accepted_even_with_pauses(server: str):
    body = json.dumps([{"id": f"steady-{k}", "type": "view", "user_id": "steady", "item_id": "i"} for k in range(40)]).encode()
    sock = _connect(server)
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\n" + AUTH + b"Content-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    half = len(body) // 2
    time.sleep(0.3)  # a pause inside the grace period
    sock.sendall(body[:half])
    time.sleep(0.3)  # 1,000+ bytes in 0.6 s: above the floor
    sock.sendall(body[half:])
    reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:300]
    assert json.loads(reply.partition(b"\r\n\r\n")[2]) == {"accepted": 40, "duplicates": 0}
    sock.close()


def test_a_kept_alive_connection_gets_the_deadline_for_each_request(server: str):
    sock, stop = _connect(server), threading.Event()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    first = b""
    while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    headers = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * 2000 + b"\r\n\r\n"
    sent = _trickle(sock, headers, 0.05, stop)
    reply = _read_all(sock)
    at_close = sent[0]
    stop.set()
    assert reply.startswith(b"HTTP/1.1 408 ") and at_close < len(headers)
    sock.close()
