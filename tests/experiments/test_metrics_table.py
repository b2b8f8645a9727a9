"""The per-user table: validation, lookups, subsets, records."""

import doctest

import numpy as np
import pytest

from tastemaker.experiments import metrics_table
from tastemaker.experiments.metrics_table import UserMetrics


def _t(**kw):
    base = dict(user_id=np.array(["a", "b", "c"]), variant=np.array(["x", "y", "x"]),
                exposure_ts=np.array([1.0, 2.0, 3.0]), metrics={"m": np.array([1.0, 0.0, 2.0])})
    return UserMetrics(**{**base, **kw})


def test_lookups_and_subset():
    t = _t(covariates={"pre_m": [0.5, 0.1, 1.0]}, segments={"dev": ["p", "q", "p"]})
    assert t.variants() == ["x", "y"] and t.counts() == {"x": 2, "y": 1} and len(t) == 3
    assert t.values("m", "x").tolist() == [1.0, 2.0]
    assert t.covariate("m").tolist() == [0.5, 0.1, 1.0] and t.covariate("other") is None
    s = t.subset(t.segments["dev"] == "p")
    assert s.user_id.tolist() == ["a", "c"] and s.covariates["pre_m"].tolist() == [0.5, 1.0]
    with pytest.raises(KeyError, match="no metric 'z'"):
        t.values("z")


@pytest.mark.parametrize("kw,match", [
    ({"variant": np.array(["x", "y"])}, "column variant"),
    ({"metrics": {"m": np.array([1.0, np.nan, 2.0])}}, r"metrics\.m has NaN"),
    ({"user_id": np.array(["a", "a", "c"])}, "unique"),
    ({"exposure_ts": np.array([1.0, np.inf, 3.0])}, "exposure_ts"),
])
def test_bad_tables_are_refused_naming_the_column(kw, match):
    with pytest.raises(ValueError, match=match):
        _t(**kw)


def test_from_records():
    rows = [{"user_id": "a", "variant": "x", "exposure_ts": 1, "ctr": 0.5, "pre_ctr": 0.2, "dev": "p"},
            {"user_id": "b", "variant": "y", "exposure_ts": 2, "ctr": 0.0, "pre_ctr": 0.1, "dev": "q"}]
    t = UserMetrics.from_records(rows, metrics=["ctr"], segments=["dev"])
    assert t.metrics["ctr"].tolist() == [0.5, 0.0] and t.covariate("ctr").tolist() == [0.2, 0.1]
    assert t.segments["dev"].tolist() == ["p", "q"]
    with pytest.raises(ValueError, match="lacks the column 'ctr'"):
        UserMetrics.from_records([{"user_id": "a", "variant": "x", "exposure_ts": 1}], metrics=["ctr"])


def test_docstring_examples():
    assert doctest.testmod(metrics_table).failed == 0
