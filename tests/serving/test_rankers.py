"""serving.rankers: a placement's learned ranker is loaded from its file and reloaded when it changes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tastemaker.ranking.features import FEATURE_NAMES
from tastemaker.ranking.ltr import LTRRanker, TrainingSet
from tastemaker.serving.rankers import RankerSet


def trained(column: int, seed: int = 0) -> LTRRanker:
    rng = np.random.default_rng(seed)
    X = rng.random((2000, len(FEATURE_NAMES)))
    y = (X[:, column] > 0.7).astype(np.int32)
    return LTRRanker.train(TrainingSet(X, y, np.full(100, 20), np.arange(100.0)), rounds=10)


@pytest.fixture(scope="module")
def rankers():
    return trained(3), trained(5)


def test_no_directory_or_no_file_means_no_ranker(tmp_path):
    assert RankerSet(None).get("home") is None
    assert RankerSet(tmp_path / "rankers").get("home") is None


def test_loads_saves_and_reloads_on_change(tmp_path, rankers):
    first, second = rankers
    writer, reader = RankerSet(tmp_path), RankerSet(tmp_path, check_every_s=0.0)
    X = np.random.default_rng(1).random((5, len(FEATURE_NAMES)))
    writer.save("home", first)
    got = reader.get("home")
    assert got is not None and np.allclose(got.score(X), first.score(X))
    assert reader.get("home") is got  # unchanged file: not read again
    writer.save("home", second)
    st = (tmp_path / "home.json").stat()
    os.utime(tmp_path / "home.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert np.allclose(reader.get("home").score(X), second.score(X))
    assert writer.remove("home") and reader.get("home") is None and not writer.remove("home")


def test_checks_the_file_at_most_once_per_interval(tmp_path, rankers):
    reader = RankerSet(tmp_path, check_every_s=3600)
    assert reader.get("home") is None
    RankerSet(tmp_path).save("home", rankers[0])
    assert reader.get("home") is None  # not looked at again yet


def test_a_broken_file_keeps_the_previous_ranker(tmp_path, rankers):
    reader = RankerSet(tmp_path, check_every_s=0.0)
    RankerSet(tmp_path).save("home", rankers[0])
    good = reader.get("home")
    (tmp_path / "home.json").write_text("{not json")
    assert reader.get("home") is good
