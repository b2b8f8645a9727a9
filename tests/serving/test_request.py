"""serving.request: recommendation requests from query parameters, errors naming the parameter."""

from __future__ import annotations

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.fields import ITEM_FIELD_NAMES
from tastemaker.serving.request import CONTEXT_FIELDS, MAX_N, PARAMETERS, RecommendationRequest, parse_request


def test_defaults():
    assert parse_request({"user_id": "u1"}) == RecommendationRequest(user_id="u1")
    request = parse_request({"user_id": "u1"})
    assert (request.placement, request.n, request.explain, request.include_purchased) == ("home", 10, False, False)


def test_everything():
    request = parse_request({
        "user_id": "u1", "placement": "cart", "n": "25", "exclude": "a,,b", "category": "shoes", "brand": "acme",
        "item_id": "i9", "explain": "true", "include_purchased": "1", "device": "mobile", "geo": "DE", "locale": "",
        "fields": "title, price,properties.image",
    })
    assert request == RecommendationRequest(
        user_id="u1", placement="cart", n=25, exclude=frozenset({"a", "b"}), category="shoes", brand="acme",
        item_id="i9", explain=True, include_purchased=True, context={"device": "mobile", "geo": "DE"},
        fields=("title", "price", "properties.image"),
    )


def test_an_unknown_parameter_is_named_with_the_closest_known_one():
    with pytest.raises(ValidationFailed) as info:
        parse_request({"userid": "alice"})
    errors = {e.field: e.reason for e in info.value.errors}
    assert set(errors) == {"userid", "user_id"}  # the typo, and what it left missing
    assert errors["userid"].startswith("unknown parameter: did you mean 'user_id'?")
    assert all(p in errors["userid"] for p in PARAMETERS) and "override.KEY" in errors["userid"]
    assert info.value.status == 400


def test_every_unknown_parameter_is_reported_and_a_far_one_gets_no_guess():
    with pytest.raises(ValidationFailed) as info:
        parse_request({"user_id": "u", "Placement": "home", "zzzzzz": "1", "ovveride.n": "3"})
    errors = {e.field: e.reason for e in info.value.errors}
    assert set(errors) == {"Placement", "zzzzzz", "ovveride.n"}
    assert "did you mean 'placement'?" in errors["Placement"]
    assert "did you mean" not in errors["zzzzzz"]


def test_context_fields_and_overrides_are_parameters():
    request = parse_request({"user_id": "u", **{c: "x" for c in CONTEXT_FIELDS}, "override.diversity": "0.3"})
    assert request.context == {c: "x" for c in CONTEXT_FIELDS} and request.overrides == {"diversity": "0.3"}


def test_unknown_fields_are_named_with_the_known_ones():
    with pytest.raises(ValidationFailed) as info:
        parse_request({"user_id": "u", "fields": "title,imgae,cost,properties."})
    (error,) = info.value.errors
    assert error.field == "fields"
    assert "'imgae'" in error.reason and "'cost'" in error.reason and "'properties.'" in error.reason
    assert all(f in error.reason for f in ITEM_FIELD_NAMES) and "properties.NAME" in error.reason
    with pytest.raises(ValidationFailed, match="names no field"):
        parse_request({"user_id": "u", "fields": " , "})
    with pytest.raises(ValidationFailed, match="did you mean 'title'"):
        parse_request({"user_id": "u", "fields": "titel"})


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("TRUE", True), ("yes", True),
                                             ("0", False), ("false", False), ("no", False), ("", False)])
def test_booleans(raw, value):
    assert parse_request({"user_id": "u", "explain": raw}).explain is value


def errors(params) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        parse_request(params)
    assert info.value.status == 400
    return {e.field: e.reason for e in info.value.errors}


@pytest.mark.parametrize("n", ["0", "-1", str(MAX_N + 1), "1e3", "ten", ""])
def test_n_out_of_range_or_not_a_number(n):
    assert list(errors({"user_id": "u", "n": n})) == ["n"]


def test_n_bounds_are_inclusive():
    assert parse_request({"user_id": "u", "n": "1"}).n == 1
    assert parse_request({"user_id": "u", "n": str(MAX_N)}).n == MAX_N == 500


@pytest.mark.parametrize("name", ["explain", "include_purchased"])
def test_bad_booleans_name_the_parameter(name):
    assert errors({"user_id": "u", name: "maybe"}) == {name: "must be true or false"}


@pytest.mark.parametrize("params", [{}, {"user_id": ""}, {"user_id": "x" * 257}])
def test_missing_user_id(params):
    assert list(errors(params)) == ["user_id"]


def test_all_errors_at_once():
    assert sorted(errors({"n": "0", "explain": "?", "include_purchased": "?"})) == ["explain", "include_purchased", "n", "user_id"]


def test_overrides_are_collected_from_override_parameters():
    request = parse_request({"user_id": "u", "override.diversity": "0.4", "override.price": "10..50", "device": "x"})
    assert request.overrides == {"diversity": "0.4", "price": "10..50"}
    assert parse_request({"user_id": "u"}).overrides == {}
    assert errors({"user_id": "u", "override.": "1"}) == {"override.": "names no setting (override.KEY=VALUE)"}


def test_a_request_without_n_leaves_it_to_the_placement():
    assert parse_request({"user_id": "u"}).default_n is True
    assert parse_request({"user_id": "u", "n": "10"}).default_n is False
    assert RecommendationRequest(user_id="u", n=3).default_n is False  # built in code: n is meant
