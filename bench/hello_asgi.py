"""The RPS ceiling: a raw ASGI hello-world on exactly tastemaker's server stack.

No framework, no middleware, no routing: whatever this serves per second is the most any
ASGI app can serve on this machine with ``uvicorn`` + ``uvloop`` + ``httptools``, one
process, access log off (the settings of ``tastemaker serve``, see ``cli.py``).

Run:  .venv/bin/python bench/hello_asgi.py --port 18000
Then: wrk -t1 -c32 -d10s http://127.0.0.1:18000/
"""

from __future__ import annotations

import argparse

BODY = b'{"status":"ok"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict, receive, send) -> None:
    """Answer every HTTP request with a small JSON body; handle lifespan so uvicorn is quiet."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    # Like a real handler we do not read the body of a GET; uvicorn drains it for keep-alive.
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18000)
    args = parser.parse_args(argv)
    import uvicorn

    # Same knobs as tastemaker.cli.cmd_serve: the only difference must be the app.
    uvicorn.run(app, host=args.host, port=args.port, workers=1, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", backlog=4096)


if __name__ == "__main__":
    main()
