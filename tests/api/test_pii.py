"""PII traits over HTTP: clients write and read plaintext, the data dir holds ciphertext only."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.privacy.scan import count_in_file

from ..conftest import ADMIN_KEY

EMAIL = "katherine.johnson-0b9e@example.org"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False, pii_traits=("email", "name"))
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        yield c


def test_profiles_round_trip_and_no_file_holds_the_email(client: TestClient, data_dir: Path):
    doc = {"id": "u1", "traits": {"email": EMAIL, "name": "K. Johnson", "tier": "gold"}, "consent": {"analytics": True}}
    assert client.put("/v1/users/u1", json=doc).status_code < 300
    assert client.patch("/v1/users/u1", json={"traits": {"tier": "platinum"}}).status_code < 300
    got = client.get("/v1/users/u1").json()
    assert got["traits"]["email"] == EMAIL and got["traits"]["tier"] == "platinum"
    export = client.get("/v1/users/u1/export")
    assert export.status_code == 200 and EMAIL in export.text
    client.app.state.engine.stores.reclaim()
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert sum(count_in_file(p, [EMAIL.encode(), b"K. Johnson"]) for p in files) == 0
    assert sum(count_in_file(p, [b"platinum"]) for p in files) > 0
