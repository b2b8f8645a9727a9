"""The per-arm ridge state LinUCB and linear Thompson share: priors, context checks, delayed rewards."""

import numpy as np
import pytest

from tastemaker.experiments.bandits import LinUCB
from tastemaker.experiments.bandits.linear import LinearPolicy


def test_prior_of_a_new_arm_is_the_ridge():
    policy = LinUCB(n_features=3, ridge=4.0)
    policy.add_arm("a")
    np.testing.assert_array_equal(policy.a_inverse[0], np.eye(3) / 4.0)
    np.testing.assert_array_equal(policy.theta("a"), np.zeros(3))
    mean, width = policy.mean_and_width(np.array([0]), np.array([2.0, 0.0, 0.0]))
    assert mean[0] == 0.0 and width[0] == pytest.approx(1.0)  # sqrt(x^T I/4 x) = sqrt(4/4)


def test_context_is_checked():
    policy = LinUCB(n_features=2)
    for bad, match in ((None, "needs a context"), (np.ones(3), "shape"), (np.array([1.0, np.nan]), "finite")):
        with pytest.raises(ValueError, match=match):
            policy.update("a", 1.0, bad)
    with pytest.raises(ValueError, match="n_features"):
        LinUCB(n_features=0)
    with pytest.raises(ValueError, match="ridge"):
        LinUCB(n_features=1, ridge=0.0)
    assert issubclass(LinUCB, LinearPolicy) and LinUCB.contextual
