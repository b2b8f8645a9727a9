"""Statistics of experiments, one concern per module (issue 16, item 3).

* :mod:`.effect` — the :class:`Effect` record every two-sample test returns;
* :mod:`.proportions` — two-proportion z-test, CIs for the difference and the relative lift;
* :mod:`.welch` — Welch's t-test with CIs (from samples or from summary statistics);
* :mod:`.cuped` — CUPED: a pre-period covariate removes explained variance;
* :mod:`.sequential` — mSPRT with a normal mixture: always-valid p-values and confidence
  sequences, so looking at the results every day does not inflate false positives;
* :mod:`.bayes` — probability that a variant beats control (Beta-Binomial; normal for means);
* :mod:`.power` — sample size and power for proportions and means;
* :mod:`.srm` — sample-ratio mismatch: chi-square goodness of fit against configured shares;
* :mod:`.correction` — Holm (default), Bonferroni and Benjamini-Hochberg across variants.

Distributions come from scipy/statsmodels; nothing here re-implements a CDF.
"""

from tastemaker.experiments.statistics.bayes import prob_beat_control_means, prob_beat_control_proportions
from tastemaker.experiments.statistics.correction import adjust_pvalues
from tastemaker.experiments.statistics.cuped import CupedResult, cuped_adjust
from tastemaker.experiments.statistics.effect import Effect
from tastemaker.experiments.statistics.power import (
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from tastemaker.experiments.statistics.proportions import two_proportion_ztest
from tastemaker.experiments.statistics.sequential import SequentialResult, msprt_normal, optimal_tau2
from tastemaker.experiments.statistics.srm import SrmResult, srm_check
from tastemaker.experiments.statistics.welch import welch_from_stats, welch_ttest

__all__ = [
    "CupedResult", "Effect", "SequentialResult", "SrmResult", "adjust_pvalues", "cuped_adjust",
    "msprt_normal", "optimal_tau2", "power_means", "power_proportions", "prob_beat_control_means",
    "prob_beat_control_proportions", "sample_size_means", "sample_size_proportions", "srm_check",
    "two_proportion_ztest", "welch_from_stats", "welch_ttest",
]
