"""Durability: every backend (see conftest.BACKENDS) keeps every store's writes across close and reopen.

It speaks only through the protocols of ``tastemaker.storage.protocols``.
"""

from __future__ import annotations

from tastemaker.schema.records import Item, User
from tastemaker.schema.registry import EventSchema

from .helpers import columns, ev


def test_everything_survives_close_and_reopen(backend):
    stores = backend.open(durable=True)
    events = [ev(i, context={"device": "mobile"}) for i in range(3)]
    stores.events.append(events)
    stores.events.append_columns([columns(["c1"])])
    stores.items.upsert([Item(id="i1", title="One", stock=2), Item(id="i2")])
    stores.items.delete("i2")
    stores.users.upsert([User(id="u1", consent={"marketing": True})])
    stores.keys.create("bot", frozenset({"a"}), "h", "k1")
    stores.keys.revoke("k1")
    schema = EventSchema(type="play", requires=["item"])
    stores.schemas.save(schema)
    stores.close()

    fresh = backend.open(durable=True)
    assert fresh.events.count() == 4 and fresh.events.last_seq() == 4
    assert [e for _, e in fresh.events.read_since(0)][:3] == events
    assert fresh.items.get("i1") == Item(id="i1", title="One", stock=2)
    assert fresh.items.get("i2") is None
    assert fresh.items.changes_since(0)[1][-1] == ("i2", None)
    assert fresh.users.get("u1") == User(id="u1", consent={"marketing": True})
    assert fresh.keys.find("k1")[0].revoked is True
    assert fresh.schemas.load_all() == [schema]
    # and it keeps going where it stopped
    assert fresh.events.append([ev(0), ev(9)]).accepted[0][0] == 5
