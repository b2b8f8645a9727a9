"""The experiments document: YAML beside the placement document (``experiments.yaml`` in the
same artifact store or directory), validated on start with the line of every error.

Format: a list under ``experiments``, each entry an experiment as ``POST /v1/experiments``
takes it (:mod:`tastemaker.experiments.spec`)::

    experiments:
      - id: home-trending
        placements: [home]
        status: running
        variants:
          - {name: control, share: 0.5}
          - name: more-trending
            share: 0.5
            override: {blend: {trending: 0.6}, diversity: {lambda: 0.3}}
        primary_metric: {metric: ctr}
        guardrails: [{metric: revenue, threshold: 0.02}]

The document seeds the experiment store: an id the store does not hold is created as
written when a server starts; from then on the store (``PATCH /v1/experiments/{id}``) owns
its status, and a later edit of that entry in the file is reported, not applied.

>>> [e.id for e in load_experiments("experiments:\\n  - id: t\\n    placements: [home]\\n    variants:\\n"
...                                 "      - {name: a, share: 0.5}\\n      - {name: b, share: 0.5}\\n")]
['t']
>>> try:
...     load_experiments("experiments:\\n  - id: t\\n    placements: [home]\\n    alpha: high\\n")
... except ValidationFailed as exc:
...     print(exc)
/experiments/0/variants: an experiment has at least 2 variants; /experiments/0/alpha: line 4, column 12: must be a number
"""

from __future__ import annotations

import logging
from typing import Any

from tastemaker.experiments.spec import Experiment, experiment_from_json
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.config_document import parse_yaml
from tastemaker.storage.protocols import ArtifactStore

log = logging.getLogger(__name__)
KEY = "experiments.yaml"


def load_experiments(text: str, source: str = KEY) -> list[Experiment]:
    """Experiments from YAML text; every error at once, each with its line and column."""
    doc, marks = parse_yaml(text, source)
    errors: list[FieldError] = []
    out: list[Experiment] = []
    if not isinstance(doc, dict) or set(doc) - {"experiments"}:
        raise ValidationFailed([FieldError("", f"{source} is a mapping with one key, 'experiments' (a list)")],
                               title="Invalid experiments document")
    entries = doc.get("experiments") or []
    if not isinstance(entries, list):
        raise ValidationFailed([FieldError("/experiments", marks.where("/experiments") + "must be a list of experiments")],
                               title="Invalid experiments document")
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            experiment = experiment_from_json(entry, where=marks.where, prefix=f"/experiments/{i}")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            continue
        if experiment.id in seen:
            errors.append(FieldError(f"/experiments/{i}/id", marks.where(f"/experiments/{i}/id") + f"duplicate id '{experiment.id}'"))
        seen.add(experiment.id)
        out.append(experiment)
    if errors:
        raise ValidationFailed(errors, title="Invalid experiments document")
    return out


def read_document(artifacts: ArtifactStore, key: str = KEY) -> list[Experiment]:
    """The experiments of the document ``key`` in ``artifacts`` (none when absent)."""
    data = artifacts.get(key)
    return [] if data is None else load_experiments(data.decode(), key)


def seed(admin: Any, experiments: list[Experiment]) -> list[str]:
    """Create the document's experiments the store does not hold yet (checked against the
    deployment: 422 naming ``/experiments/N/...``); returns the ids created."""
    created, errors = [], []
    for i, experiment in enumerate(experiments):
        found = admin.get(experiment.id)
        if found is not None:
            recorded = {"status": None, "offset": None, "status_reason": None, "started_at": None, "stopped_at": None}
            if {**found[1].to_json(), **recorded} != {**experiment.to_json(), **recorded}:
                log.warning("experiment %s differs from its entry in %s; the stored one stays (change it with PATCH)",
                            experiment.id, KEY)
            continue
        try:
            admin.create(experiment.to_json())
        except ValidationFailed as exc:
            errors.extend(FieldError(f"/experiments/{i}{e.field}", e.reason) for e in exc.errors)
            continue
        created.append(experiment.id)
    if errors:
        raise ValidationFailed(errors, title="Invalid experiments document")
    return created
