"""schema.errors: msgspec failures become field errors named by JSON pointers."""

from __future__ import annotations

import msgspec
import pytest

from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec, msgspec_path_to_pointer
from tastemaker.schema.records import Event


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        ("$", ""),
        ("$[3]", "/3"),
        ("$[3].value", "/3/value"),
        ("$[0].context.geo", "/0/context/geo"),
        ("$.item_ids[12]", "/item_ids/12"),
        ("$.add_to-cart", "/add_to-cart"),
    ],
)
def test_msgspec_path_to_pointer(path, pointer):
    assert msgspec_path_to_pointer(path) == pointer


def _error(body: bytes, cls=list[Event]) -> ValidationFailed:
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)) as info:
        msgspec.json.decode(body, type=cls)
    return from_msgspec(info.value)


def test_type_error_names_the_field_inside_the_batch():
    failed = _error(b'[{"id":"a","type":"view","user_id":"u"},{"id":"b","type":"view","user_id":"u","value":"x"}]')
    assert [e.field for e in failed.errors] == ["/1/value"]
    assert "str" in failed.errors[0].reason
    assert failed.status == 422


def test_unknown_field_is_named_itself_not_its_object():
    failed = _error(b'[{"id":"a","type":"view","user_id":"u","colour":"red"}]')
    assert failed.errors == [FieldError("/0/colour", "unknown field")]


def test_unknown_field_of_a_single_top_level_object_is_named():
    failed = _error(b'{"id":"a","type":"view","user_id":"u","colour":"red"}', Event)
    assert failed.errors == [FieldError("/colour", "unknown field")]


def test_missing_required_field_is_named():
    assert [e.field for e in _error(b'[{"type":"view","user_id":"u"}]').errors] == ["/0/id"]
    assert [e.field for e in _error(b'{"id":"a","type":"view"}', Event).errors] == ["/user_id"]


def test_prefix_is_prepended():
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.json.decode(b'{"id":"a","type":"view","user_id":"u","value":"x"}', type=Event)
    assert from_msgspec(info.value, prefix="row 7").errors[0].field == "row 7/value"


def test_malformed_json_is_a_400():
    failed = _error(b'[{"id": ')
    assert failed.status == 400
    assert failed.title == "Malformed JSON"
    assert failed.errors[0].field == ""
    assert failed.errors[0].reason.startswith("malformed JSON")


def test_str_lists_every_error_and_root_as_slash():
    failed = ValidationFailed([FieldError("/0/value", "bad"), FieldError("", "empty")])
    assert str(failed) == "/0/value: bad; /: empty"
    assert FieldError("/a", "b").to_dict() == {"field": "/a", "reason": "b"}


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (b'[{"id": "a",,}]', "line 1, column 13 (byte 12)", "object keys must be strings"),
        (b'[\n  {"id": "a",\n   "type": vew}\n]', "line 3, column 12 (byte 27)", "invalid character"),
    ],
)
def test_malformed_json_says_where_and_what(body, where, what):
    with pytest.raises(msgspec.DecodeError) as info:
        msgspec.json.decode(body, type=list[Event])
    reason = from_msgspec(info.value, body=body).errors[0].reason
    assert reason.startswith(f"malformed JSON at {where}: {what}"), reason
    assert "JSON is malformed" not in reason


def test_truncated_json_says_the_body_ends_early():
    reason = _error(b'[{"id": "a"').errors[0].reason
    assert reason == "malformed JSON: the body ends before the JSON value does (a missing closing bracket or quote?)"
