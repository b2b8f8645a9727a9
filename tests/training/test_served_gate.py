"""The train job learns placement blends on served lists, ships them with the version, and
promotes on the served figure: a candidate that serves worse is registered, never promoted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.engine import Engine
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.models import families as model_families
from tastemaker.models.family import ModelFamily
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import Placement, SourceSpec
from tastemaker.serving.request import parse_request
from tastemaker.storage.factory import open_stores
from tastemaker.training import job as job_module
from tests.training.test_lifecycle import CoOccurrence


class LeastPopular(ModelFamily):
    """A deliberately bad family: the least interacted-with items first, for everyone."""

    name = "least_popular"

    def fit(self, interactions: sp.csr_matrix, items=None) -> "LeastPopular":
        self.counts = np.asarray((interactions > 0).sum(axis=0), np.float32).ravel()
        self.n_items = interactions.shape[1]
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(-self.counts, (rows.shape[0], 1))


@pytest.fixture
def families():
    for family in (CoOccurrence, LeastPopular):
        model_families.register(family)
    yield
    for family in (CoOccurrence, LeastPopular):
        model_families.unregister(family.name)


@pytest.fixture
def stores(tmp_path: Path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    load_dataset(stores, generate(300, 200, 6_000, seed=4))
    yield stores
    stores.close()


def model_only() -> PlacementRegistry:
    """A home placement whose weights are all written: nothing to learn, the list is the model's."""
    sources = {"user_model": SourceSpec(1.0, 100, explicit=True), "trending": SourceSpec(0.01, 100, explicit=True)}
    return PlacementRegistry(placements={"home": Placement("home", sources)})


def test_promotion_refuses_a_candidate_whose_served_list_is_worse(stores, families):
    first = job_module.train(stores, "cooccurrence", placements=model_only())
    assert first.promoted
    worse = job_module.train(stores, "least_popular", placements=model_only())
    metrics = worse.version.metrics
    assert not worse.promoted and worse.compared_with == first.version.version
    assert worse.version.status == "candidate"
    assert metrics["served_ndcg@10"] < metrics["serving_served_ndcg@10"]
    # the serving version's served figure is recomputed on the same split: it is the first's own
    assert metrics["serving_served_ndcg@10"] == pytest.approx(first.version.metrics["served_ndcg@10"], rel=1e-9)
    again = job_module.train(stores, "cooccurrence", placements=model_only())
    assert again.promoted  # as good as the serving version: promoted


def test_learned_blends_ship_with_the_version_and_serve_with_explain(tmp_path, stores, families):
    result = job_module.train(stores, "cooccurrence")
    blends = result.version.metrics["blends"]
    assert {"home", "product-page", "cart", "email"} <= set(blends)
    home = blends["home"]
    assert home["ndcg"] >= home["start_ndcg"]  # the search starts from the placement's own weights
    assert home["ndcg"] == pytest.approx(result.version.metrics["served_ndcg@10"])
    engine = Engine(Settings(data_dir=tmp_path, durable=False), toplist_ttl=0)
    try:
        engine.refresh_model(force=True)
        assert engine.serving_version == result.version.version
        body = engine.recommender.recommend(parse_request({"user_id": "u1", "n": "5", "explain": "true"}))
        shown = body["blend"]
        learned = {s: w for s, w in home["weights"].items() if w > 0}
        assert {s: v["weight"] for s, v in shown.items()} == pytest.approx(learned)
        assert {v["set_by"] for v in shown.values()} == {f"model-{result.version.version}"}
    finally:
        engine.close(snapshot=False)


def test_a_placement_documents_weights_win_over_the_learned_ones(tmp_path, stores, families):
    engine = Engine(Settings(data_dir=tmp_path, durable=False), toplist_ttl=0)
    try:
        engine.recommender.placements.put("home", {"sources": {"covisitation": {"weight": 0.7, "n": 50},
                                                               "user_model": {"n": 100},
                                                               "trending": {"n": 100}}})
        result = job_module.train(stores, "cooccurrence")
        assert "covisitation" not in result.version.metrics["blends"]["home"]["weights"]
        assert engine.refresh_model(force=True)
        body = engine.recommender.recommend(parse_request({"user_id": "u1", "n": "5", "explain": "true"}))
        assert body["blend"]["covisitation"] == {"weight": 0.7, "n": 50, "set_by": "placement"}
        assert {body["blend"][s]["set_by"] for s in body["blend"] if s != "covisitation"} <= {
            f"model-{result.version.version}"}
    finally:
        engine.close(snapshot=False)
