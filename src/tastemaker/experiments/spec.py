"""What an experiment is: placements, variants with traffic shares and pipeline overrides,
layer, exclusion group, population, metrics, schedule, status and salt.

:func:`experiment_from_json` validates a document (the API's JSON body, or one entry of the
experiments YAML document) and collects every error with the JSON pointer of its field (and,
for YAML, its line: ``where``), raised together as one :class:`ValidationFailed` (422). What
an override *means* for a placement (rules compiled, sources known, model versions loaded)
is checked one layer up, in :mod:`tastemaker.serving.experiments`, which can compile it. The
types themselves live in :mod:`tastemaker.experiments.spec_types` and are re-exported here.

Shares are realised on :data:`BUCKETS` buckets (:mod:`tastemaker.experiments.assignment`):
a variant's propensity is its bucket count / ``BUCKETS``, exactly the probability the design
gave it. Shares may add up to less than 1: the users in the rest are not in the experiment.

>>> e = experiment_from_json({"id": "blend-test", "placements": ["home"], "variants": [
...     {"name": "control", "share": 0.5}, {"name": "more-trending", "share": 0.5,
...      "override": {"blend": {"trending": 0.6}}}]})
>>> e.salt, e.status, [v.buckets for v in e.variants], e.variants[1].override.blend
('default:blend-test', 'draft', [5000, 5000], {'trending': {'weight': 0.6}})
>>> try:
...     experiment_from_json({"id": "x", "placements": ["home"], "variants": [{"name": "a", "share": 2}]})
... except ValidationFailed as exc:
...     print(exc)
/variants: an experiment has at least 2 variants; /variants/0/share: must be between 0.0001 and 1
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

from tastemaker.experiments.spec_types import (ALL_PLACEMENTS, BUCKETS, DIRECTIONS, DIVERSITY_METHODS,  # noqa: F401
                                               FIELDS, IN_PROCESS_METRICS, KINDS, NAME, OVERRIDE_FIELDS, RANKERS,
                                               STATUSES, TRANSITIONS, Experiment, Metric, Override, Population, Variant)
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.field_checker import FieldChecker


class OverrideChecker(FieldChecker):
    """Collects field errors while a document is parsed: each names its JSON pointer, prefixed
    by ``where(path)`` (a YAML line, say). Parsers call :meth:`fail` or the typed readers
    (:meth:`mapping`, :meth:`number`, :meth:`name`, ...), which return None after recording
    what is wrong; the caller raises :class:`ValidationFailed` with :attr:`errors` at the end.
    The experiment spec and a bandit placement's strategy arms share it with :func:`parse_override`.

    >>> c = OverrideChecker(lambda path: "line 3: ")
    >>> c.number("x", "/alpha", 0, 1), [(e.field, e.reason) for e in c.errors]
    (None, [('/alpha', 'line 3: must be a number')])
    """

    def __init__(self, where: Callable[[str], str] | None):
        super().__init__((lambda path, offset: where(path)) if where else None)

    def name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not NAME.fullmatch(value):
            self.fail(path, "must be 1-64 of a-z, 0-9, '-', '_' (starting with a letter or digit)")
            return None
        return value

    def time(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):  # ISO 8601, as event timestamps
            import datetime as dt

            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.fail(path, "must be epoch seconds or an ISO 8601 time")
                return None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()
        if hasattr(value, "timestamp"):  # YAML reads an unquoted time as a datetime
            import datetime as dt

            return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
        return self.number(value, path, 0, 1e11)


def parse_override(c: OverrideChecker, doc: Any, path: str) -> Override:
    """A variant override (model version, blend, ranker, rules, diversity) from ``doc``; its
    errors are recorded in ``c`` under ``path`` and an empty :class:`Override` stands in.
    What the override means for a placement is checked by
    :func:`tastemaker.serving.experiments.compile_override`.

    >>> c = OverrideChecker(None)
    >>> parse_override(c, {"blend": {"trending": 0.6}, "ranker": "ltr"}, "/override")
    Override(model_version=None, blend={'trending': {'weight': 0.6}}, ranker='ltr', rules=None, diversity=None)
    >>> parse_override(c, {"ranker": "x"}, "/arms/a"), [(e.field, e.reason) for e in c.errors]
    (Override(model_version=None, blend={}, ranker=None, rules=None, diversity=None), [('/arms/a/ranker', 'must be one of: blend, ltr')])
    """
    if doc is None:
        return Override()
    d = c.mapping(doc, path, OVERRIDE_FIELDS)
    if d is None:
        return Override()
    version = None
    if d.get("model_version") is not None:
        v = c.number(d["model_version"], f"{path}/model_version", 1, 2**62, integer=True)
        version = int(v) if v is not None else None
    blend: dict[str, dict[str, float]] = {}
    raw = d.get("blend")
    if raw is not None:
        if not isinstance(raw, dict) or not raw:
            c.fail(f"{path}/blend", "must be a non-empty mapping of source name to weight or {weight, n}")
        else:
            for src, spec in raw.items():
                at = f"{path}/blend/{src}"
                if isinstance(spec, dict):
                    if c.mapping(spec, at, ("weight", "n")) is None:
                        continue
                    if not spec:
                        c.fail(at, "must name a weight, an n (the source's quota), or both")
                        continue
                    one: dict[str, float] = {}
                    if "weight" in spec and c.number(spec["weight"], f"{at}/weight", 0.0, 1e6) is not None:
                        one["weight"] = float(spec["weight"])
                    if "n" in spec and c.number(spec["n"], f"{at}/n", 1, 10_000, integer=True) is not None:
                        one["n"] = int(spec["n"])
                    blend[str(src)] = one
                elif c.number(spec, at, 0.0, 1e6) is not None:
                    blend[str(src)] = {"weight": float(spec)}
    ranker = c.choice(d["ranker"], f"{path}/ranker", RANKERS) if d.get("ranker") is not None else None
    rules = None
    if d.get("rules") is not None:
        if not isinstance(d["rules"], list):
            c.fail(f"{path}/rules", "must be a list of rules in the placement format (an empty list: no rules)")
        else:
            rules = tuple(d["rules"])
    diversity = None
    if d.get("diversity") is not None:
        dv = c.mapping(d["diversity"], f"{path}/diversity", ("lambda", "by", "calibration", "method"))
        if dv is not None:
            lam = c.number(dv.get("lambda", 0.0), f"{path}/diversity/lambda", 0.0, 1.0)
            cal = c.number(dv.get("calibration", 0.0), f"{path}/diversity/calibration", 0.0, 1.0)
            by = c.choice(dv.get("by", "categories"), f"{path}/diversity/by", ("categories", "embeddings"))
            method = c.choice(dv.get("method", "mmr"), f"{path}/diversity/method", DIVERSITY_METHODS)
            if None not in (lam, cal, by, method):
                diversity = {"lambda": float(lam), "by": by, "calibration": float(cal), "method": method}  # type: ignore[arg-type]
    return Override(version, blend, ranker, rules, diversity)


def _metric(c: OverrideChecker, doc: Any, path: str, guardrail: bool) -> Metric | None:
    d = c.mapping(doc, path, ("metric", "direction", "threshold"))
    if d is None:
        return None
    metric = d.get("metric")
    if not isinstance(metric, str) or not re.fullmatch(r"[a-z][a-z0-9_@]{0,63}", metric):
        c.fail(f"{path}/metric", "must be a metric name (ctr, conversion, revenue, error_rate, latency_p99_ms, ...)")
        return None
    default_direction = "decrease" if metric in IN_PROCESS_METRICS else "increase"
    direction = c.choice(d.get("direction", default_direction), f"{path}/direction", DIRECTIONS)
    threshold = None
    if guardrail:
        if "threshold" not in d:
            c.fail(f"{path}/threshold", "a guardrail needs a threshold")
        else:
            hi = 1e9 if metric == "latency_p99_ms" else 1.0
            threshold = c.number(d["threshold"], f"{path}/threshold", 0.0, hi)
    elif "threshold" in d:
        c.fail(f"{path}/threshold", "only guardrails have a threshold")
    return Metric(metric, direction, threshold) if direction is not None else None


def _population(c: OverrideChecker, doc: Any, path: str) -> Population:
    if doc is None:
        return Population()
    d = c.mapping(doc, path, ("segments", "context"))
    if d is None:
        return Population()
    segments = d.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        c.fail(f"{path}/segments", "must be a list of segment names")
        segments = []
    context: dict[str, frozenset[str]] = {}
    raw = d.get("context", {})
    if not isinstance(raw, dict):
        c.fail(f"{path}/context", "must map a context key (channel, device, locale, ...) to a value or a list of values")
    else:
        for key, values in raw.items():
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                c.fail(f"{path}/context/{key}", "must be a string or a non-empty list of strings")
                continue
            context[str(key)] = frozenset(values)
    return Population(frozenset(segments), context)


def experiment_from_json(doc: Any, where: Callable[[str], str] | None = None, prefix: str = "") -> Experiment:
    """An :class:`Experiment` from a JSON/YAML document; every error at once (422).
    ``where(path)`` gives a position prefix for a field (YAML), ``prefix`` the document's path."""
    c = OverrideChecker(where)
    if not isinstance(doc, dict):
        c.fail(prefix or "/", "must be an object")
    d = c.mapping(doc, prefix, FIELDS) if isinstance(doc, dict) else None
    if d is None:
        raise ValidationFailed(c.errors, title="Invalid experiment")
    p = prefix
    exp_id = c.name(d.get("id"), f"{p}/id")
    placements = d.get("placements")
    if not isinstance(placements, list) or not placements or not all(
            isinstance(x, str) and (x == ALL_PLACEMENTS or NAME.fullmatch(x)) for x in placements):
        c.fail(f"{p}/placements", "must be a non-empty list of placement names ('*': every placement)")
        placements = []
    variants: list[Variant] = []
    raw = d.get("variants")
    if not isinstance(raw, list) or len(raw) < 2:
        c.fail(f"{p}/variants", "an experiment has at least 2 variants")
    for i, v in enumerate(raw if isinstance(raw, list) else []):
        at = f"{p}/variants/{i}"
        if c.mapping(v, at, ("name", "share", "override")) is None:
            continue
        name = c.name(v.get("name"), f"{at}/name")
        share = c.number(v.get("share"), f"{at}/share", 1.0 / BUCKETS, 1.0)
        override = parse_override(c, v.get("override"), f"{at}/override")
        if name is not None and any(x.name == name for x in variants):
            c.fail(f"{at}/name", f"duplicate variant name '{name}'")
        if name is not None and share is not None:
            variants.append(Variant(name, float(share), override))
    if variants and sum(v.buckets for v in variants) > BUCKETS:
        c.fail(f"{p}/variants", f"shares add up to {sum(v.share for v in variants):g}, more than 1")
    layer = c.name(d.get("layer", "default"), f"{p}/layer") or "default"
    group = c.name(d["exclusion_group"], f"{p}/exclusion_group") if d.get("exclusion_group") is not None else None
    offset = c.number(d.get("offset", 0), f"{p}/offset", 0, BUCKETS - 1, integer=True)
    if offset and not group:
        c.fail(f"{p}/offset", "only an experiment in an exclusion group has an offset")
    if offset is not None and variants and offset + sum(v.buckets for v in variants) > BUCKETS:
        c.fail(f"{p}/offset", "the experiment's shares from its offset go past the end of the bucket space")
    primary = _metric(c, d.get("primary_metric", {"metric": "ctr"}), f"{p}/primary_metric", False)
    raw_guardrails = d.get("guardrails") or []
    if not isinstance(raw_guardrails, list):
        c.fail(f"{p}/guardrails", "must be a list of {metric, direction, threshold}")
        raw_guardrails = []
    guardrails = [_metric(c, g, f"{p}/guardrails/{i}", True) for i, g in enumerate(raw_guardrails)]
    alpha = c.number(d.get("alpha", 0.05), f"{p}/alpha", 1e-6, 0.5)
    start, stop = c.time(d.get("start"), f"{p}/start"), c.time(d.get("stop"), f"{p}/stop")
    if start is not None and stop is not None and stop <= start:
        c.fail(f"{p}/stop", "must be after start")
    status = c.choice(d.get("status", "draft"), f"{p}/status", STATUSES)
    kind = c.choice(d.get("kind", "ab"), f"{p}/kind", KINDS)
    salt = d.get("salt")
    if salt is not None and (not isinstance(salt, str) or not 1 <= len(salt) <= 128):
        c.fail(f"{p}/salt", "must be a string of 1 to 128 characters")
    reason = d.get("status_reason")
    population = _population(c, d.get("population"), f"{p}/population")
    name, description = c.text(d.get("name", ""), f"{p}/name", 200), c.text(d.get("description", ""), f"{p}/description")
    design = None
    if d.get("design") is not None:
        dd = c.mapping(d["design"], f"{p}/design", ("baseline", "mde", "power"))
        if dd is not None:
            base = c.number(dd.get("baseline"), f"{p}/design/baseline", 1e-6, 1 - 1e-6)
            mde = c.number(dd.get("mde"), f"{p}/design/mde", 1e-4, 10.0)
            power = c.number(dd.get("power", 0.8), f"{p}/design/power", 0.5, 0.999)
            if None not in (base, mde, power):
                design = {"baseline": float(base), "mde": float(mde), "power": float(power)}  # type: ignore[arg-type]
    started_at, stopped_at = c.time(d.get("started_at"), f"{p}/started_at"), c.time(d.get("stopped_at"), f"{p}/stopped_at")
    if c.errors:
        raise ValidationFailed(c.errors, title="Invalid experiment")
    return Experiment(exp_id, tuple(dict.fromkeys(placements)), tuple(variants), name, description, kind, layer, group,  # type: ignore[arg-type]
                      int(offset or 0), population, primary, tuple(g for g in guardrails if g is not None),  # type: ignore[arg-type]
                      float(alpha), start, stop, status, salt or f"{layer}:{exp_id}",  # type: ignore[arg-type]
                      reason if isinstance(reason, str) else None, design, started_at, stopped_at)


