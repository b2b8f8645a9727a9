"""The feature document: parsing, every error with its position, round trip."""

from __future__ import annotations

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.feature_config import features_from, load_features, to_document

DOC = """features:
  - name: item_add_rate_1h
    entity: item
    aggregation: ratio
    window: 1h
    types: add_to_cart
    denominator_types: [view]
  - name: cat_trend_5m
    entity: category
    aggregation: trend
    window: 5m
    long_window: 1d
    min_count: 3
"""


def test_parse_and_round_trip():
    defs = load_features(DOC)
    assert [(d.name, d.window_s) for d in defs] == [("item_add_rate_1h", 3600.0), ("cat_trend_5m", 300.0)]
    assert defs[0].types == frozenset({"add_to_cart"}) and defs[1].long_window_s == 86_400.0
    assert features_from(to_document(defs)) == defs


@pytest.mark.parametrize("text, field, fragment", [
    ("features:\n  - {name: a, entity: user, aggregation: count, window: soon}\n", "/features/0/window", "line 2"),
    ("features:\n  - {name: a, entity: user, aggregation: count, window: 1m, colour: red}\n", "/features/0/colour",
     "unknown field"),
    ("features:\n  - {name: a, entity: user, aggregation: trend, window: 1h, long_window: 1m}\n",
     "/features/0/long_window", "longer than window_s"),
    ("features:\n  - {name: a, entity: user, aggregation: sum, window: 1m}\n", "/features/0", "value: sum needs"),
    ("features:\n  - {entity: user, aggregation: count, window: 1m}\n", "/features/0/name", "required"),
    ("features:\n  - {name: a, entity: user, aggregation: count, window: 1m, buckets: 2.5}\n", "/features/0/buckets",
     "integer"),
    ("features: 3\n", "/features", "must be a list"),
    ("other: []\n", "", "one key"),
])
def test_errors_name_the_field_and_position(text, field, fragment):
    with pytest.raises(ValidationFailed) as info:
        load_features(text)
    errors = {e.field: e.reason for e in info.value.errors}
    assert field in errors and fragment in errors[field], errors


def test_duplicate_and_builtin_names_are_refused():
    text = ("features:\n  - {name: a, entity: user, aggregation: count, window: 1m}\n"
            "  - {name: a, entity: user, aggregation: count, window: 2m}\n"
            "  - {name: user_views_1h, entity: user, aggregation: count, window: 1m}\n")
    with pytest.raises(ValidationFailed) as info:
        load_features(text)
    assert [e.field for e in info.value.errors] == ["/features/1/name", "/features/2/name"]
