"""rules.boosts: constant and expression factors, buries, clipping."""

from __future__ import annotations

import numpy as np

from tastemaker.rules.boosts import Boost
from tastemaker.rules.expressions import compile_expression
from tests.rules.conftest import env_for


def test_constant_boost_and_bury(catalog):
    env = env_for(catalog, "abce")
    boost = Boost("sale", compile_expression('"sale" in tags'), 1.5)
    assert boost.factors(env).tolist() == [1.5, 1.0, 1.0, 1.5] and not boost.is_bury
    bury = Boost("old", compile_expression("age > 30d"), 0.2)
    assert bury.factors(env).tolist() == [1.0, 1.0, 0.2, 1.0] and bury.is_bury
    assert Boost("all", None, 2.0).factors(env).tolist() == [2.0] * 4


def test_expression_factor(catalog):
    env = env_for(catalog, "abce")
    boost = Boost("margin", compile_expression("price > 6"), compile_expression("1 + margin", kind="number"))
    np.testing.assert_allclose(boost.factors(env), [1.1, 1.4, 1.2, 1.0])


def test_factors_are_never_negative_or_nan(catalog):
    env = env_for(catalog, "adf")  # d has no margin, f no price
    boost = Boost("x", None, compile_expression("price - 20", kind="number"))
    assert boost.factors(env).tolist() == [0.0, 20.0, 1.0]  # NaN -> 1 (no effect), negative -> 0
    assert Boost("neg", None, -3.0).factors(env).tolist() == [0.0] * 3
