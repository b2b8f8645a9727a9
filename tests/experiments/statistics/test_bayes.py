"""Probability to beat control against closed forms."""

import doctest
import math

import pytest
from scipy import special, stats

from tastemaker.experiments.statistics import bayes
from tastemaker.experiments.statistics.bayes import prob_beat_control_means, prob_beat_control_proportions


def _miller(a_t, b_t, a_c, b_c):
    """P(p_t > p_c) for Beta(a_t, b_t) vs Beta(a_c, b_c), integer a_t (Evan Miller, "Formulas for
    Bayesian A/B testing", 2015): sum_{i<a_t} B(a_c+i, b_c+b_t) / ((b_t+i) B(1+i, b_t) B(a_c, b_c))."""
    return sum(math.exp(special.betaln(a_c + i, b_c + b_t) - math.log(b_t + i) - special.betaln(1 + i, b_t)
                        - special.betaln(a_c, b_c)) for i in range(a_t))


@pytest.mark.parametrize("xc,nc,xt,nt", [(10, 100, 20, 100), (40, 1000, 52, 1000), (3, 30, 2, 30), (500, 10000, 560, 10000)])
def test_beta_binomial_matches_the_closed_form(xc, nc, xt, nt):
    got = prob_beat_control_proportions(xc, nc, xt, nt)
    assert math.isclose(got, _miller(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc), abs_tol=1e-7)


def test_symmetry_and_priors():
    assert math.isclose(prob_beat_control_proportions(30, 100, 30, 100), 0.5, abs_tol=1e-9)
    a = prob_beat_control_proportions(10, 100, 20, 100)
    assert math.isclose(a + prob_beat_control_proportions(20, 100, 10, 100), 1.0, abs_tol=1e-9)
    with pytest.raises(ValueError, match="prior"):
        prob_beat_control_proportions(1, 10, 2, 10, prior_a=0)
    with pytest.raises(ValueError, match="successes"):
        prob_beat_control_proportions(11, 10, 2, 10)


def test_means_normal_posterior():
    assert math.isclose(prob_beat_control_means(10.0, 0.3, 10.5, 0.4), stats.norm.cdf(0.5 / 0.5), rel_tol=1e-12)
    assert prob_beat_control_means(1.0, 0.0, 1.0, 0.0) == 0.5
    assert prob_beat_control_means(1.0, 0.0, 2.0, 0.0) == 1.0


def test_docstring_examples():
    assert doctest.testmod(bayes).failed == 0
