"""models.family: a family's parameters are its ``__init__`` signature, declared once."""

from __future__ import annotations

import copy
import inspect
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.family import ModelFamily, UnknownParameter
from tastemaker.models.itemknn import ItemKNN
from tastemaker.models.session_ease import SessionEASE

from tests.models.conftest_tiny import row, tiny


class Shifted(ModelFamily):
    """A toy family: every item scores its column count plus ``shift``."""

    name = "shifted"

    def __init__(self, shift: float = 1.0, scale: float = 2.0):
        self.shift, self.scale = shift, scale

    def fit(self, interactions, items=None):
        self.n_items = interactions.shape[1]
        self.counts = np.asarray(interactions.sum(0), np.float32).ravel()
        return self

    def score(self, rows):
        return np.tile(self.scale * self.counts + self.shift, (rows.shape[0], 1)).astype(np.float32)


def test_params_are_the_signature_with_the_defaults_filled_in():
    assert Shifted().params == {"shift": 1.0, "scale": 2.0}
    assert Shifted(0.5).params == {"shift": 0.5, "scale": 2.0}  # positional arguments by name
    assert Shifted(scale=3.0).params == {"shift": 1.0, "scale": 3.0}
    assert Shifted.param_names() == ("shift", "scale")
    assert list(inspect.signature(Shifted).parameters) == ["shift", "scale"]  # not __new__'s *args
    # a real family: the defaults come from its __init__, nowhere else
    defaults = {n: p.default for n, p in inspect.signature(ItemKNN.__init__).parameters.items() if n != "self"}
    assert ItemKNN().params == defaults
    assert ItemKNN(k=5).params == {**defaults, "k": 5}


def test_a_family_without_parameters_has_none():
    class Plain(ModelFamily):
        name = "plain"

    assert Plain().params == {} and Plain.param_names() == ()
    with pytest.raises(UnknownParameter):
        Plain(k=1)


def test_an_unknown_parameter_is_named_with_the_known_ones():
    with pytest.raises(UnknownParameter) as info:
        Shifted(shfit=2.0)
    assert str(info.value) == "shfit: unknown parameter of family 'shifted'; known: shift, scale"
    assert info.value.names == ["shfit"] and info.value.known == ["shift", "scale"]
    # a TypeError like Python's own for a bad keyword, and a ValueError for the CLI and the job
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownParameter, match="^a, b: unknown parameter"):
        Shifted.check_params({"shift": 1.0, "a": 1, "b": 2})
    Shifted.check_params({"scale": 1.0})  # known names pass


def test_clone_is_unfitted_with_the_same_params_and_the_overrides():
    X, _, _ = tiny()
    model = Shifted(shift=0.5).fit(X)
    twin = model.clone()
    assert type(twin) is Shifted and twin.params == model.params and twin is not model
    assert twin.n_items == 0 and not hasattr(twin, "counts")  # nothing fitted is copied
    other = model.clone(scale=4.0)
    assert other.params == {"shift": 0.5, "scale": 4.0} and other.scale == 4.0
    np.testing.assert_array_equal(twin.fit(X).score(row([0])), model.score(row([0])))


def test_pickle_and_copy_keep_the_params_and_the_fitted_state():
    X, T, _ = tiny()
    model = SessionEASE(lambda_=5.0, session_gaps=(0.0,), session_weights=(1.0,)).fit(X, timestamps=T)
    for again in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert again.params == model.params
        np.testing.assert_array_equal(again.B, model.B)


def test_the_docstring_ends_with_the_declared_defaults():
    assert Shifted.__doc__.rstrip().endswith("Defaults (from ``__init__``): shift=1.0, scale=2.0.")
    assert "k=100, shrink=10.0, block=2048" in ItemKNN.__doc__


def test_recommend_leaves_out_the_rows_own_items():
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]], dtype=np.float32))
    model = Shifted(shift=0.0, scale=1.0).fit(X)  # column counts 3, 2, 2, 1
    ids, scores = model.recommend(row([0], 4), 2)
    assert ids.tolist() == [1, 2] and scores.tolist() == [2.0, 2.0]
    ids, _ = model.recommend(row([0, 1, 2, 3], 4), 3)
    assert ids.tolist() == []  # nothing unseen is left
