"""ranking.outcomes: the one join of outcomes to impressions (ranker labels and experiment
metrics both use it): by recommendation_id, else user and item within the window."""

from __future__ import annotations

from dataclasses import dataclass

from tastemaker.ranking.outcomes import Outcome, attribute, linked_recommendation_id, outcomes_from_event
from tastemaker.schema.records import Event


@dataclass
class Shown:
    recommendation_id: str
    user_id: str
    ts: float
    items: list[str]


SHOWN = [Shown("r1", "u", 100.0, ["a", "b"]), Shown("r2", "u", 200.0, ["b", "c"]), Shown("r3", "v", 150.0, ["a"])]


def joined(outcomes, window_s=50.0):
    return [(imp.recommendation_id, o.item_id, o.ts) for imp, o in attribute(SHOWN, outcomes, window_s)]


def test_linked_outcomes_join_their_list_inside_the_window_edges_included():
    outs = [Outcome("u", "a", "click", 100.0, "r1"),   # at the impression: counts
            Outcome("u", "b", "click", 150.0, "r1"),   # at the window's end: counts
            Outcome("u", "b", "click", 150.001, "r1"),  # just after: not attributed
            Outcome("u", "a", "click", 99.999, "r1"),  # just before its list: not attributed
            Outcome("u", "c", "click", 120.0, "r1")]   # an item the list did not show
    assert joined(outs) == [("r1", "a", 100.0), ("r1", "b", 150.0)]


def test_unlinked_outcomes_go_to_the_latest_earlier_impression_of_user_and_item():
    outs = [Outcome("u", "b", "click", 210.0),  # r1 and r2 showed b: the latest earlier is r2
            Outcome("u", "b", "click", 130.0),  # only r1 was before it
            Outcome("u", "a", "click", 260.0),  # r1 showed a, but 160 s ago: outside the window
            Outcome("u", "a", "click", 50.0),   # before any impression of u: never attributed
            Outcome("w", "a", "click", 160.0),  # another user's impressions do not count
            Outcome("v", "a", "click", 150.0)]  # v's own list at the same second
    assert joined(outs) == [("r2", "b", 210.0), ("r1", "b", 130.0), ("r3", "a", 150.0)]


def test_an_unknown_recommendation_id_falls_back_to_user_and_item_unless_told_not_to():
    assert joined([Outcome("u", "c", "click", 205.0, "gone")]) == [("r2", "c", 205.0)]
    assert list(attribute(SHOWN, [Outcome("u", "c", "click", 205.0, "gone")], 50.0, unknown_falls_back=False)) == []
    unlinked = Outcome("u", "c", "click", 205.0)
    assert [i.recommendation_id for i, _ in attribute(SHOWN, [unlinked], 50.0, unknown_falls_back=False)] == ["r2"]


def test_events_become_outcomes_with_their_link_value_and_price():
    e = Event(id="e1", type="purchase", user_id="u", item_ids=["a", "b"], value=30.0, timestamp=5.0,
              session_id="s", context={"recommendation_id": "r9"}, properties={"price": 12.5})
    outs = outcomes_from_event(e)
    assert [(o.item_id, o.recommendation_id, o.value, o.price, o.session_id) for o in outs] == [
        ("a", "r9", 15.0, 12.5, "s"), ("b", "r9", 15.0, 12.5, "s")]  # the value split over its items
    assert linked_recommendation_id(Event(id="e", type="click", user_id="u", recommendation_id="r1",
                                          context={"recommendation_id": "r2"})) == "r1"
    assert linked_recommendation_id(Event(id="e", type="click", user_id="u", context={"recommendation_id": 3})) is None
    assert outcomes_from_event(Event(id="e", type="view", user_id="u", item_id="a", timestamp=1.0)) == []
