"""The key store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.KeyStore``.
"""

from __future__ import annotations

import pytest

from tastemaker.storage.factory import Stores

from .helpers import token_after_write


class TestKeyStore:
    def test_create_find_list(self, stores: Stores):
        record = stores.keys.create("ingest bot", frozenset({"events:write", "recs:read"}), "hash-1", "k1")
        assert (record.key_id, record.name, record.scopes, record.revoked) == ("k1", "ingest bot", frozenset({"events:write", "recs:read"}), False)
        found = stores.keys.find("k1")
        assert found == (record, "hash-1")
        assert stores.keys.find("k2") is None
        second = stores.keys.create("admin", frozenset({"admin"}), "hash-2", "k2")
        assert [k.key_id for k in stores.keys.list()] == ["k1", "k2"]
        assert stores.keys.list()[1] == second

    def test_scopes_round_trip_exactly(self, stores: Stores):
        for i, scopes in enumerate([frozenset(), frozenset({"a"}), frozenset({"b", "a", "c:d"})]):
            stores.keys.create(f"k{i}", scopes, "h", f"k{i}")
            assert stores.keys.find(f"k{i}")[0].scopes == scopes

    def test_revoke(self, stores: Stores, other_stores: Stores):
        stores.keys.create("bot", frozenset({"a"}), "h", "k1")
        assert stores.keys.revoke("k1") is True
        assert stores.keys.revoke("k1") is False
        assert stores.keys.revoke("nope") is False
        record, secret_hash = other_stores.keys.find("k1")
        assert record.revoked is True and secret_hash == "h"
        assert [k.revoked for k in stores.keys.list()] == [True]

    def test_change_token_moves_on_every_key_write_seen_by_other_stores(self, stores: Stores, other_stores: Stores):
        seen = other_stores.keys.change_token()
        assert stores.keys.change_token() == seen  # one token per data dir
        stores.keys.create("bot", frozenset({"a"}), "h", "k1")
        assert token_after_write(other_stores.keys.change_token, seen) != seen
        seen = other_stores.keys.change_token()
        assert other_stores.keys.change_token() == seen  # reads alone move nothing
        stores.keys.find("k1"), stores.keys.list()
        assert other_stores.keys.change_token() == seen
        stores.keys.revoke("k1")
        assert token_after_write(other_stores.keys.change_token, seen) != seen

    def test_key_ids_are_unique(self, stores: Stores):
        stores.keys.create("a", frozenset({"a"}), "h1", "k1")
        with pytest.raises(Exception):
            stores.keys.create("b", frozenset({"a"}), "h2", "k1")
        assert stores.keys.find("k1")[1] == "h1"

    def test_kind_user_binding_and_placements_round_trip(self, stores: Stores, other_stores: Stores):
        stores.keys.create("web", frozenset({"browser"}), "h1", "b1", user_id="u/1,x", placements=frozenset({"home", "cart"}))
        stores.keys.create("svc", frozenset({"read"}), "h2", "c1", kind="client", placements=frozenset())
        stores.keys.create("plain", frozenset({"read"}), "h3", "k1")
        browser, client, plain = (other_stores.keys.find(k)[0] for k in ("b1", "c1", "k1"))
        assert (browser.kind, browser.user_id, browser.placements) == ("key", "u/1,x", frozenset({"home", "cart"}))
        assert (client.kind, client.user_id, client.placements) == ("client", None, frozenset())
        assert (plain.kind, plain.user_id, plain.placements) == ("key", None, None)

    def test_erase_user_deletes_only_that_users_keys_and_moves_the_token(self, stores: Stores, other_stores: Stores):
        stores.keys.create("a", frozenset({"browser"}), "h1", "b1", user_id="u1")
        stores.keys.create("b", frozenset({"browser"}), "h2", "b2", user_id="u1")
        stores.keys.create("c", frozenset({"browser"}), "h3", "b3", user_id="u2")
        stores.keys.create("d", frozenset({"read"}), "h4", "k1")
        seen = other_stores.keys.change_token()
        assert stores.keys.erase_user("u1") == 2
        assert other_stores.keys.change_token() != seen
        assert [k.key_id for k in other_stores.keys.list()] == ["b3", "k1"]
        assert stores.keys.erase_user("u1") == 0
