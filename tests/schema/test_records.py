"""schema.records: the public JSON records and their constraints."""

from __future__ import annotations

import msgspec
import pytest

from tastemaker.schema.records import BUILTIN_EVENT_TYPES, ITEM_FIELDS, USER_FIELDS, Event, Item, User


def test_contract_field_names():
    assert set(Event.__struct_fields__) >= {
        "id", "type", "user_id", "session_id", "item_id", "item_ids", "value", "query", "context", "timestamp", "recommendation_id",
    }
    assert ITEM_FIELDS >= {"id", "title", "description", "categories", "brand", "price", "margin", "stock", "tags", "created_at", "properties"}
    assert USER_FIELDS == {"id", "traits", "consent"}
    assert set(BUILTIN_EVENT_TYPES) == {
        "view", "click", "add_to_cart", "purchase", "search", "rating", "like", "dislike", "share", "impression", "feedback",
    }


def test_items_lists_item_id_first_then_item_ids():
    assert Event(id="e", type="view", user_id="u", item_id="a", item_ids=["b", "c"]).items() == ["a", "b", "c"]
    assert Event(id="e", type="view", user_id="u", item_ids=["b"]).items() == ["b"]
    assert Event(id="e", type="search", user_id="u", query="q").items() == []


def test_event_encodes_without_defaults():
    event = Event(id="e", type="view", user_id="u", item_id="i")
    assert msgspec.json.decode(msgspec.json.encode(event)) == {"id": "e", "type": "view", "user_id": "u", "item_id": "i"}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"id":"","type":"view","user_id":"u"}', "$.id"),
        (b'{"id":"e","type":"","user_id":"u"}', "$.type"),
        (b'{"id":"e","type":"' + b"v" * 65 + b'","user_id":"u"}', "$.type"),
        (b'{"id":"e","type":"view","user_id":"' + b"u" * 257 + b'"}', "$.user_id"),
        (b'{"id":"e","type":"view","user_id":"u","schema_version":0}', "$.schema_version"),
        (b'{"id":"e","type":"view","user_id":"u","context":[1]}', "$.context"),
    ],
)
def test_event_constraints(body, where):
    # A mis-cased or misspelt type is refused by the registry, with a hint (test_registry).
    with pytest.raises(msgspec.ValidationError, match=rf"at `\{where}`"):
        msgspec.json.decode(body, type=Event)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"id":"i","price":-0.01}', "$.price"),
        (b'{"id":"i","stock":-1}', "$.stock"),
        (b'{"id":"i","stock":1.5}', "$.stock"),
        (b'{"id":"i","categories":"shoes"}', "$.categories"),
    ],
)
def test_item_constraints(body, where):
    with pytest.raises(msgspec.ValidationError, match=rf"at `\{where}`"):
        msgspec.json.decode(body, type=Item)


def test_item_and_user_defaults():
    item = msgspec.json.decode(b'{"id":"i"}', type=Item)
    assert (item.categories, item.tags, item.properties, item.stock) == ([], [], {}, None)
    user = msgspec.json.decode(b'{"id":"u","consent":{"marketing":false}}', type=User)
    assert user.consent == {"marketing": False} and user.traits == {}
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"id":"u","consent":{"marketing":"no"}}', type=User)
