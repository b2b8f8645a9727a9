"""Deterministic assignment: which variant of which experiment a user sees, and with what
probability.

A user's bucket in a bucket space is ``blake2b(salt NUL user_id)`` (8 bytes, big-endian)
mod :data:`~tastemaker.experiments.spec.BUCKETS`: no state, no randomness, so every process,
before and after a restart, puts a user in the same bucket. Each experiment hashes with its
own salt (by default ``layer:id``), so experiments are independent of each other, those in
different layers included; the experiments of one exclusion group hash with the group's salt
and take disjoint ranges of its buckets (``offset``), so a user is in at most one of them.
Within its range an experiment's variants take consecutive runs of buckets, one per unit of
share; a bucket past the last variant is not in the experiment.

The global holdout (``holdout`` share, its own salt) is decided first: a held-out user gets
non-personalised popularity and enters no experiment. Its exposure is logged as the
experiment :data:`HOLDOUT_ID` (variants ``holdout`` and ``personalized``), so the lift of
personalisation itself can be measured like any variant.

>>> from tastemaker.experiments.spec import experiment_from_json
>>> e = experiment_from_json({"id": "t", "status": "running", "placements": ["home"],
...     "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]})
>>> assigner = Assigner([e])
>>> [(x.experiment.id, x.variant.name, x.propensity) for x in assigner.assign("u-7", "home").exposures]
[('t', 'b', 0.5)]
>>> assigner.assign("u-7", "cart") is NOT_ASSIGNED
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Callable, Iterable, Mapping

from tastemaker.experiments.spec import ALL_PLACEMENTS, BUCKETS, Experiment, Variant

HOLDOUT_ID = "global-holdout"
HOLDOUT_SALT = "tastemaker:global-holdout"
_NO_SEGMENTS: Callable[[], list[str]] = lambda: []  # noqa: E731


def bucket(user_id: str, salt: str) -> int:
    """The user's bucket in ``[0, BUCKETS)`` of the space named by ``salt``.

    >>> bucket("u-7", "default:t"), bucket("u-7", "default:t") == bucket("u-7", "other")
    (7190, False)
    """
    digest = blake2b(salt.encode() + b"\x00" + user_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True)
class Exposure:
    """One experiment a request is in: the variant served and its design probability."""

    experiment: Experiment
    variant: Variant
    propensity: float

    def public(self) -> dict[str, Any]:
        return {"id": self.experiment.id, "variant": self.variant.name, "propensity": self.propensity}


@dataclass(frozen=True)
class Assigned:
    """A request's assignments: ``holdout`` (serve non-personalised popularity) and the
    experiments it is in, in the order their overrides apply."""

    holdout: bool
    exposures: tuple[Exposure, ...]

    def public(self) -> list[dict[str, Any]]:
        return [e.public() for e in self.exposures]


NOT_ASSIGNED = Assigned(False, ())


def _variant_at(experiment: Experiment, b: int) -> Variant | None:
    at = b - experiment.offset
    if at < 0:
        return None
    for v in experiment.variants:
        at -= v.buckets
        if at < 0:
            return v
    return None


class Assigner:
    """The running experiments, indexed by placement; :meth:`assign` answers for one request.

    With nothing running and no holdout, :meth:`assign` is one dict lookup."""

    def __init__(self, experiments: Iterable[Experiment], holdout: float = 0.0,
                 clock: Callable[[], float] = time.time):
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"the global holdout (TASTEMAKER_EXPERIMENT_HOLDOUT) is a share from 0 to below 1, not {holdout}")
        running = [e for e in experiments if e.status == "running"]
        self.experiments = {e.id: e for e in running}
        self.clock = clock
        self.holdout_buckets = int(round(holdout * BUCKETS))
        every = tuple(e for e in running if ALL_PLACEMENTS in e.placements)
        names = {p for e in running for p in e.placements if p != ALL_PLACEMENTS}
        self._by_placement: dict[str, tuple[Experiment, ...]] = {
            name: tuple(e for e in running if name in e.placements or ALL_PLACEMENTS in e.placements) for name in names}
        self._every = every
        if self.holdout_buckets:
            share = self.holdout_buckets / BUCKETS
            self._holdout = (Experiment(HOLDOUT_ID, (ALL_PLACEMENTS,), (Variant("holdout", share),
                                        Variant("personalized", 1 - share)), status="running", salt=HOLDOUT_SALT))
        self._active = bool(running) or bool(self.holdout_buckets)

    def __bool__(self) -> bool:
        return self._active

    def candidates(self, placement: str) -> tuple[Experiment, ...]:
        got = self._by_placement.get(placement)
        return self._every if got is None else got

    def assign(self, user_id: str, placement: str, context: Mapping[str, Any] | None = None,
               segments: Callable[[], list[str]] = _NO_SEGMENTS) -> Assigned:
        """The request's assignments. ``segments`` is called (once, lazily) only when an
        experiment's population names segments."""
        if not self._active:
            return NOT_ASSIGNED
        exposures: list[Exposure] = []
        if self.holdout_buckets:
            held = bucket(user_id, HOLDOUT_SALT) < self.holdout_buckets
            v = self._holdout.variants[0 if held else 1]
            exposures.append(Exposure(self._holdout, v, v.propensity))
            if held:
                return Assigned(True, tuple(exposures))
        experiments = self.candidates(placement)
        if experiments:
            now = self.clock()
            ctx = context or {}
            known: list[list[str]] = []

            def user_segments() -> list[str]:
                if not known:
                    known.append(segments())
                return known[0]

            for e in experiments:
                if not e.active(now) or (e.population and not e.population.matches(ctx, user_segments)):
                    continue
                v = _variant_at(e, bucket(user_id, e.bucket_salt))
                if v is not None:
                    exposures.append(Exposure(e, v, v.propensity))
        return Assigned(False, tuple(exposures)) if exposures else NOT_ASSIGNED


def free_offset(group_members: Iterable[Experiment], buckets: int) -> int | None:
    """The lowest offset where ``buckets`` consecutive buckets are free among the running and
    draft experiments of an exclusion group (None: the group's space is full).

    >>> from tastemaker.experiments.spec import experiment_from_json
    >>> a = experiment_from_json({"id": "a", "placements": ["home"], "exclusion_group": "g",
    ...     "variants": [{"name": "x", "share": 0.2}, {"name": "y", "share": 0.2}]})
    >>> free_offset([a], 3000), free_offset([a], 7000)
    (4000, None)
    """
    taken = sorted((e.offset, e.offset + e.buckets) for e in group_members if e.status != "stopped")
    at = 0
    for lo, hi in taken:
        if lo - at >= buckets:
            return at
        at = max(at, hi)
    return at if BUCKETS - at >= buckets else None
