"""The audit log contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.AuditLog`` and checks the chain with the
one verifier every backend shares (``storage.audit_chain.verify``).
"""

from __future__ import annotations

import dataclasses
import threading

from tastemaker.storage.audit_chain import GENESIS, expected_hash, verify
from tastemaker.storage.factory import Stores

T0 = 1_700_000_000.0


def _fill(stores: Stores, n: int = 5) -> None:
    for i in range(n):
        stores.audit.append(f"k{i % 2}", ("keys.create", "placements.put", "consent.change")[i % 3], f"t{i % 2}",
                            {"i": i, "nested": {"x": [1, 2.5, "é"]}}, f"10.0.0.{i}", ts=T0 + i)


class TestAuditLog:
    def test_append_returns_a_chained_record(self, stores: Stores):
        first = stores.audit.append("k1", "keys.create", "k2", {"scopes": ["read"]}, "127.0.0.1", ts=T0)
        assert (first.seq, first.ts, first.actor, first.action, first.target, first.summary, first.address) == (
            1, T0, "k1", "keys.create", "k2", {"scopes": ["read"]}, "127.0.0.1")
        assert first.prev_hash == GENESIS and first.hash == expected_hash(first) and len(first.hash) == 64
        second = stores.audit.append("k1", "keys.revoke", "k2", {}, "127.0.0.1")
        assert second.seq == 2 and second.prev_hash == first.hash and second.ts > T0
        assert stores.audit.count() == 2

    def test_records_read_back_exactly_from_another_connection(self, stores: Stores, other_stores: Stores):
        _fill(stores)
        written = list(stores.audit.iter_all())
        assert list(other_stores.audit.iter_all()) == written
        assert [r.seq for r in written] == [1, 2, 3, 4, 5]
        assert written[4].summary == {"i": 4, "nested": {"x": [1, 2.5, "é"]}}
        assert verify(other_stores.audit.iter_all()).ok

    def test_read_pages_both_ways_and_filters(self, stores: Stores):
        _fill(stores, 7)
        assert [r.seq for r in stores.audit.read(limit=3)] == [7, 6, 5]
        assert [r.seq for r in stores.audit.read(cursor=5, limit=3)] == [4, 3, 2]
        assert [r.seq for r in stores.audit.read(cursor=2, limit=3)] == [1]
        assert [r.seq for r in stores.audit.read(limit=3, descending=False)] == [1, 2, 3]
        assert [r.seq for r in stores.audit.read(cursor=6, descending=False)] == [7]
        assert [r.seq for r in stores.audit.read(action="keys.create")] == [7, 4, 1]
        assert [r.seq for r in stores.audit.read(action="keys.")] == [7, 4, 1]
        assert [r.seq for r in stores.audit.read(action="keys")] == []  # exact unless it ends in '.'
        assert [r.seq for r in stores.audit.read(target="t1", descending=False)] == [2, 4, 6]
        assert [r.seq for r in stores.audit.read(action="placements.put", target="t1")] == [2]
        assert stores.audit.read(action="nothing") == []

    def test_an_empty_log(self, stores: Stores):
        assert stores.audit.count() == 0 and stores.audit.read() == [] and list(stores.audit.iter_all()) == []
        assert verify(stores.audit.iter_all()).ok

    def test_appenders_on_many_connections_make_one_chain(self, backend, stores: Stores):
        others = [backend.open() for _ in range(4)]

        def append(s: Stores, w: int) -> None:
            for i in range(25):
                s.audit.append(f"w{w}", "keys.create", str(i), {}, "127.0.0.1")

        threads = [threading.Thread(target=append, args=(s, w)) for w, s in enumerate(others)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = verify(stores.audit.iter_all())
        assert result.ok and result.records == 100, result

    def test_verify_names_the_first_changed_removed_or_reordered_record(self, stores: Stores):
        _fill(stores, 6)
        records = list(stores.audit.iter_all())
        good = verify(records)
        assert good.ok and good.records == 6 and good.head == records[-1].hash
        changed = records[:2] + [dataclasses.replace(records[2], summary={"i": 99})] + records[3:]
        assert (verify(changed).ok, verify(changed).bad_seq) == (False, 3)
        rehashed = dataclasses.replace(changed[2], hash=expected_hash(changed[2]))  # a forger recomputes its hash
        assert verify(records[:2] + [rehashed] + records[3:]).bad_seq == 4  # the next record no longer chains
        assert verify(records[:3] + records[4:]).bad_seq == 5  # one removed
        assert verify([records[1], records[0], *records[2:]]).bad_seq == 2  # reordered
        assert verify(records[:4]).ok  # a cut tail is a valid chain: compare the head hash kept elsewhere
