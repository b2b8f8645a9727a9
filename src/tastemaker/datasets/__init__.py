"""Data sets for tastemaker: a shared container, a synthetic generator and MovieLens-100k,
plus what every training run and offline evaluation reads: a consistent snapshot of the
event log (:mod:`.snapshot`) and the interaction matrix built from events (:mod:`.interactions`).

Example:
    >>> from tastemaker.datasets import generate
    >>> ds = generate(n_users=20, n_items=50, n_events=300, seed=0)
    >>> ds.events.num_rows
    300
"""

from tastemaker.datasets.frame import (
    EVENT_SCHEMA,
    EVENT_TYPES,
    Dataset,
    EventFrame,
    empty_events,
    validate_events,
    write_events_jsonl,
)
from tastemaker.datasets.movielens import DatasetUnavailable, load_ml100k
from tastemaker.datasets.synthetic import generate

__all__ = [
    "EVENT_SCHEMA",
    "EVENT_TYPES",
    "Dataset",
    "DatasetUnavailable",
    "EventFrame",
    "empty_events",
    "generate",
    "load_ml100k",
    "validate_events",
    "write_events_jsonl",
]
