"""serving.rankers: a placement's learned ranker is loaded from the artifact store and reloaded when it changes."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.ranking.features import FEATURE_NAMES
from tastemaker.ranking.ltr import LTRRanker, TrainingSet
from tastemaker.serving.rankers import RankerSet
from tastemaker.storage.local.artifacts import LocalArtifactStore


def trained(column: int, seed: int = 0) -> LTRRanker:
    rng = np.random.default_rng(seed)
    X = rng.random((2000, len(FEATURE_NAMES)))
    y = (X[:, column] > 0.7).astype(np.int32)
    return LTRRanker.train(TrainingSet(X, y, np.full(100, 20), np.arange(100.0)), rounds=10)


@pytest.fixture(scope="module")
def rankers():
    return trained(3), trained(5)


def test_no_store_or_no_artifact_means_no_ranker(tmp_path):
    assert RankerSet(None).get("home") is None
    assert RankerSet(LocalArtifactStore(tmp_path)).get("home") is None


def test_loads_saves_and_reloads_on_change(tmp_path, rankers):
    first, second = rankers
    store = LocalArtifactStore(tmp_path)
    writer, reader = RankerSet(store), RankerSet(LocalArtifactStore(tmp_path), check_every_s=0.0)
    X = np.random.default_rng(1).random((5, len(FEATURE_NAMES)))
    writer.save("home", first)
    got = reader.get("home")
    assert got is not None and np.allclose(got.score(X), first.score(X))
    assert reader.get("home") is got  # unchanged file: not read again
    writer.save("home", second)  # a new stamp, whatever the clock's resolution
    assert np.allclose(reader.get("home").score(X), second.score(X))
    assert writer.remove("home") and reader.get("home") is None and not writer.remove("home")


def test_checks_the_file_at_most_once_per_interval(tmp_path, rankers):
    reader = RankerSet(LocalArtifactStore(tmp_path), check_every_s=3600)
    assert reader.get("home") is None
    RankerSet(LocalArtifactStore(tmp_path)).save("home", rankers[0])
    assert reader.get("home") is None  # not looked at again yet


def test_a_broken_file_keeps_the_previous_ranker(tmp_path, rankers):
    store = LocalArtifactStore(tmp_path)
    reader = RankerSet(store, check_every_s=0.0)
    RankerSet(store).save("home", rankers[0])
    good = reader.get("home")
    store.put(RankerSet.key("home"), b"{not json")
    assert reader.get("home") is good
