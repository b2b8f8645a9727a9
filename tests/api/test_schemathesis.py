"""Schemathesis over every operation of the real app: no 5xx, every response as documented.

A bounded, derandomized run (the same examples on every machine): each operation gets a
handful of generated requests, valid and invalid, sent in-process to the real ASGI app with
the admin key, and each answer is checked against /openapi.json: no server error, a status
code the document lists, a documented content type, and a body that validates against the
documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tastemaker.api.app import build_app
from tastemaker.api.openapi import build_openapi
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.models.families import FAMILIES
from tastemaker.training.job import DEFAULT_FAMILY

from .helpers import seed

ADMIN_KEY = "schemathesis-admin-key-0123456789"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded so the whole module runs in well under a minute on a loaded 2-core machine.
EXAMPLES_PER_OPERATION = 8


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """The real app over a fresh engine, seeded with a small catalogue and history.

    Schemathesis's in-process client starts the app's lifespan for each test and shuts it
    down after it, so the engine is closed here, once, rather than by the lifespan.
    """
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    engine = Engine(Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False))
    app = build_app(engine, close_engine=False)
    with asgi.get_client(app) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        seed(client)  # recommendations, similar items and profiles have data to answer with
    yield app
    asgi.shutdown_lifespans()
    engine.close()


def test_the_served_document_is_the_one_under_test(app: Starlette) -> None:
    with asgi.get_client(app) as client:
        assert client.get("/openapi.json").json() == build_openapi()


# From the document itself rather than a fixture: schemathesis's lazy fixture loader does not
# support this pytest; the test above checks the app serves this very document.
schema = schemathesis.openapi.from_dict(build_openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(app: Starlette, case: schemathesis.Case) -> None:
    if case.path == "/v1/models/train" and isinstance(case.body, dict) and str(case.body.get("family", DEFAULT_FAMILY)) in FAMILIES:
        # The HTTP contract is under test here, not the families (tests/models fits each): a
        # hybrid fit per generated request would take this module's whole minute.
        case.body["family"] = "popularity"
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS)
