"""Experiments at serving time: the running experiments of the store, assigned per request
and applied to the placement pipeline.

:class:`ExperimentRouter` keeps an :class:`~tastemaker.experiments.assignment.Assigner` of
the store's running experiments, rebuilt when the store's change token moves (a memory read
per request; with nothing running and no holdout, a request pays that and one attribute
test). A variant's override becomes a :class:`Placement` (:func:`compile_override`: blend,
ranker, rules, diversity), worked out once per (placement, variants) and cached; its model
version comes from the engine's pool of loaded versions (``models``). An experiment whose
versions are not loaded yet is left out until they are, so no user is served a variant other
than the one logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable, Iterable

from tastemaker.experiments.assignment import NOT_ASSIGNED, Assigned, Assigner
from tastemaker.experiments.canary import CanaryMonitor, monitored
from tastemaker.experiments.spec import ALL_PLACEMENTS, Experiment, Override, experiment_from_json
from tastemaker.features.segments import behaviour_segments
from tastemaker.features.user_state import UserState
from tastemaker.rules.engine import RuleSet
from tastemaker.rules.schedule import ALWAYS
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.config_document import ConfigChecker, Marks
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, DiversitySpec, Placement, SourceSpec
from tastemaker.serving.rule_config import rules_from_config
from tastemaker.serving.sources import SOURCES
from tastemaker.storage.protocols import ExperimentStore

log = logging.getLogger(__name__)
MAX_POOLED_VERSIONS = 3  # model versions other than the serving one that experiments may load at once
HOLDOUT_SOURCES = {"popular": SourceSpec(1.0, 200, explicit=True)}


def compile_override(placement: Placement, override: Override, path: str = "/override") -> Placement:
    """``placement`` with a variant's ``override`` applied (422 naming ``path/...`` fields).

    >>> from tastemaker.experiments.spec import Override
    >>> p = compile_override(DEFAULT_PLACEMENTS["cart"], Override(blend={"user_model": {"weight": 0.0},
    ...                      "trending": {"weight": 0.5, "n": 50}}, ranker="ltr"))
    >>> {k: (s.weight, s.n) for k, s in p.sources.items()}, p.ranker
    ({'seed_covisitation': (2.0, 200), 'session_covisitation': (1.0, 200), 'trending': (0.5, 50)}, 'ltr')
    """
    if not override:
        return placement
    c = ConfigChecker(Marks())
    out = placement
    if override.blend:
        sources = dict(placement.sources)
        for name, spec in override.blend.items():
            if name not in SOURCES:
                c.fail(f"{path}/blend/{name}", f"unknown source '{name}' (known: {', '.join(sorted(SOURCES))})")
                continue
            have = sources.get(name, SourceSpec(1.0))
            # written by the experiment: the train job's learned weight never replaces it
            sources[name] = SourceSpec(float(spec.get("weight", have.weight)), int(spec.get("n", have.n)), explicit=True)
            if sources[name].weight == 0:
                del sources[name]
        if not sources:
            c.fail(f"{path}/blend", "leaves the placement without a candidate source")
        out = replace(out, sources=sources)
    if override.ranker is not None:
        out = replace(out, ranker=override.ranker)
    if override.rules is not None:
        rules: dict[str, list] = {"filters": [], "boosts": [], "pins": [], "caps": [], "margin": []}
        rules_from_config(c, list(override.rules), f"{path}/rules", ALWAYS, rules)
        if not c.errors:
            out = replace(out, rules=RuleSet(tuple(rules["filters"]), tuple(rules["boosts"]), tuple(rules["pins"]),
                                             tuple(rules["caps"]), rules["margin"][0] if rules["margin"] else None))
    if override.diversity is not None:
        d = override.diversity
        out = replace(out, diversity=DiversitySpec(d["lambda"], d["by"], d["calibration"], d["method"]))
    if c.errors:
        raise ValidationFailed(c.errors, title="Invalid experiment")
    return out


def holdout_placement(placement: Placement) -> Placement:
    """What a held-out user gets: popularity as the only source, the placement's business
    rules kept (stock, filters), no learned ranker, no diversity stage."""
    return replace(placement, sources=dict(HOLDOUT_SOURCES), ranker="blend", diversity=None)


def check_experiment(experiment: Experiment, placements: Callable[[str], Placement | None],
                     versions: Callable[[int], bool]) -> None:
    """Everything about ``experiment`` that needs the deployment: the placements it targets
    exist, its overrides compile against each, its model versions are registered and no more
    than :data:`MAX_POOLED_VERSIONS` of them. 422 naming each field."""
    errors: list[FieldError] = []
    targets: list[Placement] = []
    for i, name in enumerate(experiment.placements):
        if name == ALL_PLACEMENTS:
            targets.extend(DEFAULT_PLACEMENTS.values())
            continue
        p = placements(name)
        if p is None:
            errors.append(FieldError(f"/placements/{i}", f"unknown placement '{name}'"))
        else:
            targets.append(p)
    wanted: set[int] = set()
    for i, v in enumerate(experiment.variants):
        path = f"/variants/{i}/override"
        version = v.override.model_version
        if version is not None:
            wanted.add(version)
            if not versions(version):
                errors.append(FieldError(f"{path}/model_version", f"no model version {version} in the registry"))
        for p in targets[:1] if v.override.rules is not None else targets:  # rules replace: one compile checks them
            try:
                compile_override(p, v.override, path)
            except ValidationFailed as exc:
                errors.extend(e for e in exc.errors if e not in errors)
                break
    if len(wanted) > MAX_POOLED_VERSIONS + 1:
        errors.append(FieldError("/variants", f"at most {MAX_POOLED_VERSIONS + 1} model versions in one experiment"))
    if errors:
        raise ValidationFailed(errors, title="Invalid experiment")


class ExperimentRouter:
    """The store's running experiments, ready to assign and apply per request.

    ``models(versions)``: the loaded models among ``versions`` (the engine loads the others
    in the background and calls :meth:`invalidate` when one is ready); ``holdout``: the
    global holdout share."""

    def __init__(self, store: ExperimentStore | None, models: Callable[[set[int]], dict[int, Any]],
                 holdout: float = 0.0, clock: Callable[[], float] = time.time):
        self.store = store
        self.models = models
        self.holdout = holdout
        self.clock = clock
        self.monitor = CanaryMonitor()
        # (user id, user state, request context) -> the user's segments, for populations; the
        # engine puts its segment book here (rule, lifecycle, predictive segments)
        self.segments: Callable[[str, UserState | None, dict], list[str]] = \
            lambda user_id, user, context: behaviour_segments(user)
        self.assigner = Assigner((), holdout, clock)
        self.running: dict[str, Experiment] = {}
        self.pooled: dict[int, Any] = {}
        self.monitored: frozenset[str] = frozenset()
        self._token: bytes | None = None
        self._placements: dict[tuple, tuple[Placement, Placement]] = {}
        self.refresh(force=True)

    def invalidate(self) -> None:
        self._token = None

    def refresh(self, force: bool = False) -> None:
        """Reload the running experiments if the store changed (cheap otherwise)."""
        store = self.store
        if store is None:
            return
        token = store.change_token()
        if token == self._token and not force:
            return
        self._token = token
        running = []
        for record in store.list("running"):
            try:
                running.append(experiment_from_json(record.definition))
            except ValidationFailed as exc:  # written by a newer or broken writer: never serve it half-read
                log.error("experiment %s cannot be read, leaving it out: %s", record.experiment_id, exc)
        self.install(running)

    def install(self, running: Iterable[Experiment]) -> None:
        running = list(running)
        wanted = {v.override.model_version for e in running for v in e.variants if v.override.model_version is not None}
        pooled = self.models(wanted)
        ready = [e for e in running if all(v.override.model_version is None or v.override.model_version in pooled
                                           for v in e.variants)]
        self.pooled = pooled
        self.running = {e.id: e for e in running}
        self.monitored = frozenset(e.id for e in ready if monitored(e))
        self._placements = {}
        self.assigner = Assigner(ready, self.holdout, self.clock)

    def assign(self, user_id: str, placement: str, context: dict, user: UserState | None) -> Assigned:
        assigner = self.assigner
        if not assigner:
            return NOT_ASSIGNED
        return assigner.assign(user_id, placement, context,
                               lambda: self.segments(user_id, user, context))

    def model(self, assigned: Assigned, default: Any) -> Any:
        """The model the request's variants ask for (the last override wins), else ``default``."""
        model = default
        for x in assigned.exposures:
            version = x.variant.override.model_version
            if version is not None:
                model = self.pooled.get(version, model)
        return model

    def apply(self, placement: Placement, assigned: Assigned) -> Placement:
        """``placement`` with the request's variants applied in order (or the holdout's)."""
        key = (placement.name, assigned.holdout, tuple((x.experiment.id, x.variant.name) for x in assigned.exposures))
        cached = self._placements.get(key)
        if cached is not None and cached[0] is placement:
            return cached[1]
        out = placement
        if assigned.holdout:
            out = holdout_placement(out)
        else:
            for x in assigned.exposures:
                out = compile_override(out, x.variant.override)
        if len(self._placements) > 4096:
            self._placements = {}
        self._placements[key] = (placement, out)
        return out

    def record(self, assigned: Assigned, seconds: float | None, error: bool) -> None:
        """Measure a request for the monitored (canary) experiments it was in."""
        for x in assigned.exposures:
            if x.experiment.id in self.monitored:
                self.monitor.record(x.experiment, x.variant, seconds, error)
