"""The model families by name, and the default pipeline.

``FAMILIES[name]`` is a family's class. Its ``__init__`` is the one declaration of the
family's parameters and their defaults, which are the values chosen on validation splits
carved from the ML-100k training data (see ``bench/models_ml100k.py``), never on a test
split; nothing here repeats them. :func:`create` builds an unfitted family by name,
:func:`factory` a zero-argument factory of one (what the train job and the evaluation fit,
once per split); both refuse an unknown family (:class:`UnknownFamily`) or parameter
(:class:`.family.UnknownParameter`), naming it and listing the known ones. ``DEFAULT`` is the
family the default pipeline serves: the validation-weighted :class:`.hybrid.Hybrid` over
:func:`default_members`. :func:`register` adds a family in this process (a plug-in, a test's
own family); a worker process of the server sees only the families its imports register.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from tastemaker.models.als import ALS
from tastemaker.models.bpr import BPR
from tastemaker.models.content import TfidfContent
from tastemaker.models.cost_model import Budget, Shape
from tastemaker.models.ease import EASE
from tastemaker.models.embeddings import SentenceEmbeddingContent
from tastemaker.models.family import ModelFamily
from tastemaker.models.gfcf import GraphFilterCF
from tastemaker.models.hybrid import Hybrid
from tastemaker.models.hybrid_plan import make_plan
from tastemaker.models.itemknn import ItemKNN
from tastemaker.models.popularity_family import PopularityFamily
from tastemaker.models.rp3beta import RP3beta
from tastemaker.models.session_als import SessionALS
from tastemaker.models.session_ease import SessionEASE
from tastemaker.models.svd import ExplicitSVD

FAMILIES: dict[str, type[ModelFamily]] = {
    cls.name: cls for cls in (PopularityFamily, ItemKNN, RP3beta, EASE, SessionEASE, ALS, SessionALS,
                              GraphFilterCF, BPR, ExplicitSVD, TfidfContent, SentenceEmbeddingContent, Hybrid)
}

#: The family of the default pipeline.
DEFAULT = "hybrid"

#: Members of the default hybrid (the hybrid learns their weights; zero weights drop out), by
#: value: when the data's shape is over the budget, the last ones are dropped first.
DEFAULT_MEMBERS = ("session_ease", "session_als", "gfcf", "popularity", "svd", "tfidf")


class UnknownFamily(ValueError):
    """A family name that is not registered; the message suggests a close name and lists the known."""

    def __init__(self, name: str):
        close = difflib.get_close_matches(name, list(FAMILIES), n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        super().__init__(f"unknown model family '{name}'; {guess}known: {', '.join(sorted(FAMILIES))}")


def family_class(name: str) -> type[ModelFamily]:
    """The class registered as ``name`` (:class:`UnknownFamily` if none)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownFamily(name) from None


def default_members(shape: Shape | None = None, budget: Budget | None = None,
                    **overrides: dict[str, Any]) -> dict[str, ModelFamily]:
    """Fresh instances of the default hybrid's members (``overrides[name]`` updates params).

    With a ``shape``, the members the hybrid would fit on data of that shape within
    ``budget`` (default :class:`.cost_model.Budget`): dense item-item members only where
    they fit, cheaper stand-ins or fewer members above (:mod:`.hybrid_plan`). The hybrid
    itself plans the same way when it is fitted, so ``create("hybrid")`` needs no shape."""
    members = {n: create(n, **overrides.get(n, {})) for n in DEFAULT_MEMBERS}
    if shape is None:
        return members
    return make_plan(members, shape, budget or Budget()).members


#: Arguments a family cannot declare as a default in its signature, built afresh per family:
#: the hybrid's members are families themselves (resolved here, so hybrid.py needs no table).
_FRESH_ARGUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "hybrid": lambda: {"members": default_members()},
}


def create(name: str, **params: Any) -> ModelFamily:
    """An unfitted family ``name``: its declared defaults, updated by ``params``."""
    cls = family_class(name)
    cls.check_params(params)
    if name in _FRESH_ARGUMENTS:
        params = {**_FRESH_ARGUMENTS[name](), **params}
    return cls(**params)


def factory(name: str, **params: Any) -> Callable[[], ModelFamily]:
    """A zero-argument factory of :func:`create` ``(name, **params)``, checked now (an unknown
    family or parameter is refused before any data is read, not at the first fit)."""
    family_class(name).check_params(params)
    return lambda: create(name, **params)


def register(cls: type[ModelFamily], name: str | None = None) -> type[ModelFamily]:
    """Register ``cls`` under ``name`` (default ``cls.name``) in this process; returns ``cls``
    (usable as a class decorator). A name taken by another class is refused."""
    name = name or cls.name
    if FAMILIES.get(name, cls) is not cls:
        raise ValueError(f"model family '{name}' is already registered ({FAMILIES[name].__name__})")
    FAMILIES[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove the family registered as ``name`` (:class:`UnknownFamily` if none)."""
    family_class(name)
    del FAMILIES[name]
