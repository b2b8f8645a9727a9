"""training.served_evaluation: the served figure ``tastemaker evaluate`` reports is the one an
external client measures over HTTP (post the training part, train through the API, ask)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.datasets.interactions import build_interactions
from tastemaker.datasets.snapshot import snapshot_events
from tastemaker.engine import Engine
from tastemaker.evaluation.splits import random_split
from tastemaker.holdout import ndcg
from tastemaker.training.served_evaluation import evaluate_served, format_served
from tastemaker.training.served_validation import held_out_items
from tests.api.helpers import train
from tests.conftest import ADMIN_KEY

SEED = 1


def deployment(data_dir: Path) -> TestClient:
    return TestClient(build_app(Engine(Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False))),
                      headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def post(client: TestClient, items: list[dict], events: list[dict]) -> None:
    assert client.post("/v1/items", json=items).status_code == 200
    for k in range(0, len(events), 2_000):
        r = client.post("/v1/events", json=events[k:k + 2_000])
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def shop() -> tuple[list[dict], list[dict]]:
    ds = generate(240, 150, 5_000, seed=7)
    events = [{k: v for k, v in e.items() if v is not None} for e in ds.events.to_pylist()]
    return ds.items, events


@pytest.fixture
def full(tmp_path: Path, shop) -> Iterator[TestClient]:
    with deployment(tmp_path / "full") as client:
        post(client, *shop)
        yield client


def test_evaluate_reports_what_a_client_measures_over_http(tmp_path, shop, full):
    stores = full.app.state.engine.stores
    report = evaluate_served(stores, seed=SEED)
    assert set(report["placements"]) == {"home", "product-page", "cart", "email"}
    home = report["placements"]["home"]
    assert 0.0 < home["served"] <= 1.0 and home["served"] >= home["unlearned"] - 0.05
    assert "home" in format_served([report], [SEED])

    # the client's side: the same split, the training part posted to a fresh deployment
    data = build_interactions(snapshot_events(stores.events).columns())
    held = held_out_items(data, random_split(data, 0.25, SEED)[1])
    items, events = shop
    kept = [e for e in events if e.get("item_id") not in held.get(e["user_id"], ())]
    with deployment(tmp_path / "client") as client:
        post(client, items, kept)
        job = train(client, {})
        assert job["status"] == "succeeded" and job["result"]["promoted"]
        users = sorted(held)
        hits = np.zeros((len(users), 10), bool)
        for row, user in enumerate(users):
            r = client.get("/v1/recommendations", params={"user_id": user, "n": 10})
            assert r.status_code == 200, r.text
            got = [entry["id"] for entry in r.json()["items"]]
            hits[row, :len(got)] = [i in held[user] for i in got]
    assert report["users"] == len(users)
    over_http = float(ndcg(hits, np.array([len(held[u]) for u in users])).mean())
    # the same events, the same train job, the same serving code: the same lists
    assert over_http == pytest.approx(home["served"], abs=1e-9)


def test_an_empty_log_is_a_clear_error(tmp_path):
    with deployment(tmp_path / "empty") as client:
        with pytest.raises(ValueError, match="no interactions"):
            evaluate_served(client.app.state.engine.stores)
