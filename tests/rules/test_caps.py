"""rules.caps: the per-group rank in display order."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.rules.caps import Cap, over_cap


def test_over_cap_counts_in_display_order():
    labels = np.array(["x", "y", "x", "x", "y", "x", None, None, None], dtype=object)
    assert over_cap(labels, 2).tolist() == [False, False, False, True, False, True, False, False, False]
    assert over_cap(labels, 1).tolist() == [False, False, True, True, True, True, False, False, False]
    assert over_cap(labels[:2], 5).tolist() == [False, False]
    assert over_cap(np.array([], dtype=object), 1).tolist() == []


def test_cap_validation():
    assert Cap("brand", 2).name == "cap:brand<=2"
    with pytest.raises(ValueError):
        Cap("colour", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Cap("brand", 0)
