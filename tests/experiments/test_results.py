"""experiments.results: the results document from SQLite stores (observed figures per variant,
the analysis' verdict, the HTML report), and a clear answer when there is nothing to analyse."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.config import Settings
from tastemaker.experiments.results import experiment_results, html_report, load_experiment
from tastemaker.experiments.spec import experiment_from_json
from tastemaker.schema.records import Event, Item
from tastemaker.storage.factory import open_stores
from tastemaker.storage.protocols import ImpressionRecord

START = 10_000.0
CTR = {"control": 0.2, "treatment": 0.5}


@pytest.fixture
def stores(tmp_path):
    s = open_stores(Settings(data_dir=tmp_path, durable=False))
    yield s
    s.close()


def define(stores, experiment_id="exp"):
    doc = experiment_from_json({"id": experiment_id, "placements": ["home"], "status": "running", "start": START,
                                "variants": [{"name": "control", "share": 0.5}, {"name": "treatment", "share": 0.5}],
                                "guardrails": [{"metric": "revenue", "threshold": 0.5}]}).to_json()
    stores.experiments.create(experiment_id, doc)
    return load_experiment(stores, experiment_id)


def serve(stores, users=400, lists=4, seed=0):
    """Users alternate variants; each list is clicked (first item, linked) with its variant's CTR."""
    rng = np.random.default_rng(seed)
    stores.items.upsert([Item(id=f"i{k}", price=2.0, categories=[f"c{k % 3}"]) for k in range(30)])
    imps, events, clicked = [], [], {v: 0 for v in CTR}
    for u in range(users):
        variant = "control" if u % 2 == 0 else "treatment"
        for j in range(lists):
            rid, ts = f"r{u}-{j}", START + u + j * 1000.0
            items = [f"i{(u + j + k) % 30}" for k in range(5)]
            imps.append(ImpressionRecord(rid, "home", f"u{u}", ts, items,
                                         experiments=[{"id": "exp", "variant": variant, "propensity": 0.5}]))
            if rng.random() < CTR[variant]:
                clicked[variant] += 1
                events.append(Event(id=f"c{u}-{j}", type="click", user_id=f"u{u}", item_id=items[0], timestamp=ts + 5,
                                    recommendation_id=rid, session_id=f"s{u}"))
    stores.impressions.append(imps)
    stores.events.append(events)
    return clicked, users // 2 * lists


def test_figures_verdict_and_report(stores):
    experiment = define(stores)
    clicked, lists = serve(stores)
    doc = experiment_results(stores, experiment, now=START + 10_000)
    assert doc["users"] == 400 and doc["start"] == START and doc["end"] == START + 10_000
    for variant in CTR:
        figures = doc["metrics"][variant]
        assert figures["users"] == 200 and figures["lists"] == lists
        assert figures["ctr"] == pytest.approx(clicked[variant] / lists, rel=1e-12)
        assert figures["coverage"] == 1.0  # 30 items, all shown
    assert doc["verdict"] == "ship" and doc["winner"] == "treatment"
    assert doc["analysis"]["primary"] == "ctr" and doc["analysis"]["srm"]["flagged"] is False
    guard = doc["analysis"]["variants"][0]["guardrails"][0]
    assert guard["metric"] == "revenue"  # nobody bought: no relative interval, inconclusive
    html = html_report(doc, experiment)
    assert html.startswith("<!DOCTYPE html>") and "treatment" in html and "data:image/png;base64," in html


def test_an_experiment_without_users_decides_nothing_and_says_why(stores):
    experiment = define(stores, "empty")
    doc = experiment_results(stores, experiment, now=START + 10)
    assert doc["users"] == 0 and doc["verdict"] == "no_difference_yet" and doc["winner"] is None
    assert "at least 2 users per arm" in doc["analysis"]["reason"]
    assert doc["metrics"]["control"] == {"users": 0, "lists": 0, "ctr": None, "clicks_per_list": None,
                                         "add_to_cart_rate": None, "conversion": None, "revenue_per_user": None,
                                         "items_per_session": None}
    assert "no difference yet" in html_report(doc, experiment)


def test_unknown_experiment(stores):
    with pytest.raises(LookupError, match="no experiment 'nope'"):
        load_experiment(stores, "nope")


def test_results_break_down_by_device_from_the_request_context(stores):
    experiment = define(stores)
    serve(stores)
    stores.events.append([Event(id=f"v{u}", type="view", user_id=f"u{u}", item_id="i1", timestamp=START + u + 1,
                                session_id=f"s{u}", context={"device": "mobile" if u < 200 else "desktop"})
                          for u in range(400)])
    doc = experiment_results(stores, experiment, now=START + 10_000)
    rows = doc["analysis"]["segments"]["device"]
    assert sorted((r["segment"], r["n_control"], r["n_treatment"]) for r in rows) == [
        ("desktop", 100, 100), ("mobile", 100, 100)]
    assert all(r["effect"] is not None for r in rows)
