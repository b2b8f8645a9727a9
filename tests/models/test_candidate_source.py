"""models.candidate_source: every candidate source offers the small interface of DESIGN.md."""

from __future__ import annotations

import inspect

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.candidate_source import CandidateSource
from tastemaker.models.popularity import PopularityModel

MODELS = [PopularityModel(TopListCache())]


def test_models_follow_the_protocol():
    wanted = inspect.signature(CandidateSource.candidates).parameters
    for model in MODELS:
        assert isinstance(model.name, str) and model.name
        assert isinstance(model.version, str) and model.version
        assert list(inspect.signature(type(model).candidates).parameters) == list(wanted)


def test_candidates_of_an_empty_state_are_empty_arrays():
    for model in MODELS:
        ids, scores = model.candidates(OnlineState(), None, 5)
        assert isinstance(ids, np.ndarray) and isinstance(scores, np.ndarray)
        assert len(ids) == len(scores) == 0
