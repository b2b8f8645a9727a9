"""ASGI entry point for servers (uvicorn workers import this): settings from the environment."""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine


def create_app() -> Starlette:
    """Open the engine for ``TASTEMAKER_DATA_DIR`` and build the app (a uvicorn factory)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return build_app(Engine(Settings()))
