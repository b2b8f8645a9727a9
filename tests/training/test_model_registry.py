"""training.model_registry: artifacts are content-addressed and versions are numbered atomically,
so trainers that overlap (CLI, API, periodic retrain) never take the same version."""

from __future__ import annotations

import dataclasses
import multiprocessing
import pickle
import sys
import traceback
import types
from pathlib import Path

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.models.artifact import ModelArtifact
from tastemaker.storage.factory import open_stores
from tastemaker.training.job import run_train_job
from tastemaker.training.model_registry import ModelRegistry, loads


def _register_many(data_dir: str, worker: int, count: int, start, out) -> None:
    try:
        settings = Settings(data_dir=Path(data_dir), durable=False)
        with open_stores(settings) as stores:
            registry = ModelRegistry(stores.models, stores.artifacts)
            start.wait(timeout=300)  # both processes register at once (a broken peer fails this one, never hangs it)
            out.put((worker, [registry.register(ModelArtifact({"worker": worker, "n": j}, ["a"], "fake",
                                                              {"worker": worker}),
                                                data_from_seq=1, data_to_seq=1, n_events=1, metrics={}).version
                              for j in range(count)]))
    except BaseException:  # the parent shows why, instead of a peer's broken barrier
        start.abort()
        out.put((worker, traceback.format_exc()))


def test_two_processes_registering_at_once_get_distinct_loadable_versions(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_register_many, args=(str(tmp_path), w, 15, start, out)) for w in range(2)]
    for p in workers:
        p.start()
    results = dict(out.get(timeout=600) for _ in workers)
    assert all(isinstance(v, list) for v in results.values()), results
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(results[0] + results[1]) == list(range(1, 31))
    with open_stores(Settings(data_dir=tmp_path, durable=False)) as stores:
        registry = ModelRegistry(stores.models, stores.artifacts)
        for worker, versions in results.items():
            loaded = [registry.load(v).model for v in versions]
            assert loaded == [{"worker": worker, "n": j} for j in range(15)]


def test_artifact_is_named_by_its_content_and_the_same_bytes_share_a_file(tmp_path: Path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    registry = ModelRegistry(stores.models, stores.artifacts)
    artifact = ModelArtifact({"w": [1.0, 2.0]}, ["a", "b"], "fake", {})
    first = registry.register(artifact, data_from_seq=1, data_to_seq=2, n_events=2, metrics={})
    second = registry.register(artifact, data_from_seq=1, data_to_seq=2, n_events=2, metrics={})
    assert first.version != second.version and first.artifact == second.artifact
    assert first.artifact.startswith("sha256-")
    assert pickle.loads(stores.artifacts.get(f"models/{first.artifact}")).model == {"w": [1.0, 2.0]}
    assert stores.artifacts.list("models/") == [f"models/{first.artifact}"]  # one value, nothing half-written
    stores.close()


def test_two_train_jobs_at_once_produce_two_distinct_loadable_versions(tmp_path: Path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    load_dataset(stores, generate(200, 100, 3_000, seed=7))
    stores.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        jobs = pool.starmap_async(run_train_job, [(Settings(data_dir=tmp_path, durable=False), "popularity", None, "never")] * 2)
        results = jobs.get(timeout=300)  # a crashed worker fails the test instead of hanging it
    versions = sorted(r["version"]["version"] for r in results)
    assert versions == [1, 2]
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    registry = ModelRegistry(stores.models, stores.artifacts)
    for v in versions:
        artifact = registry.load(v)
        assert artifact.family == "popularity" and len(artifact.item_ids) > 0
    stores.close()


def test_a_version_stored_before_model_artifact_moved_still_loads(monkeypatch):
    """Versions pickled when ModelArtifact lived in training/registry.py keep loading."""
    old = types.ModuleType("tastemaker.training.registry")
    old_class = dataclasses.make_dataclass("ModelArtifact", ["model", "item_ids", "family", "params"])
    old_class.__module__ = old.__name__
    old.ModelArtifact = old_class
    monkeypatch.setitem(sys.modules, old.__name__, old)
    payload = pickle.dumps(old_class({"w": 1}, ["a", "b"], "ease", {"l2": 10.0}), protocol=pickle.HIGHEST_PROTOCOL)
    assert b"tastemaker.training.registry" in payload
    monkeypatch.delitem(sys.modules, old.__name__)

    loaded = loads(payload)
    assert loaded == ModelArtifact({"w": 1}, ["a", "b"], "ease", {"l2": 10.0})
