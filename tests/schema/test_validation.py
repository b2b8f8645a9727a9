"""schema.validation: decoding request bodies all-or-nothing, every error naming its field."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import BUILTIN_EVENT_TYPES, Event, Item, User
from tastemaker.schema.registry import EventSchema, EventSchemaRegistry, PropertySpec
from tastemaker.schema.validation import (
    FUTURE_TOLERANCE_S,
    MAX_BATCH,
    InputLimits,
    check_free_form,
    decode_batch,
    decode_events,
    normalize_documents,
    normalize_events,
)

NOW = 1_704_164_645.0  # 2024-01-02T03:04:05Z
REGISTRY = EventSchemaRegistry()


def body(obj) -> bytes:
    return json.dumps(obj).encode()


def view(i: int = 0, **fields) -> dict:
    return {"id": f"e{i}", "type": "view", "user_id": "u1", "item_id": "i1", **fields}


def fields_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


# -- decode_batch ----------------------------------------------------------------------


def test_single_object_and_array():
    events, was_array = decode_batch(body(view()), Event)
    assert was_array is False and [e.id for e in events] == ["e0"]
    events, was_array = decode_batch(body([view(0), view(1)]), Event)
    assert was_array is True and [e.id for e in events] == ["e0", "e1"]


def test_single_object_can_be_refused():
    with pytest.raises(ValidationFailed, match="expected a JSON array"):
        decode_batch(body(view()), Item, allow_single=False)


@pytest.mark.parametrize("raw", [b"", b"   \n\t"])
def test_empty_body_is_400(raw):
    with pytest.raises(ValidationFailed) as info:
        decode_batch(raw, Event)
    assert info.value.status == 400
    assert fields_of(info) == [""]


def test_empty_array_is_refused():
    with pytest.raises(ValidationFailed, match="the batch is empty") as info:
        decode_batch(b"[]", Event)
    assert info.value.status == 422


def test_batch_limit_is_10000():
    assert MAX_BATCH == 10_000
    ok = body([view(i) for i in range(MAX_BATCH)])
    assert len(decode_batch(ok, Event)[0]) == MAX_BATCH
    with pytest.raises(ValidationFailed) as info:
        decode_batch(body([view(i) for i in range(MAX_BATCH + 1)]), Event)
    assert info.value.status == 413
    assert "at most 10000" in info.value.errors[0].reason


def test_errors_name_fields_as_json_pointers():
    events = [view(0), view(1), view(2), {**view(3), "value": "five"}]
    with pytest.raises(ValidationFailed) as info:
        decode_events(body(events), REGISTRY, now=NOW)
    assert fields_of(info) == ["/3/value"]
    assert info.value.status == 422


def test_unknown_fields_are_named():
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([view(0), {**view(1), "colour": "red"}]), REGISTRY, now=NOW)
    assert [e.to_dict() for e in info.value.errors] == [{"field": "/1/colour", "reason": "unknown field"}]
    with pytest.raises(ValidationFailed) as info:
        decode_events(body({**view(1), "colour": "red"}), REGISTRY, now=NOW)
    assert fields_of(info) == ["/colour"]


def test_nested_pointer():
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([view(0, item_ids=["a", 7])]), REGISTRY, now=NOW)
    assert fields_of(info) == ["/0/item_ids/1"]


def test_malformed_json_is_400():
    with pytest.raises(ValidationFailed) as info:
        decode_events(b'[{"id": "e0",', REGISTRY, now=NOW)
    assert info.value.status == 400


# -- normalize_events ------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    ["2024-01-02T03:04:05Z", "2024-01-02T04:04:05+01:00", "2024-01-02T03:04:05", NOW, int(NOW)],
)
def test_timestamps_are_normalised_to_epoch_seconds(ts):
    [event] = decode_events(body(view(timestamp=ts)), REGISTRY, now=NOW + 10)
    assert event.timestamp == NOW
    assert isinstance(event.timestamp, float)


def test_missing_timestamp_is_now():
    [event] = decode_events(body(view()), REGISTRY, now=NOW)
    assert event.timestamp == NOW


def test_historical_timestamps_are_accepted():
    [event] = decode_events(body(view(timestamp="1999-12-31T23:59:59Z")), REGISTRY, now=NOW)
    assert event.timestamp == 946_684_799.0


@pytest.mark.parametrize("ts", [-5, NOW * 1000, "1969-07-20T20:17:00Z", "soon"])
def test_bad_timestamps_are_named(ts):
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([view(0), view(1, timestamp=ts)]), REGISTRY, now=NOW)
    assert fields_of(info) == ["/1/timestamp"]


def test_more_than_a_day_in_the_future_is_refused():
    assert FUTURE_TOLERANCE_S == 86_400
    [ok] = decode_events(body(view(timestamp=NOW + 86_399)), REGISTRY, now=NOW)
    assert ok.timestamp == NOW + 86_399
    with pytest.raises(ValidationFailed, match="more than a day in the future") as info:
        decode_events(body([view(0, timestamp=NOW + 86_401)]), REGISTRY, now=NOW)
    assert fields_of(info) == ["/0/timestamp"]


def test_single_event_errors_have_no_index():
    with pytest.raises(ValidationFailed) as info:
        decode_events(body({"id": "e", "type": "rating", "user_id": "u", "item_id": "i"}), REGISTRY, now=NOW)
    assert fields_of(info) == ["/value"]


def test_schema_errors_of_every_event_are_listed():
    events = [view(0), {"id": "e1", "type": "search", "user_id": "u"}, {"id": "e2", "type": "rating", "user_id": "u", "item_id": "i"},
              {"id": "e3", "type": "nope", "user_id": "u"}]
    with pytest.raises(ValidationFailed) as info:
        decode_events(body(events), REGISTRY, now=NOW)
    assert fields_of(info) == ["/1/query", "/2/value", "/3/type"]
    assert info.value.title == "Invalid events"


def test_at_most_100_errors():
    events = [{"id": f"e{i}", "type": "rating", "user_id": "u", "item_id": "i"} for i in range(500)]
    with pytest.raises(ValidationFailed) as info:
        decode_events(body(events), REGISTRY, now=NOW)
    assert len(info.value.errors) == 100


def test_custom_schema_is_applied():
    registry = EventSchemaRegistry()
    registry.register(EventSchema(type="play", properties={"seconds": PropertySpec("integer", required=True)}))
    decode_events(body(view(type="play", properties={"seconds": 3})), registry, now=NOW)
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([view(type="play", properties={"seconds": "3"})]), registry, now=NOW)
    assert fields_of(info) == ["/0/properties/seconds"]


def test_normalize_events_without_array_pointer():
    events = [Event(id="e", type="search", user_id="u")]
    with pytest.raises(ValidationFailed) as info:
        normalize_events(events, REGISTRY, is_array=False, now=NOW)
    assert fields_of(info) == ["/query"]


# -- normalize_documents ---------------------------------------------------------------


def test_duplicate_ids_in_a_batch_are_named():
    docs = [Item(id="a"), Item(id="b"), Item(id="a")]
    with pytest.raises(ValidationFailed) as info:
        normalize_documents(docs)
    assert [e.to_dict() for e in info.value.errors] == [{"field": "/2/id", "reason": "'a' appears twice in the batch"}]
    with pytest.raises(ValidationFailed):
        normalize_documents([User(id="u"), User(id="u")])


def test_item_created_at_is_normalised_and_may_predate_1970():
    items = normalize_documents([Item(id="a", created_at="1931-05-01T00:00:00Z"), Item(id="b", created_at=5.0), Item(id="c")])
    assert [i.created_at for i in items] == [-1_220_400_000.0, 5.0, None]
    with pytest.raises(ValidationFailed) as info:
        normalize_documents([Item(id="a"), Item(id="b", created_at="last year")])
    assert fields_of(info) == ["/1/created_at"]


# -- property-based ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = list(Event.__struct_fields__) + ["colour", "", "item-id"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=4), as_array=st.booleans())
def test_arbitrary_field_values_only_ever_fail_validation(changes, as_array):
    event = {**view(), **changes}
    raw = body([event] if as_array else event)
    try:
        events = decode_events(raw, REGISTRY, now=NOW)
    except ValidationFailed as exc:
        assert exc.errors and exc.status in (400, 413, 422)
        for error in exc.errors:
            assert error.field == "" or error.field.startswith("/"), error
    else:
        assert len(events) == 1 and isinstance(events[0].timestamp, float)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_fail_validation(raw):
    try:
        decode_events(raw, REGISTRY, now=NOW)
    except ValidationFailed as exc:
        assert exc.errors


ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30)
contexts = st.dictionaries(st.sampled_from(["channel", "device", "locale", "geo", "referrer"]), st.text(max_size=10), max_size=3)


@st.composite
def valid_events(draw, index: int = 0) -> dict:
    type_ = draw(st.sampled_from(BUILTIN_EVENT_TYPES))
    event: dict = {"id": draw(ids), "type": type_, "user_id": draw(ids)}
    if type_ == "search":
        event["query"] = draw(st.text(max_size=50))
    else:
        if draw(st.booleans()):
            event["item_id"] = draw(ids)
        else:
            event["item_ids"] = draw(st.lists(ids, min_size=1, max_size=5))
    if type_ == "rating":  # on the default 0..5 scale
        event["value"] = draw(st.floats(0, 5, allow_nan=False))
    elif draw(st.booleans()):  # other types: any finite value within VALUE_LIMIT
        event["value"] = draw(st.floats(-1e9, 1e9, allow_nan=False))
    if draw(st.booleans()):
        event["session_id"] = draw(ids)
    if draw(st.booleans()):
        event["context"] = draw(contexts)
    if draw(st.booleans()):
        event["timestamp"] = draw(st.floats(0, NOW + 86_000, allow_nan=False))
    if draw(st.booleans()):
        event["recommendation_id"] = draw(ids)
    return event


@settings(max_examples=200, deadline=None)
@given(events=st.lists(valid_events(), min_size=1, max_size=5))
def test_valid_events_pass_and_round_trip(events):
    decoded = decode_events(body(events), REGISTRY, now=NOW)
    assert len(decoded) == len(events)
    for source, event in zip(events, decoded):
        assert event.timestamp == float(source.get("timestamp", NOW))
        assert msgspec.to_builtins(event) == {**source, "timestamp": event.timestamp}
    again = decode_events(msgspec.json.encode(decoded), REGISTRY, now=NOW + 1)
    assert again == decoded


# -- bounds on free-form JSON (issue 11) ----------------------------------------------


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_json_nested_beyond_the_decoders_stack_is_a_400(depth):
    raw = b'{"id":"e","type":"view","user_id":"u","item_id":"i","context":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ValidationFailed) as info:
        decode_events(raw, REGISTRY, now=NOW)
    assert info.value.status == 400 and info.value.title == "JSON nested too deeply"
    assert "nested more than" in info.value.errors[0].reason


def test_nesting_within_the_decoder_but_over_the_limit_names_the_field():
    event = {"id": "e", "type": "view", "user_id": "u", "item_id": "i", "properties": {"a": nested(40)}}
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([event]), REGISTRY, now=NOW)
    assert info.value.status == 400
    assert info.value.errors[0].field.startswith("/0/properties/a/0/k/")


def test_nesting_up_to_the_limit_is_accepted():
    event = {"id": "e", "type": "view", "user_id": "u", "item_id": "i", "context": nested(31)}
    assert decode_events(body(event), REGISTRY, now=NOW)[0].context == nested(31)


@pytest.mark.parametrize("field", ["context", "properties"])
def test_long_strings_in_event_free_form_fields_are_refused(field):
    limits = InputLimits(max_string_bytes=1000)
    event = {"id": "e", "type": "view", "user_id": "u", "item_id": "i", field: {"note": "x" * 1001}}
    with pytest.raises(ValidationFailed) as info:
        decode_events(body([event]), REGISTRY, now=NOW, limits=limits)
    assert info.value.status == 422
    assert [(e.field, e.reason) for e in info.value.errors] == [(f"/0/{field}/note", "string of 1001 bytes; at most 1000 bytes allowed")]
    event[field] = {"note": "x" * 1000}
    assert decode_events(body([event]), REGISTRY, now=NOW, limits=limits)


def test_strings_are_measured_in_utf8_bytes_and_keys_count():
    limits = InputLimits(max_string_bytes=8)
    assert check_free_form({"k": "é" * 4}, "", limits) == []  # 8 bytes
    assert [e.field for e in check_free_form({"k": "é" * 5}, "/p", limits)] == ["/p/k"]
    assert [e.field for e in check_free_form({"k" * 9: 1}, "/p", limits)] == ["/p"]
    assert [e.field for e in check_free_form({"a/b": ["x" * 9]}, "/p", limits)] == ["/p/a~1b/0"]


def test_a_record_over_the_document_limit_is_a_413_naming_the_largest_field():
    limits = InputLimits(max_string_bytes=1000, max_document_bytes=5000)
    event = {"id": "e", "type": "view", "user_id": "u", "item_id": "i",
             "context": {"a": "x"}, "properties": {f"p{k}": "y" * 900 for k in range(6)}}
    with pytest.raises(ValidationFailed) as info:
        decode_events(body(event), REGISTRY, now=NOW, limits=limits)
    assert info.value.status == 413 and info.value.errors[0].field == "/properties"
    assert "at most 5000 bytes per record" in info.value.errors[0].reason


@pytest.mark.parametrize("cls, field", [(Item, "properties"), (User, "traits")])
def test_documents_free_form_fields_are_bounded(cls, field):
    limits = InputLimits(max_string_bytes=100)
    doc = msgspec.convert({"id": "d", field: {"bio": "z" * 101}}, cls)
    with pytest.raises(ValidationFailed) as info:
        normalize_documents([doc], limits=limits)
    assert info.value.errors[0].field == f"/0/{field}/bio"
