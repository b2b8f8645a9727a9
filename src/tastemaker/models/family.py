"""The contract of a learned model family: interaction rows in, scores over all items out.

Every family maps a user's interaction row to scores over all items. Taking the row as
input, instead of a user id learned at fit time, is what makes every family real-time:
the serving path builds the row from the user's latest events and asks for scores, so a
new or changed user is personalised without retraining (ALS solves the user's factors from
the row; EASE and item-kNN multiply the row by an item-item matrix; popularity ignores it).
What serving asks for candidates is the other contract, :class:`.candidate_source.CandidateSource`.

Parameters are declared once, river-style: the keyword parameters of a family's ``__init__``
(names, types and defaults; the defaults are the tuned, validated ones) are its parameters.
:attr:`ModelFamily.params` (the values a family was built with, defaults filled in),
:meth:`ModelFamily.clone`, :meth:`ModelFamily.param_names` and the unknown-parameter error
are derived from that signature, and each class docstring ends with the defaults, generated.

Shapes (exact):
- ``interactions``: ``scipy.sparse.csr_matrix`` of shape (n_users, n_items), float32,
  non-negative confidence weights (see ``datasets.interactions``).
- ``score(rows)``: ``rows`` is a csr_matrix (batch, n_items); returns a dense float32 ndarray
  (batch, n_items). Higher is better. Items never seen at fit time score 0 (or a content score).
- ``recommend(row, n)``: returns ``(item_indices int64 (k,), scores float32 (k,))``,
  best first, ``k <= n``, excluding the row's own items.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from tastemaker.models.cost_model import Cost, Shape, als_reference_seconds
from tastemaker.models.topk import top_k


class UnknownParameter(TypeError, ValueError):
    """Parameters a family does not declare (a TypeError like Python's own for a bad keyword,
    and a ValueError, what the CLI and the train job report as a refused request)."""

    def __init__(self, family: str, names: Iterable[str], known: Iterable[str]):
        self.family, self.names, self.known = family, list(names), list(known)
        #: the reason for one name, as the API reports it per parameter
        self.reason = f"unknown parameter of family '{family}'; known: {', '.join(self.known) or 'none'}"
        super().__init__(f"{', '.join(self.names)}: {self.reason}")


@functools.cache
def _signature(cls: type) -> inspect.Signature:
    """``cls.__init__``'s signature without ``self``: the declaration of the family's params."""
    sig = inspect.signature(cls.__init__)
    return sig.replace(parameters=list(sig.parameters.values())[1:])


class ModelFamily:
    """Tiny base class: subclasses implement ``fit`` and ``score``; the rest is shared.

    Capabilities are declared on the class, never probed: ``needs_items`` (fit needs the
    item metadata), ``uses_timestamps`` (fit takes ``timestamps=``, each cell's event time),
    ``data_scaled_params`` (params that scale with the amount of data, for subsampled fits),
    :meth:`fits` (the size limit), :meth:`cost` and :meth:`stand_ins` (the predicted cost of a
    fit and cheaper variants, what the hybrid plans with) and :meth:`item_vectors` (a vector
    per fitted item).
    Parameters are the keyword parameters of the subclass's ``__init__`` (see the module).
    """

    name: ClassVar[str] = "base"
    needs_items: ClassVar[bool] = False
    uses_timestamps: ClassVar[bool] = False
    data_scaled_params: ClassVar[tuple[str, ...]] = ()
    #: Items of the fitted catalogue (0 until fitted).
    n_items: int = 0
    #: The parameters this instance was built with, every default filled in (set on construction).
    params: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__signature__ = _signature(cls)  # inspect.signature(cls) reads __init__, not __new__
        if "__init__" in cls.__dict__ and cls.__doc__ and cls.param_names():
            defaults = ", ".join(f"{n}={p.default!r}" for n, p in _signature(cls).parameters.items()
                                 if p.default is not p.empty)
            cls.__doc__ = f"{cls.__doc__.rstrip()}\n\n    Defaults (from ``__init__``): {defaults or 'none'}.\n"

    def __new__(cls, *args: Any, **kwargs: Any) -> "ModelFamily":
        # Record the constructor's arguments against the one declaration, the signature, so no
        # family repeats its parameters (unpickling and copying pass none: their state follows).
        self = super().__new__(cls)
        cls.check_params(kwargs)
        sig = _signature(cls)
        bound = sig.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        params: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                params.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                params[name] = value
        self.params = params
        return self

    def __init__(self) -> None:
        """No parameters: a subclass declares its own in its ``__init__`` signature."""

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The family's parameter names, in declaration order."""
        return tuple(n for n, p in _signature(cls).parameters.items()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Raise :class:`UnknownParameter` naming every name in ``params`` the family does not
        declare, with the ones it does."""
        if any(p.kind is p.VAR_KEYWORD for p in _signature(cls).parameters.values()):
            return
        known = cls.param_names()
        unknown = [n for n in params if n not in known]
        if unknown:
            raise UnknownParameter(cls.name, unknown, known)

    def clone(self, **overrides: Any) -> "ModelFamily":
        """A fresh, unfitted family of the same class and params, ``overrides`` applied."""
        return type(self)(**{**self.params, **overrides})

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ModelFamily":
        raise NotImplementedError

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def fits(self, n_items: int) -> bool:
        """Whether a catalogue of ``n_items`` is within this family's size limit."""
        return True

    def cost(self, shape: Shape) -> Cost:
        """Predicted cost of one fit on ``shape`` (:mod:`.cost_model`). A family that does not
        declare its own is assumed to cost one reference ALS fit and a (users + items) x 64
        float32 state: the hybrid plans with it, so declare it when it is far off."""
        state = 4.0 * 64 * (shape.users + shape.items)
        return Cost(als_reference_seconds(shape), 3 * state, state)

    def stand_ins(self, shape: Shape) -> list["ModelFamily"]:
        """Cheaper variants of this family for ``shape``, the most faithful first, that the
        hybrid uses in turn when this one does not fit its budget (none by default: it is
        dropped then)."""
        return []

    def item_vectors(self) -> np.ndarray | None:
        """A vector per fitted item (n_items, d) float32 for similarity and diversity, or None."""
        return None

    def recommend(self, row: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best items for one row (1, n_items) that it does not hold, best first."""
        scores = self.score(row)[0].astype(np.float32, copy=True)
        scores[row.indices] = -np.inf
        top = top_k(scores[None, :], n)[0] if n > 0 else np.zeros(0, np.int64)
        top = top[top >= 0]  # -1: fewer than n items with a finite score
        return top, scores[top]


# --- shared helpers for the families (added with the model families; small and generic) ---

def as_fit_rows(rows: sp.spmatrix, n_fit: int) -> sp.csr_matrix:
    """``rows`` as a float32 csr with exactly ``n_fit`` columns.

    Columns past ``n_fit`` (items added to the catalogue after fit) are dropped, a narrower
    matrix is padded with empty columns: the families only know the items they were fitted on.
    """
    rows = sp.csr_matrix(rows, dtype=np.float32)
    if rows.shape[1] > n_fit:
        rows = rows[:, :n_fit]
    elif rows.shape[1] < n_fit:
        rows = sp.csr_matrix((rows.data, rows.indices, rows.indptr), shape=(rows.shape[0], n_fit))
    rows.sum_duplicates()
    return rows


def to_width(scores: np.ndarray, width: int) -> np.ndarray:
    """Dense float32 scores (batch, width): new items past the fitted width score 0."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.shape[1] == width:
        return np.ascontiguousarray(scores)
    if scores.shape[1] > width:
        return np.ascontiguousarray(scores[:, :width])
    out = np.zeros((scores.shape[0], width), np.float32)
    out[:, :scores.shape[1]] = scores
    return out
