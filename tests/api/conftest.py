from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tastemaker.config import Settings

from .helpers import seed


@pytest.fixture
def no_rate_limits(settings: Settings) -> None:
    """Rate limits off, for tests that flood on purpose to check something else: request it
    before ``client`` (fixtures are set up in argument order)."""
    settings.rate_limits = {}


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    """``client`` with the catalog and base events of :mod:`tests.api.helpers` loaded."""
    seed(client)
    return client
