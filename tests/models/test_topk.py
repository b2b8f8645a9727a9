"""models.topk: the k best columns per row, padded with -1 where fewer are finite."""

from __future__ import annotations

import doctest

import numpy as np

from tastemaker.models import topk
from tastemaker.models.topk import top_k


def test_top_k_pads_and_orders():
    s = np.array([[0.2, np.nan, 0.9, -np.inf], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    assert top_k(s, 3).tolist() == [[2, 0, -1], [3, 2, 1]]
    assert top_k(s, 6).tolist() == [[2, 0, -1, -1, -1, -1], [3, 2, 1, 0, -1, -1]]


def test_equal_scores_keep_column_order():
    assert top_k(np.array([[1.0, 3.0, 3.0, 1.0]]), 4).tolist() == [[1, 2, 0, 3]]


def test_docstring_example():
    result = doctest.testmod(topk)
    assert result.attempted > 0 and result.failed == 0
