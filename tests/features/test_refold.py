"""Refolding the features from the log when their definitions change."""

from __future__ import annotations

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.refold import ensure_definitions
from tastemaker.features.registry import FeatureRegistry
from tastemaker.features.state import OnlineState

T0 = 1_700_000_000.0


def test_a_new_definition_sees_the_events_logged_before_it():
    rows = [(i, "view", "u", None, "a", None, None, T0 + i, b'{"scroll": 2}') for i in range(1, 6)]
    state = OnlineState()
    for row in rows:
        state.apply_row(row, lambda b: [], lambda b: {"scroll": 2})
    mine = FeatureDefinition("scroll_1m", "user", "sum", 60.0, value="context.scroll")
    definitions = FeatureRegistry([mine]).definitions

    def read_rows(after: int, limit: int) -> list[tuple]:
        return [r for r in rows if r[0] > after][:limit]

    assert ensure_definitions(state, read_rows, definitions) is True
    assert state.features.features_for("user", "u", T0 + 5)["scroll_1m"] == 10.0
    assert state.config.features == definitions
    assert ensure_definitions(state, read_rows, definitions) is False  # already folded
    state.erasing.add("u")
    ensure_definitions(state, read_rows, FeatureRegistry().definitions)
    assert state.features.features_for("user", "u") is None  # a user being erased is skipped
