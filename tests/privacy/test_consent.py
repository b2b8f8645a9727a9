"""The consent policy and the in-memory index a recommendation request reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tastemaker.config import Settings, consent_required_from_env
from tastemaker.privacy.consent import ANALYTICS, PERSONALIZATION, TRAINING, ConsentIndex, allows
from tastemaker.schema.records import User
from tastemaker.storage.factory import open_stores


@pytest.fixture
def two_processes(tmp_path: Path):
    """Two independent store sets on one data dir (two workers)."""
    settings = Settings(data_dir=tmp_path / "data", durable=False)
    a, b = open_stores(settings), open_stores(settings)
    yield a, b
    a.close()
    b.close()


def test_absent_purposes_are_allowed_by_default_and_refused_when_required():
    for purpose in (PERSONALIZATION, TRAINING, ANALYTICS, "marketing"):
        assert allows(None, purpose) and allows({}, purpose)
        assert not allows(None, purpose, required=True) and not allows({}, purpose, required=True)
    assert not allows({TRAINING: False}, TRAINING)
    assert allows({TRAINING: True}, TRAINING, required=True)


def test_required_from_env_refuses_a_value_it_cannot_read():
    assert consent_required_from_env("TRUE") and not consent_required_from_env("0")
    with pytest.raises(ValueError, match="TASTEMAKER_CONSENT_REQUIRED"):
        consent_required_from_env("maybe")


def test_index_starts_from_the_store_and_follows_another_process(two_processes):
    mine, theirs = two_processes
    mine.users.upsert([User(id="u1", consent={PERSONALIZATION: False}), User(id="u2")])
    index = ConsentIndex(mine.users)
    assert not index.allows("u1", PERSONALIZATION) and index.allows("u1", TRAINING)
    assert index.allows("u2", PERSONALIZATION) and index.allows("nobody", PERSONALIZATION)

    theirs.users.upsert([User(id="u1", consent={PERSONALIZATION: True, ANALYTICS: False})])
    assert index.refresh() == 1
    assert index.allows("u1", PERSONALIZATION) and not index.allows("u1", ANALYTICS)
    theirs.users.delete("u1")  # no document: the default again
    index.refresh()
    assert index.allows("u1", ANALYTICS)
    assert index.refresh() == 0  # nothing written since: no read


def test_required_index_allows_only_explicit_grants(two_processes):
    stores, _ = two_processes
    stores.users.upsert([User(id="yes", consent={PERSONALIZATION: True}), User(id="no", consent={PERSONALIZATION: False}),
                         User(id="silent")])
    index = ConsentIndex(stores.users, required=True)
    assert [index.allows(u, PERSONALIZATION) for u in ("yes", "no", "silent", "unknown")] == [True, False, False, False]
    assert index.withheld(PERSONALIZATION, ["yes", "no", "unknown"]) == {"no", "unknown"}
    assert index.exceptions(PERSONALIZATION) == {"yes"}


def test_forget_drops_an_erased_user(two_processes):
    stores, _ = two_processes
    stores.users.upsert([User(id="gone", consent={PERSONALIZATION: False})])
    index = ConsentIndex(stores.users)
    stores.users.erase_user("gone")  # the row itself goes: no change to follow
    index.refresh()
    index.forget("gone")
    assert index.exceptions(PERSONALIZATION) == frozenset() and index.allows("gone", PERSONALIZATION)
