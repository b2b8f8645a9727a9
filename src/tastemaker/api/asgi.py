"""ASGI entry point for servers (uvicorn workers import this): settings from the environment."""

from __future__ import annotations

import gc
import logging

from starlette.applications import Starlette

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.kernels import warm_up


def create_app() -> Starlette:
    """Open the engine for ``TASTEMAKER_DATA_DIR`` and build the app (a uvicorn factory)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(Engine(Settings()))
    warm_up()  # compile the read path's kernels (or load them from the disk cache) before the first request
    freeze_heap()
    return app


def freeze_heap() -> None:
    """Keep the garbage collector away from the restored state.

    Online state is millions of long-lived objects; every full collection would walk all
    of them (hundreds of ms, a latency spike). Freezing moves what exists now out of the
    collector's sight; objects created later are collected as usual.
    """
    gc.collect()
    gc.freeze()
