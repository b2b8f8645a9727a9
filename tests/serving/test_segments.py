"""serving.segments: the segment book over a real online state and segment store."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.features.state import OnlineState
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import User
from tastemaker.serving.segments import BUILTIN, SegmentBook, check_definition
from tastemaker.storage.factory import open_stores

DAY = 86_400.0


@pytest.fixture
def stores(tmp_path):
    with open_stores(Settings(data_dir=tmp_path, durable=False)) as s:
        yield s


def fold(state: OnlineState, events: list[tuple[str, str, float, float | None]]) -> None:
    for user, kind, ts, value in events:
        state.apply(state.applied_seq + 1, kind, user, None, ["i1"], value, ts)


def test_check_definition_names_fields_and_positions():
    definition, compiled = check_definition("vip", {"expression": "user.orders >= 2"})
    assert definition == {"expression": "user.orders >= 2", "description": ""} and compiled.names == {"user.orders"}
    with pytest.raises(ValidationFailed) as err:
        check_definition("new", {"expression": "user.orders >", "description": 3})
    fields = {e.field: e.reason for e in err.value.errors}
    assert "built-in" in fields["name"] and "at position 13" in fields["expression"] and "description" in fields
    with pytest.raises(ValidationFailed):
        check_definition("vip", ["not", "an", "object"])


def test_membership_follows_the_state_and_the_store(stores):
    state = OnlineState()
    book = SegmentBook(lambda: state, stores.segments, stores.users)
    fold(state, [("ana", "purchase", 0.0, 30.0)])
    stores.segments.create("repeat", {"expression": "user.orders >= 2"})
    stores.segments.create("french", {"expression": "traits.country == 'FR'"})
    assert book.membership("ana") == ["new", "buyer"]
    fold(state, [("ana", "purchase", DAY, 30.0)])
    assert book.membership("ana") == ["new", "buyer", "repeat"]          # the next read sees the event
    stores.users.upsert([User(id="ana", traits={"country": "FR"})])
    assert book.membership("ana")[-2:] == ["french", "repeat"]           # rule segments by name
    stores.segments.delete("french")
    assert "french" not in book.membership("ana")                        # the store's token moved
    assert book.membership("nobody") == []


def test_lookup_reads_every_namespace(stores):
    state = OnlineState()
    book = SegmentBook(lambda: state, stores.segments, stores.users)
    fold(state, [("ana", "view", 0.0, None), ("ana", "purchase", 2 * DAY, 40.0)])
    get = book.lookup("ana", state.users["ana"], {"device": "mobile"})
    assert (get("user.orders"), get("user.revenue"), get("user.active_days"), get("user.recency")) == (1, 40.0, 2, 0.0)
    assert (get("user.tenure"), get("user.lifecycle"), get("events.view"), get("context.device")) == (2 * DAY, "new", 1,
                                                                                                     "mobile")
    assert get("rfm.recency") in range(1, 6) and get("traits.country") is None
    assert get("features.no_such_feature") is None
    assert "buyer" in get("user.segments")


def test_predictions_and_at_risk_predicted(stores):
    state = OnlineState()
    book = SegmentBook(lambda: state, stores.segments, stores.users)
    # 60 users: half come every day for 30 days, half came on 3 days and went quiet 40 days ago
    for u in range(30):
        fold(state, [(f"loyal{u}", "purchase", d * DAY, 20.0) for d in range(0, 60, 2)])
        fold(state, [(f"gone{u}", "purchase", d * DAY, 20.0) for d in (0, 5, 19)])
    assert book.models().fit_now() is not None
    loyal, gone = book.profile("loyal0", state.users["loyal0"]), book.profile("gone0", state.users["gone0"])
    assert loyal["churn_probability"] < 0.5 <= gone["churn_probability"]
    assert "at_risk_predicted" in gone["segments"] and "at_risk_predicted" not in loyal["segments"]
    assert gone["lifecycle"] == "churned" and loyal["lifecycle"] == "active"
    assert loyal["clv"] > gone["clv"] >= 0
    assert "at_risk_predicted" in BUILTIN
