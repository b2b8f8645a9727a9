"""Timestamps arrive as epoch seconds or ISO 8601 and are stored as epoch seconds (float)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

# Epoch seconds before 1970 or after 2200 are almost always milliseconds sent by mistake.
_MIN_EPOCH = 0.0
_MAX_EPOCH = 7_258_118_400.0  # 2200-01-01
YEAR_ONE = -62_135_596_800.0  # items may be older than the epoch (a 1931 film)


def parse_timestamp(value: float | str, min_epoch: float = _MIN_EPOCH) -> float:
    """Return epoch seconds or raise ``ValueError`` with a reason a user can act on.

    >>> parse_timestamp("2024-01-02T03:04:05Z")
    1704164645.0
    >>> parse_timestamp(1704164645)
    1704164645.0
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        seconds = parsed.timestamp()
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not min_epoch <= seconds <= _MAX_EPOCH:
        first = "1970" if min_epoch == _MIN_EPOCH else "year 1"
        raise ValueError(f"timestamp must be epoch seconds between {first} and 2200 (milliseconds sent by mistake?)")
    return seconds
