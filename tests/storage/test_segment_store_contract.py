"""The segment store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.SegmentStore``.
"""

from __future__ import annotations

import pytest

from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import SegmentConflict

from .helpers import token_after_write


def doc(expression: str = "user.orders >= 2", **extra) -> dict:
    return {"expression": expression, "description": "repeat buyers", **extra}


class TestSegmentStore:
    def test_empty(self, stores: Stores):
        assert stores.segments.list() == [] and stores.segments.get("vip") is None

    def test_create_get_list_keep_every_field(self, stores: Stores, other_stores: Stores):
        created = stores.segments.create("vip", doc())
        assert (created.version, created.created_at == created.updated_at) == (1, True)
        stores.segments.create("at-risk-buyers", doc("user.lifecycle == 'at_risk'"))
        got = other_stores.segments.get("vip")
        assert got == created and got.definition == doc()
        assert [r.name for r in other_stores.segments.list()] == ["at-risk-buyers", "vip"]  # by name

    def test_a_second_create_of_a_name_conflicts_and_changes_nothing(self, stores: Stores):
        stores.segments.create("vip", doc())
        with pytest.raises(SegmentConflict):
            stores.segments.create("vip", doc("user.orders > 100"))
        assert stores.segments.get("vip").definition == doc()

    def test_replace_and_delete(self, stores: Stores, other_stores: Stores):
        first = stores.segments.create("vip", doc())
        second = other_stores.segments.replace("vip", doc("user.revenue > 500"))
        assert (second.version, second.created_at, second.definition["expression"]) == (2, first.created_at,
                                                                                        "user.revenue > 500")
        assert stores.segments.get("vip") == second and second.updated_at >= first.updated_at
        with pytest.raises(KeyError):
            stores.segments.replace("nope", doc())
        assert other_stores.segments.delete("vip") is True
        assert stores.segments.get("vip") is None and stores.segments.delete("vip") is False
        assert stores.segments.create("vip", doc()).version == 1  # a deleted name may be used again

    def test_every_write_changes_the_token_seen_by_another_connection(self, stores: Stores, other_stores: Stores):
        tokens = [other_stores.segments.change_token()]
        stores.segments.create("vip", doc())
        tokens.append(token_after_write(other_stores.segments.change_token, tokens[-1]))
        stores.segments.replace("vip", doc("user.orders > 3"))
        tokens.append(token_after_write(other_stores.segments.change_token, tokens[-1]))
        stores.segments.delete("vip")
        tokens.append(token_after_write(other_stores.segments.change_token, tokens[-1]))
        assert len(set(tokens)) == 4
        assert other_stores.segments.change_token() == other_stores.segments.change_token()
