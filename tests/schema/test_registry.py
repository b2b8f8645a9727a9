"""schema.registry: built-in schemas, custom types, compatible evolution only."""

from __future__ import annotations

import pytest

from tastemaker.schema.errors import FieldError
from tastemaker.schema.records import BUILTIN_EVENT_TYPES, Event
from tastemaker.schema.registry import (
    EventSchema,
    EventSchemaRegistry,
    PropertySpec,
    SchemaConflict,
    breaking_changes,
    builtin_schemas,
)


def ev(type_: str = "view", **fields) -> Event:
    return Event(id="e1", type=type_, user_id="u1", **fields)


@pytest.fixture
def registry() -> EventSchemaRegistry:
    return EventSchemaRegistry()


# -- built-in schemas ------------------------------------------------------------------


def test_every_builtin_type_has_version_1(registry):
    assert {s.type for s in builtin_schemas()} == set(BUILTIN_EVENT_TYPES)
    for t in BUILTIN_EVENT_TYPES:
        assert [s.version for s in registry.versions(t)] == [1]
    assert {s.type for s in registry.all_latest()} == set(BUILTIN_EVENT_TYPES)


def test_rating_requires_item_and_value(registry):
    assert registry.check(ev("rating", item_id="i"), "/0") == [FieldError("/0/value", "a 'rating' event requires value")]
    assert [e.field for e in registry.check(ev("rating"), "/0")] == ["/0/item_id", "/0/value"]
    assert registry.check(ev("rating", item_id="i", value=4.0), "/0") == []


def test_search_requires_query_but_no_item(registry):
    assert registry.check(ev("search"), "") == [FieldError("/query", "a 'search' event requires query")]
    assert registry.check(ev("search", query="red shoes"), "") == []


@pytest.mark.parametrize("type_", ["view", "click", "add_to_cart", "purchase", "like", "dislike", "share", "impression", "feedback"])
def test_item_events_require_an_item(registry, type_):
    assert registry.check(ev(type_), "/2") == [FieldError("/2/item_id", f"a '{type_}' event requires item_id")]
    assert registry.check(ev(type_, item_id="i"), "/2") == []
    assert registry.check(ev(type_, item_ids=["i", "j"]), "/2") == []


def test_empty_item_ids_do_not_count_as_an_item(registry):
    assert [e.field for e in registry.check(ev("view", item_ids=[]), "")] == ["/item_id"]


# -- custom types ----------------------------------------------------------------------


def test_custom_type_must_be_registered(registry):
    errors = registry.check(ev("wishlist", item_id="i"), "/4")
    assert [e.field for e in errors] == ["/4/type"]
    assert "unknown event type 'wishlist'" in errors[0].reason
    registry.register(EventSchema(type="wishlist", requires=["item"]))
    assert registry.check(ev("wishlist", item_id="i"), "/4") == []
    assert [e.field for e in registry.check(ev("wishlist"), "/4")] == ["/4/item_id"]


def test_first_version_of_a_custom_type_must_be_1(registry):
    with pytest.raises(SchemaConflict, match="must be 1"):
        registry.register(EventSchema(type="wishlist", version=2))
    assert registry.latest("wishlist") is None


def test_a_new_type_may_require_anything(registry):
    schema = EventSchema(type="checkout", requires=["item", "value", "session_id"],
                         properties={"coupon": PropertySpec("string", required=True)})
    assert registry.register(schema) is schema
    errors = registry.check(ev("checkout"), "")
    assert [e.field for e in errors] == ["/item_id", "/value", "/session_id", "/properties/coupon"]


def test_property_types_are_checked(registry):
    registry.register(EventSchema(type="play", properties={
        "seconds": PropertySpec("integer"), "ratio": PropertySpec("number"), "hd": PropertySpec("boolean"),
        "tags": PropertySpec("array"), "meta": PropertySpec("object"), "codec": PropertySpec("string"),
    }))
    good = {"seconds": 3, "ratio": 0.5, "hd": True, "tags": [], "meta": {}, "codec": "h264"}
    assert registry.check(ev("play", properties=good), "") == []
    assert registry.check(ev("play", properties={"ratio": 2}), "") == []  # an integer is a number
    bad = {"seconds": 3.5, "ratio": "x", "hd": 1, "tags": {}, "meta": [], "codec": 5}
    errors = registry.check(ev("play", properties=bad), "")
    assert sorted(e.field for e in errors) == sorted(f"/properties/{k}" for k in bad)
    # booleans are not numbers, even though bool is a subclass of int in Python
    assert [e.field for e in registry.check(ev("play", properties={"seconds": True, "ratio": False}), "")] == [
        "/properties/seconds", "/properties/ratio",
    ]


