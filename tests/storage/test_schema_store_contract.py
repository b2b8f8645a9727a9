"""The schema store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.SchemaStore``.
"""

from __future__ import annotations

import pytest

from tastemaker.schema.registry import EventSchema, PropertySpec
from tastemaker.storage.factory import Stores


def test_schema_store_round_trip(stores: Stores, other_stores: Stores):
    assert stores.schemas.load_all() == []
    v1 = EventSchema(type="play", requires=["item"], properties={"seconds": PropertySpec("integer")}, value_min=0.0, description="d")
    v2 = EventSchema(type="play", version=2, requires=["item"],
                     properties={"seconds": PropertySpec("integer"), "hd": PropertySpec("boolean")}, value_min=0.0)
    other = EventSchema(type="checkout", requires=["value"], properties={"coupon": PropertySpec("string", required=True)})
    for schema in (v2, other, v1):
        stores.schemas.save(schema)
    assert other_stores.schemas.load_all() == [other, v1, v2]  # by type, then version
    with pytest.raises(Exception):
        stores.schemas.save(v1)  # a version is immutable once stored
    assert len(stores.schemas.load_all()) == 3
