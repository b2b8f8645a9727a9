from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from .helpers import seed


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    """``client`` with the catalog and base events of :mod:`tests.api.helpers` loaded."""
    seed(client)
    return client
