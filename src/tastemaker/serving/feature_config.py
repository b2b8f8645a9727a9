"""The feature document: user-defined streaming features, YAML beside the placement document
(``features.yaml`` in the same artifact store or directory), validated on start and on
``PUT /v1/features`` with the line of every error. The built-in definitions
(:data:`tastemaker.features.definitions.DEFAULT_DEFINITIONS`) are always there; the
document adds to them::

    features:
      - name: user_scroll_sum_90s
        entity: user            # user | item | category
        aggregation: sum        # count sum mean rate ratio mean_ratio since_last trend
        window: 90s             # seconds or a duration (5m, 1h, 1d); none for since_last
        types: [view]           # event types counted (all when absent)
        value: context.scroll   # value | item.price | context.<key>
        buckets: 9              # optional: the window's resolution (default 12, 24 for a day)

Ratios take ``denominator_types`` (and ``denominator_value``), trends ``long_window`` and
``min_count``. Changing the document refolds every feature from the event log.

>>> [d.name for d in load_features("features:\\n  - {name: f, entity: item, aggregation: count, window: 2m}\\n")]
['f']
>>> try:
...     load_features("features:\\n  - {name: f, entity: shop, aggregation: count, window: 2m}\\n")
... except ValidationFailed as exc:
...     print(exc)
/features/0/entity: line 2, column 23: must be one of user, item, category
"""

from __future__ import annotations

from typing import Any

import yaml

from tastemaker.features.definitions import FeatureDefinition, problems
from tastemaker.features.registry import FeatureRegistry
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.config_document import ConfigChecker, Marks, parse_yaml
from tastemaker.storage.protocols import ArtifactStore

KEY = "features.yaml"
FIELDS = ("name", "entity", "aggregation", "window", "types", "value", "denominator_types", "denominator_value",
          "long_window", "min_count", "buckets", "description")
TITLE = "Invalid feature document"
# the document's field name -> the definition's, where they differ
_RENAMED = {"window": "window_s", "long_window": "long_window_s"}
_BACK = {v: k for k, v in _RENAMED.items()}


def definition_from(entry: Any, check: ConfigChecker, path: str) -> FeatureDefinition | None:
    """One definition from a document entry, its errors (with positions) collected in ``check``."""
    entry = check.mapping(entry, path, FIELDS)
    if entry is None:
        return None
    before = len(check.errors)
    name = entry.get("name")
    if not isinstance(name, str):
        check.fail(f"{path}/name", "required: a feature name")
        name = ""
    kw: dict[str, Any] = {}
    for field in ("window", "long_window"):
        if entry.get(field) is not None:
            kw[_RENAMED[field]] = check.duration(entry[field], f"{path}/{field}")
    for field in ("types", "denominator_types"):
        if field in entry:
            kw[field] = check.strings(entry[field], f"{path}/{field}")
    for field in ("entity", "aggregation", "value", "denominator_value", "description"):
        if field in entry:
            if not isinstance(entry[field], str):
                check.fail(f"{path}/{field}", "must be a string")
            else:
                kw[field] = entry[field]
    if "min_count" in entry:
        kw["min_count"] = check.number(entry["min_count"], f"{path}/min_count", 0, 1e9)
    if "buckets" in entry:
        kw["buckets"] = check.number(entry["buckets"], f"{path}/buckets", 1, 1440, integer=True)
    if len(check.errors) > before:
        return None
    d = FeatureDefinition(name, kw.pop("entity", ""), kw.pop("aggregation", ""), **kw)
    for field, reason in problems(d):
        shown = _BACK.get(field, field)
        check.fail(f"{path}/{shown}" if shown in entry or shown == "name" else path,
                   reason if shown in entry or shown == "name" else f"{shown}: {reason}")
    return None if len(check.errors) > before else d


def load_features(text: str, source: str = KEY) -> list[FeatureDefinition]:
    """User-defined definitions from YAML (or JSON) text; every error at once, with positions;
    a name that clashes with a built-in or another entry is refused."""
    doc, marks = parse_yaml(text, source)
    return features_from(doc, marks, source)


def features_from(doc: Any, marks: Marks | None = None, source: str = KEY) -> list[FeatureDefinition]:
    """:func:`load_features` on an already-parsed document (``PUT /v1/features``'s JSON body)."""
    check = ConfigChecker(marks or Marks())
    if not isinstance(doc, dict) or set(doc) - {"features"}:
        raise ValidationFailed([FieldError("", f"{source} is a mapping with one key, 'features' (a list)")], title=TITLE)
    entries = doc.get("features") or []
    if not isinstance(entries, list):
        raise ValidationFailed([FieldError("/features", check.marks.where("/features") + "must be a list")], title=TITLE)
    out, builtin = [], {d.name for d in FeatureRegistry().builtin}
    for i, entry in enumerate(entries):
        d = definition_from(entry, check, f"/features/{i}")
        if d is None:
            continue
        if d.name in builtin or d.name in {o.name for o in out}:
            check.fail(f"/features/{i}/name", f"a feature named '{d.name}' exists already")
            continue
        out.append(d)
    if check.errors:
        raise ValidationFailed(check.errors, title=TITLE)
    return out


def to_document(definitions: list[FeatureDefinition]) -> dict[str, Any]:
    """The document form of user-defined definitions (what :func:`features_from` reads back)."""
    entries = []
    for d in definitions:
        entry = {k: v for k, v in d.to_dict().items() if k in FIELDS or k in _BACK}
        entry = {_BACK.get(k, k): v for k, v in entry.items() if v not in (None, [], "")}
        entries.append(entry)
    return {"features": entries}


def read_features(artifacts: ArtifactStore, key: str = KEY) -> list[FeatureDefinition]:
    """The user-defined features of the document ``key`` in ``artifacts`` (none when absent)."""
    data = artifacts.get(key)
    return [] if data is None else load_features(data.decode(), key)


def write_features(artifacts: ArtifactStore, definitions: list[FeatureDefinition], key: str = KEY) -> None:
    """Write user-defined definitions as the document ``key`` (what :func:`read_features` reads)."""
    artifacts.put(key, yaml.safe_dump(to_document(definitions), sort_keys=False).encode())
