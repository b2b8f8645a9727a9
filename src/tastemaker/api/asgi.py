"""ASGI entry point for servers (uvicorn workers import this): settings from the environment."""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.heap import freeze_heap, tune_collector
from tastemaker.kernels import warm_up


def create_app() -> Starlette:
    """Open the engine for ``TASTEMAKER_DATA_DIR`` and build the app (a uvicorn factory)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tune_collector()  # before the state is restored: replay allocates millions of long-lived objects
    app = build_app(Engine(Settings()))
    warm_up()  # compile the read path's kernels (or load them from the disk cache) before the first request
    freeze_heap()  # the restored state: out of the collector's sight (see tastemaker.heap)
    return app
