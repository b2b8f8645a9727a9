"""training.ranker_job: a learned ranker from logged impressions, end to end through the app.

A synthetic shop whose right answer is known: 30 items, 6 of brand Acme (priced 95, the
others 20..80), less popular than half the others, so the blend shows Acme low in the list.
Every user clicks the Acme items it was shown, and only those. Impressions are logged by
the serving engine (placement ``shop`` has ``ranker: ltr``), clicks carry the
``recommendation_id``; the trained ranker must beat the blend on the later impressions and,
once installed, put Acme first for a new user.
"""

from __future__ import annotations

import random
import time

import pytest
from starlette.testclient import TestClient

from tastemaker import cli
from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.training.ranker_job import load_impressions, load_outcomes, train_rankers

from ..conftest import ADMIN_KEY

N_ITEMS = 30
ACME = {f"p{k:02d}" for k in range(0, N_ITEMS, 5)}
PLACEMENT = {"sources": {"popular": 1.0, "covisitation": 0.5}, "ranker": "ltr", "n": 20}


def catalog() -> list[dict]:
    rng = random.Random(0)
    return [{"id": f"p{k:02d}", "brand": "Acme" if f"p{k:02d}" in ACME else f"brand{k % 7}", "categories": [f"c{k % 3}"],
             "price": 95.0 if f"p{k:02d}" in ACME else float(rng.randint(20, 80)), "stock": 5} for k in range(N_ITEMS)]


def serve_and_click(client: TestClient, users: int, prefix: str) -> int:
    """Each user views one item, gets a list, clicks the Acme items in it; returns clicks."""
    rng = random.Random(hash(prefix) & 0xFFFF)
    views = [{"id": f"{prefix}-v{u}", "type": "view", "user_id": f"{prefix}{u}", "item_id": f"p{rng.randrange(N_ITEMS):02d}"}
             for u in range(users)]
    assert client.post("/v1/events", json=views).status_code == 200
    clicks = []
    for u in range(users):
        body = client.get("/v1/recommendations", params={"user_id": f"{prefix}{u}", "placement": "shop"}).json()
        for entry in body["items"]:
            if entry["id"] in ACME:
                clicks.append({"id": f"{prefix}-c{u}-{entry['id']}", "type": "click", "user_id": f"{prefix}{u}",
                               "item_id": entry["id"], "recommendation_id": body["recommendation_id"]})
    assert client.post("/v1/events", json=clicks).status_code == 200
    return len(clicks)


@pytest.fixture
def shop(settings: Settings):
    app = build_app(Engine(settings))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        assert client.post("/v1/items", json=catalog()).status_code == 200
        # popularity: Acme 3 views, the others 1..8: the blend shows Acme around positions 16-24
        crowd = [{"id": f"crowd-{k}-{j}", "type": "view", "user_id": f"crowd-{k}-{j}", "item_id": f"p{k:02d}"}
                 for k in range(N_ITEMS) for j in range(3 if f"p{k:02d}" in ACME else 1 + k % 8)]
        assert client.post("/v1/events", json=crowd).status_code == 200
        assert client.put("/v1/placements/shop", json=PLACEMENT).status_code == 201
        yield client


def acme_share(client: TestClient, user: str, k: int = 5) -> float:
    items = client.get("/v1/recommendations", params={"user_id": user, "placement": "shop"}).json()["items"]
    return sum(e["id"] in ACME for e in items[:k]) / k


def test_a_ranker_trained_on_logged_impressions_serves(shop, settings: Settings):
    engine = shop.app.state.engine
    assert acme_share(shop, "before") < 0.5  # the blend does not know what users click
    assert serve_and_click(shop, 300, "u") > 300
    engine.recommender.impressions.flush()
    impressions, first_seq = load_impressions(engine.stores, "shop")
    assert len(impressions) == 301 and first_seq > 0
    assert all(len(i.items) == 20 and i.features.shape == (20, len(i.feature_names)) for i in impressions)
    outcomes = load_outcomes(engine.stores, after_seq=first_seq)
    assert outcomes and all(o.type == "click" and o.recommendation_id for o in outcomes)

    too_early = train_rankers(engine.stores, "shop", window_s=3600, min_lists=100)
    assert too_early["shop"]["lists"] == 0  # attribution windows still open: nothing to learn from yet
    reports = train_rankers(engine.stores, window_s=3600, now=time.time() + 3601, min_lists=100)
    report = reports["shop"]
    assert report["winner"] == "ltr" and report["ndcg@10_ltr"] > report["ndcg@10_blend"], report
    assert engine.stores.artifacts.get(report["artifact"]) is not None
    assert engine.stores.artifacts.get("models/rankers/shop.report.json") is not None

    engine.recommender.rankers.check_every_s = 0.0
    assert acme_share(shop, "after") == 1.0  # Acme first now
    home = {"user_id": "after", "placement": "home"}
    with_ranker = [e["id"] for e in shop.get("/v1/recommendations", params=home).json()["items"]]
    rankers, engine.recommender.rankers = engine.recommender.rankers, None
    without = [e["id"] for e in shop.get("/v1/recommendations", params=home).json()["items"]]
    engine.recommender.rankers = rankers
    assert with_ranker == without  # other placements keep their own pipeline


def test_train_ranker_command(shop, settings: Settings, capsys):
    engine = shop.app.state.engine
    serve_and_click(shop, 250, "w")
    engine.recommender.impressions.flush()
    time.sleep(1.1)  # the attribution window of --window 1 closes
    assert cli.main(["train-ranker", "--data-dir", str(settings.data_dir), "--window", "1", "--min-lists", "100"]) == 0
    out = capsys.readouterr().out
    assert "shop: " in out and "serving models/rankers/shop.json" in out
    assert engine.stores.artifacts.get("models/rankers/shop.json") is not None
    (record,) = [r for r in engine.stores.audit.read(descending=False) if r.action == "rankers.train"]
    assert (record.actor.split(":")[0], record.target, record.summary["artifact"]) == ("cli", "shop", "models/rankers/shop.json")
    assert record.summary["lists"] >= 100 and record.address.startswith("cli@")
    assert cli.main(["train-ranker", "--data-dir", str(settings.data_dir), "--placement", "nothing-here"]) == 0
    assert "no impressions logged" in capsys.readouterr().out


def test_nothing_logged_yet(tmp_path, capsys):
    assert cli.main(["train-ranker", "--data-dir", str(tmp_path)]) == 1
    assert "no impressions logged yet" in capsys.readouterr().out
