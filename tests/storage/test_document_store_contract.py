"""The item catalog and user store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.ItemCatalog`` and ``UserStore``.
"""

from __future__ import annotations

import pytest

from tastemaker.schema.records import Item, User
from tastemaker.storage.factory import Stores

from .helpers import token_after_write

DOCS = {
    "items": (
        lambda i, **kw: Item(id=f"i{i}", title=f"Item {i}", categories=["a"], price=1.5 * i, stock=3, **kw),
        lambda i: {"brand": f"b{i}"},
    ),
    "users": (
        lambda i, **kw: User(id=f"u{i}", consent={"marketing": i % 2 == 0}, **({"traits": {"n": i}} | kw)),
        lambda i: {"traits": {"n": -i}},
    ),
}


@pytest.fixture(params=sorted(DOCS))
def doc_kind(request):
    return request.param


class TestDocuments:
    def store(self, stores: Stores, kind: str):
        return stores.items if kind == "items" else stores.users

    def make(self, kind: str, i: int, changed: bool = False):
        factory, change = DOCS[kind]
        return factory(i, **(change(i) if changed else {}))

    def test_upsert_get_count(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        assert store.count() == 0 and store.get("x") is None
        v1 = store.upsert([self.make(doc_kind, 1), self.make(doc_kind, 2)])
        assert store.get(self.make(doc_kind, 1).id) == self.make(doc_kind, 1)
        assert store.count() == 2
        v2 = store.upsert([self.make(doc_kind, 1, changed=True)])
        assert v2 > v1
        assert store.get(self.make(doc_kind, 1).id) == self.make(doc_kind, 1, changed=True)  # replaced, not merged
        assert store.count() == 2

    def test_versions_increase_with_every_write(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        versions = [store.upsert([self.make(doc_kind, i)]) for i in range(4)]
        assert versions == sorted(set(versions))
        latest, changes = store.changes_since(versions[1])
        assert latest == versions[-1]
        assert [doc_id for doc_id, _ in changes] == [self.make(doc_kind, 2).id, self.make(doc_kind, 3).id]
        assert store.changes_since(latest) == (latest, [])

    def test_delete_leaves_a_tombstone_in_changes(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        a, b = self.make(doc_kind, 1), self.make(doc_kind, 2)
        version = store.upsert([a, b])
        assert store.delete(a.id) is True
        assert store.get(a.id) is None
        assert store.count() == 1
        assert store.delete(a.id) is False  # already deleted
        assert store.delete("never-existed") is False
        latest, changes = store.changes_since(version)
        assert latest > version
        assert changes == [(a.id, None)]
        _, everything = store.changes_since(0)
        assert sorted(everything, key=lambda c: c[0]) == [(a.id, None), (b.id, b)]

    def test_upsert_after_delete_resurrects(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        a = self.make(doc_kind, 1)
        store.upsert([a])
        store.delete(a.id)
        version = store.upsert([a])
        assert store.get(a.id) == a
        assert store.changes_since(version - 1) == (version, [(a.id, a)])

    def test_other_connections_follow_changes(self, stores, other_stores, doc_kind):
        mine, theirs = self.store(stores, doc_kind), self.store(other_stores, doc_kind)
        a = self.make(doc_kind, 1)
        v = mine.upsert([a])
        assert theirs.get(a.id) == a
        theirs.delete(a.id)
        latest, changes = mine.changes_since(v)
        assert changes == [(a.id, None)] and latest > v


def test_item_catalog_iter_all_skips_tombstones(stores: Stores):
    items = [Item(id=f"i{i}", tags=["t"]) for i in range(3)]
    stores.items.upsert(items)
    stores.items.delete("i1")
    assert sorted(i.id for i in stores.items.iter_all()) == ["i0", "i2"]


def test_user_change_token_moves_with_every_user_write_in_any_process(stores: Stores, other_stores: Stores):
    # the consent index reads the token on every recommendation request and the store only when it moved
    token = stores.users.change_token()
    assert stores.users.change_token() == token  # unchanged without writes
    stores.events.append([])  # other tables' writes do not move it
    stores.items.upsert([Item(id="i1")])
    assert stores.users.change_token() == token
    other_stores.users.upsert([User(id="u1", consent={"personalization": False})])
    moved = token_after_write(stores.users.change_token, token)
    assert moved != token
    other_stores.users.delete("u1")
    assert token_after_write(stores.users.change_token, moved) != moved
