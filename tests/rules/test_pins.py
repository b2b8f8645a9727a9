"""rules.pins: positions, collisions, pins beyond the end."""

from __future__ import annotations

import pytest

from tastemaker.rules.pins import Pin, place_pins, resolve_slots


def test_pin_moves_an_item_up_or_down():
    assert place_pins([1, 2, 3, 4], [(4, 1)]) == [4, 1, 2, 3]
    assert place_pins([1, 2, 3, 4], [(1, 3)]) == [2, 3, 1, 4]
    assert place_pins([1, 2, 3], []) == [1, 2, 3]


def test_collisions_first_declared_wins():
    assert resolve_slots([2, 2, 2]) == [1, 2, 3]
    assert place_pins([1, 2, 3, 4, 5], [(5, 2), (4, 2)]) == [1, 5, 4, 2, 3]


def test_beyond_the_end_and_new_items():
    assert place_pins([1, 2], [(9, 10)]) == [1, 2, 9]
    assert place_pins([1, 2], [(9, 1), (8, 10)]) == [9, 1, 2, 8]


def test_pin_validation_and_names():
    assert Pin("sku", 2).name == "pin:sku@2"
    assert Pin("sku", 2, name="xmas").name == "xmas"
    with pytest.raises(ValueError):
        Pin("sku", 0)
