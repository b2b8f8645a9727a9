"""rules.margin: the relevance/margin trade-off."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.rules.margin import MarginBlend


def test_weight_zero_keeps_relevance_and_one_sorts_by_margin():
    scores, margins = np.array([3.0, 2.0, 1.0]), np.array([0.1, np.nan, 0.5])
    assert MarginBlend(0.0).blend(scores, margins) is scores
    out = MarginBlend(1.0).blend(scores, margins)
    assert np.argsort(-out).tolist() == [2, 0, 1]


def test_trade_off_moves_the_order_gradually():
    scores, margins = np.array([1.0, 0.9, 0.5]), np.array([0.0, 0.2, 1.0])
    orders = [np.argsort(-MarginBlend(w).blend(scores, margins), kind="stable").tolist() for w in (0.05, 0.7)]
    assert orders == [[0, 1, 2], [2, 1, 0]]
    assert MarginBlend(0.3).blend(scores, -margins).tolist() == pytest.approx((0.7 * scores).tolist())


def test_weight_is_checked():
    with pytest.raises(ValueError):
        MarginBlend(1.5)
