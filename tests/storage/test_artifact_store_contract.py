"""The artifact store contract: every backend (see conftest.BACKENDS) must pass this suite.

It speaks only through ``tastemaker.storage.protocols.ArtifactStore``.
"""

from __future__ import annotations

import pickle
import threading

import pytest

from tastemaker.storage.factory import Stores


class TestArtifactStore:
    def test_absent_key(self, stores: Stores):
        assert stores.artifacts.get("models/none.pkl") is None
        assert stores.artifacts.open("models/none.pkl") is None
        assert stores.artifacts.stamp("models/none.pkl") is None
        assert stores.artifacts.delete("models/none.pkl") is False

    def test_put_get_list_delete(self, stores: Stores):
        stores.artifacts.put("rankers/home.json", b'{"a": 1}')
        stores.artifacts.put("rankers/cart.json", b"{}")
        stores.artifacts.put("models/x.pkl", b"\x00\x01")
        assert stores.artifacts.get("rankers/home.json") == b'{"a": 1}'
        assert stores.artifacts.list("rankers/") == ["rankers/cart.json", "rankers/home.json"]
        assert stores.artifacts.delete("rankers/cart.json") is True
        assert stores.artifacts.list("rankers/") == ["rankers/home.json"]
        assert stores.artifacts.get("rankers/cart.json") is None

    def test_put_stream_and_open_round_trip_a_large_value(self, stores: Stores):
        value = {"rows": list(range(200_000))}
        stores.artifacts.put_stream("state/snapshot", lambda fh: pickle.dump(value, fh))
        with stores.artifacts.open("state/snapshot") as fh:
            assert pickle.load(fh) == value

    def test_a_failed_stream_write_keeps_the_old_value_and_leaves_no_trace(self, stores: Stores):
        stores.artifacts.put("placements.yaml", b"old")
        before = stores.artifacts.list()

        def half_then_fail(fh):
            fh.write(b"half of the new")
            raise RuntimeError("writer died")

        with pytest.raises(RuntimeError):
            stores.artifacts.put_stream("placements.yaml", half_then_fail)
        assert stores.artifacts.get("placements.yaml") == b"old"
        assert stores.artifacts.list() == before

    def test_stamp_changes_on_every_replacement_and_on_removal(self, stores: Stores, other_stores: Stores):
        stores.artifacts.put("placements.yaml", b"v1")
        seen = {other_stores.artifacts.stamp("placements.yaml")}
        for body in (b"v2", b"v3", b"v3"):  # the same bytes again are still a new write
            stores.artifacts.put("placements.yaml", body)
            stamp = other_stores.artifacts.stamp("placements.yaml")
            assert stamp is not None and stamp not in seen
            seen.add(stamp)
        stores.artifacts.delete("placements.yaml")
        assert other_stores.artifacts.stamp("placements.yaml") is None

    def test_another_connection_sees_writes(self, stores: Stores, other_stores: Stores):
        stores.artifacts.put("models/a.pkl", b"abc")
        assert other_stores.artifacts.get("models/a.pkl") == b"abc"
        assert other_stores.artifacts.list("models/") == ["models/a.pkl"]

    @pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "models/../../x", "a\\b", "./x"])
    def test_keys_that_would_escape_are_refused(self, stores: Stores, key: str):
        with pytest.raises(ValueError, match="invalid artifact key"):
            stores.artifacts.put(key, b"x")

    def test_readers_never_see_a_partial_value(self, stores: Stores, other_stores: Stores):
        values = [bytes([i]) * 300_000 for i in range(1, 6)]
        stores.artifacts.put("models/big.bin", values[0])
        done = threading.Event()
        torn: list[int] = []

        def read_until_done() -> None:
            while not done.is_set():
                got = other_stores.artifacts.get("models/big.bin")
                if got not in values:
                    torn.append(len(got or b""))

        reader = threading.Thread(target=read_until_done)
        reader.start()
        for _ in range(4):
            for value in values:
                stores.artifacts.put("models/big.bin", value)
        done.set()
        reader.join()
        assert torn == []
