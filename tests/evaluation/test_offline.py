"""evaluation.offline: each protocol's hybrid carves its weight-learning split by the same rule."""

from __future__ import annotations

import pytest

from tastemaker.evaluation.offline import PROTOCOLS, protocol_params
from tastemaker.models.families import FAMILIES, factory
from tastemaker.models.hybrid import Hybrid


@pytest.mark.parametrize("protocol, holdout_by", [("random", "random"), ("temporal", "time"), ("leave_last_out", "last")])
def test_the_hybrid_validates_like_the_protocol_tests(protocol, holdout_by) -> None:
    model = factory("hybrid", **protocol_params("hybrid", protocol))()
    assert isinstance(model, Hybrid)
    assert model.params["holdout_by"] == holdout_by


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_families_without_their_own_validation_keep_their_defaults(protocol) -> None:
    for name in FAMILIES:
        if name != "hybrid":
            assert protocol_params(name, protocol) == {}