def test_value_range_is_checked(registry):
    registry.register(EventSchema(type="stars", value_min=1.0, value_max=5.0))
    assert registry.check(ev("stars", value=1.0), "") == []
    assert registry.check(ev("stars", value=5.0), "") == []
    assert registry.check(ev("stars", value=0.5), "") == [FieldError("/value", "must be >= 1 ('stars' values range from 1 to 5)")]
    assert registry.check(ev("stars", value=5.5), "") == [FieldError("/value", "must be <= 5 ('stars' values range from 1 to 5)")]


# -- evolution -------------------------------------------------------------------------


@pytest.fixture
def play(registry) -> EventSchemaRegistry:
    registry.register(EventSchema(
        type="play", requires=["item"], value_min=0, value_max=10,
        properties={"seconds": PropertySpec("integer"), "codec": PropertySpec("string")},
    ))
    return registry


def test_adding_an_optional_property_is_compatible(play):
    v2 = EventSchema(type="play", version=2, requires=["item"], value_min=0, value_max=10,
                     properties={"seconds": PropertySpec("integer"), "codec": PropertySpec("string"), "hd": PropertySpec("boolean")})
    play.register(v2)
    assert play.latest("play") is v2
    assert [s.version for s in play.versions("play")] == [1, 2]


def test_widening_the_value_range_and_dropping_requirements_is_compatible(play):
    v2 = EventSchema(type="play", version=2, requires=[], value_min=None, value_max=100,
                     properties={"seconds": PropertySpec("integer"), "codec": PropertySpec("string")})
    assert breaking_changes(play.latest("play"), v2) == []
    play.register(v2)
    assert play.check(ev("play", value=50.0), "") == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": 3}, "must be 2, got 3"),
        ({"version": 1}, "must be 2, got 1"),
        ({"requires": ["item", "value"]}, "requires: 'value' is newly required"),
        ({"properties": {"seconds": PropertySpec("integer"), "codec": PropertySpec("string"), "hd": PropertySpec("boolean", required=True)}},
         "properties.hd: a new property cannot be required"),
        ({"properties": {"seconds": PropertySpec("number"), "codec": PropertySpec("string")}},
         "properties.seconds: type changed from integer to number"),
        ({"properties": {"seconds": PropertySpec("integer", required=True), "codec": PropertySpec("string")}},
         "properties.seconds: optional property became required"),
        ({"value_min": 1}, "value_min: the allowed value range was narrowed"),
        ({"value_max": 9}, "value_max: the allowed value range was narrowed"),
    ],
)
def test_breaking_changes_are_refused_with_reasons(play, change, reason):
    fields = dict(type="play", version=2, requires=["item"], value_min=0, value_max=10,
                  properties={"seconds": PropertySpec("integer"), "codec": PropertySpec("string")})
    fields.update(change)
    with pytest.raises(SchemaConflict) as info:
        play.register(EventSchema(**fields))
    assert any(reason in r for r in info.value.reasons), info.value.reasons
    assert [s.version for s in play.versions("play")] == [1]  # nothing registered


def test_adding_a_bound_where_none_was_narrows_the_range(registry):
    registry.register(EventSchema(type="tip"))
    reasons = breaking_changes(registry.latest("tip"), EventSchema(type="tip", version=2, value_min=0, value_max=100))
    assert reasons == ["value_min: the allowed value range was narrowed", "value_max: the allowed value range was narrowed"]


def test_every_reason_is_listed_at_once(play):
    bad = EventSchema(type="play", version=5, requires=["item", "query"],
                      properties={"seconds": PropertySpec("string"), "codec": PropertySpec("string", required=True)})
    with pytest.raises(SchemaConflict) as info:
        play.register(bad)
    assert len(info.value.reasons) == 4
    assert str(info.value) == "; ".join(info.value.reasons)


def test_builtin_types_evolve_by_the_same_rules(registry):
    registry.register(EventSchema(type="view", version=2, requires=["item"], properties={"dwell_ms": PropertySpec("integer")}))
    with pytest.raises(SchemaConflict, match="'query' is newly required"):
        registry.register(EventSchema(type="view", version=3, requires=["item", "query"]))


# -- schema_version selection ------------------------------------------------------------


def test_schema_version_selects_the_version_to_check_against(play):
    play.register(EventSchema(type="play", version=2, requires=["item"], value_min=0, value_max=10,
                              properties={"seconds": PropertySpec("integer"), "codec": PropertySpec("string"), "hd": PropertySpec("boolean")}))
    event_v1 = ev("play", item_id="i", properties={"hd": "yes"}, schema_version=1)
    assert play.check(event_v1, "") == []  # v1 does not know "hd"
    event_v2 = ev("play", item_id="i", properties={"hd": "yes"}, schema_version=2)
    assert [e.field for e in play.check(event_v2, "")] == ["/properties/hd"]
    latest = ev("play", item_id="i", properties={"hd": "yes"})
    assert [e.field for e in play.check(latest, "")] == ["/properties/hd"]


