"""Effect records and the log-ratio (delta method) interval of a relative lift."""

import doctest
import json
import math

from scipy import stats

from tastemaker.experiments.statistics import effect
from tastemaker.experiments.statistics.effect import Effect, log_ratio_interval


def test_log_ratio_interval_matches_the_delta_method_by_hand():
    # var(log(mt/mc)) = (se_t/mt)^2 + (se_c/mc)^2 (delta method), interval exponentiated back.
    rel, lo, hi = log_ratio_interval(11.0, 0.3, 10.0, 0.25, alpha=0.05)
    sd = math.sqrt((0.3 / 11) ** 2 + (0.25 / 10) ** 2)
    z = stats.norm.ppf(0.975)
    assert rel == 11 / 10 - 1
    assert math.isclose(lo, 1.1 * math.exp(-z * sd) - 1, rel_tol=1e-12)
    assert math.isclose(hi, 1.1 * math.exp(z * sd) - 1, rel_tol=1e-12)
    assert lo < rel < hi and hi - rel > rel - lo  # asymmetric, as a ratio's interval is


def test_log_ratio_interval_without_positive_means():
    assert log_ratio_interval(1.0, 0.1, 0.0, 0.1, 0.05) == (None, None, None)
    rel, lo, hi = log_ratio_interval(-1.0, 0.1, 2.0, 0.1, 0.05)
    assert rel == -1.5 and lo is None and hi is None


def test_to_dict_is_json_with_infinities_as_null():
    e = Effect(1.0, 1.0, 2, 2, 0.0, -math.inf, math.inf, 0.0, None, None, 0.0, 1.0, 0.05, "x")
    d = e.to_dict()
    assert d["ci_low"] is None and d["ci_high"] is None
    json.dumps(d)
    assert not e.significant


def test_docstring_examples():
    assert doctest.testmod(effect).failed == 0
