"""schema.timestamps: ISO 8601 (Z, offset, naive = UTC) and epoch seconds, with range checks."""

from __future__ import annotations

import math

import pytest

from tastemaker.schema.timestamps import YEAR_ONE, parse_timestamp

T = 1_704_164_645.0  # 2024-01-02T03:04:05Z


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05z",
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T04:04:05+01:00",
        "2024-01-01T22:04:05-05:00",
        "2024-01-02T03:04:05",  # naive: UTC
        "  2024-01-02T03:04:05Z ",
        T,
        int(T),
    ],
)
def test_known_answers(value):
    assert parse_timestamp(value) == T


def test_fractional_seconds_survive():
    assert parse_timestamp("2024-01-02T03:04:05.250Z") == T + 0.25
    assert parse_timestamp(T + 0.5) == T + 0.5


def test_epoch_zero_and_year_2200_are_the_bounds():
    assert parse_timestamp(0) == 0.0
    assert parse_timestamp(7_258_118_400) == 7_258_118_400.0
    with pytest.raises(ValueError, match="between 1970 and 2200"):
        parse_timestamp(7_258_118_401)


@pytest.mark.parametrize("value", [-1, T * 1000, math.inf, -math.inf, math.nan, "1969-12-31T23:59:59Z", "2300-01-01T00:00:00Z"])
def test_out_of_range_is_refused_with_a_hint(value):
    with pytest.raises(ValueError, match="milliseconds sent by mistake"):
        parse_timestamp(value)


@pytest.mark.parametrize("value", ["yesterday", "", "2024-13-01T00:00:00Z", "1704164645", "2024-01-02 03:04:05 UTC"])
def test_not_iso_is_refused_naming_the_value(value):
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        parse_timestamp(value)


def test_year_one_lower_bound_allows_old_items():
    assert parse_timestamp("1931-05-01T00:00:00Z", min_epoch=YEAR_ONE) == -1_220_400_000.0  # 14,125 days before 1970
    with pytest.raises(ValueError, match="between year 1 and 2200"):
        parse_timestamp(YEAR_ONE - 1, min_epoch=YEAR_ONE)