def test_unknown_schema_version_is_named(play):
    errors = play.check(ev("play", item_id="i", schema_version=7), "/1")
    assert errors == [FieldError("/1/schema_version", "'play' has no schema version 7")]


def test_registry_is_rebuilt_from_stored_schemas_in_version_order():
    v1 = EventSchema(type="play", requires=["item"])
    v2 = EventSchema(type="play", version=2, requires=["item"], properties={"hd": PropertySpec("boolean")})
    view2 = EventSchema(type="view", version=2, requires=["item"])
    registry = EventSchemaRegistry([v2, view2, v1])
    assert [s.version for s in registry.versions("play")] == [1, 2]
    assert registry.latest("play") == v2
    assert [s.version for s in registry.versions("view")] == [1, 2]
    assert registry.versions("nothing") == [] and registry.latest("nothing") is None


# -- errors that say how to fix them (issue 11) -----------------------------------------


def test_misspelt_type_names_the_closest_the_known_ones_and_where_to_register(registry):
    (error,) = registry.check(ev("veiw", item_id="i"), "/0")
    assert error.field == "/0/type"
    assert "unknown event type 'veiw'" in error.reason
    assert "did you mean 'view'?" in error.reason
    assert all(t in error.reason for t in BUILTIN_EVENT_TYPES)
    assert "POST /v1/event-schemas" in error.reason


@pytest.mark.parametrize("given, hint", [("View", "view"), ("ADD_TO_CART", "add_to_cart"), ("Rating", "rating")])
def test_mis_cased_type_gets_a_case_hint_not_a_regex(registry, given, hint):
    (error,) = registry.check(ev(given, item_id="i", value=4.0), "")
    assert error.reason.startswith(f"event types are lower case: did you mean '{hint}'?")
    assert "^[a-z]" not in error.reason


def test_malformed_type_says_what_a_type_looks_like(registry):
    (error,) = registry.check(ev("1view", item_id="i"), "")
    assert "'1view' is not a valid event type" in error.reason
    assert "did you mean 'view'?" in error.reason and "POST /v1/event-schemas" in error.reason


def test_custom_types_are_among_the_suggestions(registry):
    registry.register(EventSchema(type="wishlist_add", requires=["item"]))
    (error,) = registry.check(ev("wishlist_ad", item_id="i"), "")
    assert "did you mean 'wishlist_add'?" in error.reason


def test_rating_values_follow_the_default_scale(registry):
    assert registry.check(ev("rating", item_id="i", value=0.0), "") == []
    assert registry.check(ev("rating", item_id="i", value=5.0), "") == []
    (error,) = registry.check(ev("rating", item_id="i", value=11.0), "/2")
    assert error == FieldError("/2/value", "must be <= 5 ('rating' values range from 0 to 5)")
    assert registry.check(ev("rating", item_id="i", value=-1.0), "")[0].reason.startswith("must be >= 0")


def test_rating_scale_is_configurable():
    registry = EventSchemaRegistry(rating_scale=(1.0, 10.0))
    assert registry.check(ev("rating", item_id="i", value=10.0), "") == []
    assert registry.check(ev("rating", item_id="i", value=0.5), "")[0].reason == "must be >= 1 ('rating' values range from 1 to 10)"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_values_are_refused_for_every_type(registry, value):
    for type_ in ("view", "rating", "purchase"):
        errors = registry.check(ev(type_, item_id="i", value=value), "")
        assert errors == [FieldError("/value", "must be a finite number")], type_


def test_values_of_unranged_types_stay_within_the_sane_limit(registry):
    assert registry.check(ev("purchase", item_id="i", value=1e12), "") == []
    (error,) = registry.check(ev("purchase", item_id="i", value=1e308), "")
    assert error.field == "/value" and "between -1e+12 and 1e+12" in error.reason and "value_max" in error.reason


@pytest.mark.parametrize("fields, field", [({"value_min": float("inf")}, "/value_min"),
                                           ({"value_max": float("nan")}, "/value_max"),
                                           ({"value_min": 5.0, "value_max": 1.0}, "/value_min")])
def test_a_schema_range_must_be_finite_and_non_empty(registry, fields, field):
    from tastemaker.schema.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        registry.register(EventSchema(type="stars", **fields))
    assert info.value.errors[0].field == field and info.value.status == 422
    assert registry.latest("stars") is None
