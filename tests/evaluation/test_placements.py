"""evaluation.placements: per-placement list metrics from the serving engine."""

from __future__ import annotations

from tastemaker.evaluation.placements import evaluate_placements, format_table

from ..api.helpers import seed


def test_diversity_and_fairness_show_in_the_metrics(client):
    seed(client)
    events = [{"id": f"u{u}-{k}", "type": "view", "user_id": f"u{u}", "item_id": f"i{(u * 7 + k) % 40:02d}"}
              for u in range(30) for k in range(3)]
    assert client.post("/v1/events", json=events).status_code == 200
    same = {"sources": {"popular": 1.0, "covisitation": 1.0}}
    client.put("/v1/placements/plain", json=same)
    client.put("/v1/placements/diverse", json={**same, "diversity": {"lambda": 0.9}})
    client.put("/v1/placements/logged", json={**same, "ranker": "ltr"})
    engine = client.app.state.engine
    metrics = evaluate_placements(engine, ["plain", "diverse", "logged", "product-page"], users=20, n=5)
    assert metrics["diverse"]["intra_list_diversity"] > metrics["plain"]["intra_list_diversity"]
    for m in metrics.values():
        assert 0 < m["coverage"] <= 1 and 0 <= m["exposure_gini"] <= 1 and m["users"] == 20
        assert {"provider_exposure_gini", "popularity_bias"} <= set(m)
    engine.recommender.impressions.flush()
    assert engine.stores.impressions.count() == 0  # evaluating is not traffic
    assert "diverse" in format_table(metrics)
