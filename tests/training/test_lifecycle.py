"""Registry, train job and the serving adapter, end to end on a small synthetic log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.engine import Engine
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.models import families as model_families
from tastemaker.models.artifact import ModelArtifact
from tastemaker.models.family import ModelFamily
from tastemaker.serving.request import parse_request
from tastemaker.storage.factory import open_stores
from tastemaker.training import job as job_module
from tastemaker.training.model_registry import ModelRegistry


class CoOccurrence(ModelFamily):
    """A real (if simple) family: item-item co-occurrence, score = row @ C."""

    name = "cooccurrence"

    def fit(self, interactions: sp.csr_matrix, items=None) -> "CoOccurrence":
        binary = (interactions > 0).astype(np.float32)
        self.c = (binary.T @ binary).tocsr()
        self.c.setdiag(0)
        self.n_items = interactions.shape[1]
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray((rows @ self.c).todense(), dtype=np.float32)


@pytest.fixture
def families():
    """CoOccurrence registered as a family for the test's duration (the registry's seam)."""
    model_families.register(CoOccurrence)
    yield model_families.FAMILIES
    model_families.unregister(CoOccurrence.name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = Settings(data_dir=tmp_path, durable=False)
    stores = open_stores(settings)
    load_dataset(stores, generate(300, 200, 6_000, seed=4))
    stores.close()
    return tmp_path


def test_train_registers_evaluates_and_promotes_the_first_version(data_dir, families):
    settings = Settings(data_dir=data_dir, durable=False)
    stores = open_stores(settings)
    result = job_module.train(stores, "cooccurrence")
    assert result.promoted and result.compared_with is None
    v = result.version
    assert v.status == "serving" and v.n_events > 0 and v.data_to_seq == stores.events.last_seq()
    assert 0.0 < v.metrics["ndcg@10"] <= 1.0
    assert stores.artifacts.get(f"models/{v.artifact}") is not None
    # a second run is compared with the serving one, on the same split
    second = job_module.train(stores, "cooccurrence")
    assert second.compared_with == v.version
    assert second.version.metrics["serving_ndcg@10"] == pytest.approx(v.metrics["ndcg@10"], rel=1e-6)
    stores.close()


def test_promote_and_rollback_flip_the_serving_version(data_dir, families):
    settings = Settings(data_dir=data_dir, durable=False)
    stores = open_stores(settings)
    registry = ModelRegistry(stores.models, stores.artifacts)
    first = job_module.train(stores, "cooccurrence", promote="always").version
    second = job_module.train(stores, "cooccurrence", promote="always").version
    assert registry.serving().version == second.version
    assert registry.rollback().version == first.version
    assert [v.status for v in registry.list()] == ["serving", "retired"]
    assert registry.promote(second.version).status == "serving"
    with pytest.raises(KeyError):
        registry.promote(99)
    stores.close()


def test_engine_serves_the_promoted_model_with_fold_in_and_swaps_without_restart(data_dir, families):
    engine = Engine(Settings(data_dir=data_dir, durable=False), toplist_ttl=0)
    assert engine.recommender.model.name == "popularity"
    stores = open_stores(Settings(data_dir=data_dir, durable=False))
    version = job_module.train(stores, "cooccurrence").version.version
    stores.close()
    assert engine.refresh_model(force=True)
    assert (engine.recommender.model.name, engine.recommender.model.version) == ("cooccurrence", str(version))
    body = engine.recommender.recommend(parse_request({"user_id": "brand-new", "n": "5"}))
    assert body["model_version"] == f"cooccurrence-{version}"
    # fold-in: a brand-new user's single view moves the learned model's candidates at once
    item = engine.state.index.ids[int(np.argmax(engine.state.popularity_scores()))]
    event = {"id": "fold-1", "type": "view", "user_id": "brand-new", "item_id": item}
    asyncio.run(engine.ingest.ingest(msgspec.json.encode([event])))
    user = engine.state.users["brand-new"]
    positions, scores = engine.recommender.model.candidates(engine.state, user, 20)
    assert len(positions) > 0 and np.all(np.diff(scores) <= 0)
    assert engine.state.index.get(item) not in set(positions.tolist())  # own items are not proposed
    engine.close()


def test_registry_artifact_round_trip(tmp_path, families):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    registry = ModelRegistry(stores.models, stores.artifacts)
    model = CoOccurrence().fit(sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32)))
    record = registry.register(ModelArtifact(model, ["a", "b", "c"], "cooccurrence", {}), data_from_seq=1,
                               data_to_seq=2, n_events=4, metrics={"ndcg@10": 0.5})
    loaded = registry.load(record.version)
    row = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))
    assert loaded.item_ids == ["a", "b", "c"]
    assert np.array_equal(loaded.model.score(row), model.score(row))
    stores.close()


def test_a_new_version_serves_only_once_warm_and_the_old_one_serves_meanwhile(data_dir, families, monkeypatch):
    import threading

    from tastemaker.serving import learned

    engine = Engine(Settings(data_dir=data_dir, durable=False), toplist_ttl=0)
    stores = open_stores(Settings(data_dir=data_dir, durable=False))
    first = job_module.train(stores, "cooccurrence").version.version
    assert engine.refresh_model(force=True) and engine.serving_version == first
    release = threading.Event()
    real_warm = learned.LearnedModel.warm

    def slow_warm(self, state, should_stop=lambda: False, limit=learned.CACHE_USERS):
        release.wait(30)
        return real_warm(self, state, should_stop, limit)

    monkeypatch.setattr(learned.LearnedModel, "warm", slow_warm)
    second = job_module.train(stores, "cooccurrence", promote="always").version.version
    stores.close()
    assert not engine.refresh_model()  # preparing in the background
    body = engine.recommender.recommend(parse_request({"user_id": "u1", "n": "5"}))
    assert body["model_version"] == f"cooccurrence-{first}" and engine.serving_version == first
    release.set()
    engine._preparing[1].result(timeout=30)
    assert engine.refresh_model()  # ready now: swapped on the next check
    assert engine.serving_version == second
    user = engine.state.users["u1"]
    cached = engine.recommender.model._cache.get(id(user))
    assert cached is not None and cached[1] == user.event_count  # warmed before serving
    engine.close()
