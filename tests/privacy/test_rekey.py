"""Pseudonym key rotation: ``tastemaker privacy rekey-pseudonyms`` rewrites every stored user id
under a new key; callers keep their raw ids and reach the same person, erasures stay final."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tastemaker import cli
from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.privacy.pseudonyms import KEY_FILE, Pseudonyms
from tastemaker.privacy.scan import scan
from tastemaker.storage.protocols import ImpressionRecord

from ..conftest import ADMIN_KEY

RAW, GONE = "ada.lovelace-93a1", "charles.babbage-6e02"
EMAIL = "ada@example.org"


def _client(data_dir: Path) -> TestClient:
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False, pseudonymize=True, pii_traits=("email",))
    return TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def _recs(client: TestClient, user: str) -> list[str]:
    r = client.get("/v1/recommendations", params={"user_id": user, "n": 5})
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_rekey_rewrites_every_stored_id_and_keeps_callers_and_erasures(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys):
    monkeypatch.setenv("TASTEMAKER_PSEUDONYMIZE", "1")
    monkeypatch.setenv("TASTEMAKER_PII_TRAITS", "email")
    with _client(data_dir) as client:
        engine = client.app.state.engine
        old = engine.pseudonyms(RAW)
        assert client.post("/v1/items", json=[{"id": f"i{k}", "categories": [f"c{k % 3}"]} for k in range(12)]).status_code == 200
        events = [{"id": f"e{j}-{k}", "type": "view", "user_id": u, "item_id": f"i{(k + j) % 12}"}
                  for j, u in enumerate([RAW, GONE, "x1", "x2"]) for k in range(4)]
        assert client.post("/v1/events", json=events).status_code == 200
        # a bulk import (a segment) under the same pseudonym, as `tastemaker import` writes it
        engine.stores.events.append_columns([{"id": ["seg-1", "seg-2"], "type": ["view", "view"],
                                              "user_id": [old, old], "item_id": ["i5", "i6"],
                                              "ts": [time.time(), time.time()]}])
        assert client.put(f"/v1/users/{RAW}", json={"id": RAW, "traits": {"email": EMAIL}}).status_code == 200
        key = client.post("/v1/keys", json={"name": "page", "scopes": ["browser"], "user_id": RAW}).json()
        # an impression (logged for placements with a learned ranker or in experiments)
        engine.stores.impressions.append([ImpressionRecord("r-1", "home", old, time.time(), ["i1", "i2"])])
        assert client.delete(f"/v1/users/{GONE}", params={"erase": "true"}).status_code == 202
    profile_before = None
    with _client(data_dir) as client:  # the erasure finished at shutdown
        profile_before = client.get(f"/v1/users/{RAW}").json()
        before = _recs(client, RAW)
    assert profile_before["activity"]["event_count"] == 6

    assert cli.main(["privacy", "rekey-pseudonyms", "--data-dir", str(data_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rotated"] and result["event_rows"] == 12 and result["segment_rows"] == 2
    assert result["profiles"] == 1 and result["keys"] == 1 and result["impressions"] == 1
    assert result["snapshot_dropped"] == 1
    assert len((data_dir / KEY_FILE).read_text().split()) == 2  # the old key stays: the chain needs it

    new = Pseudonyms.open(data_dir)(RAW)
    assert new != old and new.startswith(f"p1:{result['key']}:")
    with _client(data_dir) as client:
        profile = client.get(f"/v1/users/{RAW}").json()  # the raw id reaches the rewritten person
        assert profile["id"] == new and profile["traits"] == {"email": EMAIL}  # re-sealed under the new id
        for activity in (profile["activity"], profile_before["activity"]):
            activity["session"].pop("id")  # "<user id>@<start>": it names the new pseudonym
        assert profile["activity"] == profile_before["activity"]  # the replayed state holds the same history
        assert _recs(client, RAW) == before
        browser = TestClient(client.app, headers={"Authorization": f"Bearer {key['token']}"})
        assert browser.get("/v1/recommendations", params={"user_id": RAW}).status_code == 200
        late = client.post("/v1/events", json={"id": "late", "type": "view", "user_id": GONE, "item_id": "i1"})
        assert late.status_code == 409  # tombstoned before the rotation, still refused
        assert client.get(f"/v1/users/{RAW}/export").json()["counts"]["events"] == 6
    assert scan(data_dir, RAW) == {} and scan(data_dir, GONE) == {}
    assert scan(data_dir, old) == {}  # no audit record named them (no consent change, no export before)


def test_rekey_needs_pseudonymization_on(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TASTEMAKER_PSEUDONYMIZE", raising=False)
    assert cli.main(["privacy", "rekey-pseudonyms", "--data-dir", str(data_dir)]) == 2
    assert not (data_dir / KEY_FILE).exists()
