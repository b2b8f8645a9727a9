"""The quarantine store contract: every backend (see conftest.BACKENDS) passes this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.QuarantineStore``.
"""

from __future__ import annotations

import pytest

from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import QuarantineRecord


def flag(seq: int, user: str = "bot", reason: str = "rate", item: str | None = "i1") -> QuarantineRecord:
    return QuarantineRecord(seq, user, item, "view", 1000.0 + seq, reason)


class TestQuarantineStore:
    def test_empty(self, stores: Stores):
        q = stores.quarantine
        assert q.excluded() == set() and q.list() == [] and q.users() == []

    def test_hold_keeps_every_field_and_the_first_flag_of_a_seq(self, stores: Stores, other_stores: Stores):
        q = stores.quarantine
        assert q.hold([flag(3), flag(5, reason="user_agent", item=None)]) == 2
        assert q.hold([flag(3, reason="shilling"), flag(8, "other")]) == 1  # 3 is kept as first flagged
        got = other_stores.quarantine.list()
        assert [(r.seq, r.user_id, r.item_id, r.type, r.ts, r.reason, r.status) for r in got] == [
            (3, "bot", "i1", "view", 1003.0, "rate", "held"), (5, "bot", None, "view", 1005.0, "user_agent", "held"),
            (8, "other", "i1", "view", 1008.0, "rate", "held")]
        assert all(r.flagged_at > 0 and r.decided_at is None for r in got)
        assert other_stores.quarantine.excluded() == {3, 5, 8}
        assert other_stores.quarantine.excluded(after_seq=3, to_seq=5) == {5}

    def test_list_filters_and_pages(self, stores: Stores):
        q = stores.quarantine
        q.hold([flag(s, "a" if s % 2 else "b") for s in range(1, 11)])
        assert [r.seq for r in q.list(user_id="a")] == [1, 3, 5, 7, 9]
        assert [r.seq for r in q.list(after_seq=4, limit=3)] == [5, 6, 7]
        assert q.list(status="released") == []
        with pytest.raises(ValueError, match="unknown status"):
            q.list(status="maybe")

    def test_users_count_events_and_name_reasons(self, stores: Stores):
        q = stores.quarantine
        q.hold([flag(1, "a"), flag(2, "a", "shilling"), flag(3, "b"), flag(4, "a")])
        users = q.users()
        assert [(u.user_id, u.events, u.reasons, u.first_seq, u.last_seq) for u in users] == [
            ("a", 3, ["rate", "shilling"], 1, 4), ("b", 1, ["rate"], 3, 3)]
        assert [u.user_id for u in q.users(limit=1)] == ["a"]

    def test_release_and_confirm_by_user_or_seq(self, stores: Stores, other_stores: Stores):
        q = stores.quarantine
        q.hold([flag(1, "a"), flag(2, "a"), flag(3, "b"), flag(4, "c")])
        released = q.decide("released", user_id="a")
        assert [(r.seq, r.status) for r in released] == [(1, "released"), (2, "released")]
        assert all(r.decided_at is not None for r in released)
        assert q.decide("released", user_id="a") == []  # nothing left to change
        assert [r.seq for r in q.decide("confirmed", seqs=[3, 99])] == [3]  # an unknown seq changes nothing
        assert other_stores.quarantine.excluded() == {3, 4}  # confirmed stays out of the fold
        assert [u.user_id for u in other_stores.quarantine.users("confirmed")] == ["b"]
        assert [r.seq for r in other_stores.quarantine.list(status="held")] == [4]
        with pytest.raises(ValueError):
            q.decide("held", seqs=[4])  # only released or confirmed are decisions
        with pytest.raises(ValueError):
            q.decide("released")  # names neither seqs nor a user
        assert q.decide("released", seqs=[]) == []

    def test_erase_user_leaves_nothing_of_them(self, stores: Stores):
        q = stores.quarantine
        q.hold([flag(1, "a"), flag(2, "b")])
        assert q.erase_user("a") == 1
        assert [r.user_id for r in q.list()] == ["b"] and q.excluded() == {2}