def with_shares(experiment: Experiment, shares: Mapping[str, Any]) -> Experiment:
    """``experiment`` with new traffic shares for the variants named (PATCH ``shares``): 422
    naming ``/shares/NAME`` for an unknown variant or a bad share, or shares above 1."""
    doc = experiment.to_json()
    errors = [FieldError(f"/shares/{name}", f"no variant '{name}' (variants: {', '.join(v.name for v in experiment.variants)})")
              for name in shares if experiment.variant(name) is None]
    if errors:
        raise ValidationFailed(errors, title="Invalid experiment change")
    for v in doc["variants"]:
        if v["name"] in shares:
            v["share"] = shares[v["name"]]
    try:
        return experiment_from_json(doc)
    except ValidationFailed as exc:
        names = [v.name for v in experiment.variants]
        fixed = [FieldError(re.sub(r"^/variants/(\d+)/share$", lambda m: f"/shares/{names[int(m.group(1))]}", e.field),
                            e.reason) for e in exc.errors]
        raise ValidationFailed([FieldError("/shares" if f.field == "/variants" else f.field, f.reason) for f in fixed],
                               title="Invalid experiment change") from None


def transition(experiment: Experiment, status: str, reason: str | None = None, now: float | None = None) -> Experiment:
    """``experiment`` moved to ``status`` at ``now``; ValueError for a move :data:`TRANSITIONS`
    forbids (the API answers 409). Moving to ``running`` records ``started_at`` (unless set),
    to ``stopped`` ``stopped_at``: the window attribution reads.

    >>> e = transition(experiment_from_json({"id": "x", "placements": ["home"], "variants": [
    ...     {"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}), "running", now=100.0)
    >>> e.started_at, transition(e, "stopped", now=160.0).stopped_at
    (100.0, 160.0)
    """
    if status not in STATUSES:
        raise ValidationFailed([FieldError("/status", f"must be one of: {', '.join(STATUSES)}")], title="Invalid experiment change")
    if status != experiment.status and status not in TRANSITIONS[experiment.status]:
        raise ValueError(f"an experiment cannot go from {experiment.status} to {status}"
                         f" (allowed: {', '.join(TRANSITIONS[experiment.status]) or 'none, it is final'})")
    stamp = time.time() if now is None else now
    started_at, stopped_at = experiment.started_at, experiment.stopped_at
    if status == "running" and started_at is None:
        started_at = stamp
    if status == "stopped" and experiment.status != "stopped":
        stopped_at = stamp
    return replace(experiment, status=status, status_reason=reason, started_at=started_at, stopped_at=stopped_at)
