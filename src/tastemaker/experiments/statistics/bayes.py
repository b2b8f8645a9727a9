"""Bayesian probability that a variant beats control.

* Proportions: independent Beta-Binomial posteriors ``Beta(a + x, b + n - x)`` (uniform prior
  ``a = b = 1`` by default) and ``P(p_t > p_c) = integral f_t(u) F_c(u) du``, integrated with
  scipy's quadrature over the treatment posterior's support: deterministic, no Monte Carlo
  noise. (Known answer: Evan Miller's closed-form sum for integer parameters, in the tests.)
* Means: the large-sample posterior of each arm's mean under a flat prior is
  ``N(mean, s^2 / n)``, so ``P(mu_t > mu_c) = Phi(d / sqrt(se_t^2 + se_c^2))``.

Example:
    >>> round(prob_beat_control_proportions(10, 100, 20, 100), 3)
    0.975
"""

from __future__ import annotations

import math

from scipy import integrate, stats


def prob_beat_control_proportions(x_control: int, n_control: int, x_treatment: int,
                                  n_treatment: int, prior_a: float = 1.0,
                                  prior_b: float = 1.0) -> float:
    """``P(p_treatment > p_control | data)`` under Beta(prior_a, prior_b) priors."""
    for x, n, name in ((x_control, n_control, "control"), (x_treatment, n_treatment, "treatment")):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"{name}: need 0 <= successes <= users, got {x}/{n}")
    if prior_a <= 0 or prior_b <= 0:
        raise ValueError("Beta prior parameters must be > 0")
    post_c = stats.beta(prior_a + x_control, prior_b + n_control - x_control)
    post_t = stats.beta(prior_a + x_treatment, prior_b + n_treatment - x_treatment)
    lo, hi = post_t.ppf(1e-12), post_t.isf(1e-12)  # the mass outside is below 2e-12
    val, _ = integrate.quad(lambda u: post_t.pdf(u) * post_c.cdf(u), lo, hi,
                            points=[post_t.mean(), post_c.mean()] if lo < post_c.mean() < hi
                            else [post_t.mean()], limit=200, epsabs=1e-10)
    return float(min(1.0, max(0.0, val)))


def prob_beat_control_means(mean_c: float, se_c: float, mean_t: float, se_t: float) -> float:
    """``P(mu_treatment > mu_control | data)`` with normal posteriors (flat prior)."""
    se = math.hypot(se_c, se_t)
    if se == 0:
        return 0.5 if mean_t == mean_c else float(mean_t > mean_c)
    return float(stats.norm.cdf((mean_t - mean_c) / se))
