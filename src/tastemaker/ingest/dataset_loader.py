"""Load a bundled data set (MovieLens 100k, synthetic) into a data dir's stores."""

from __future__ import annotations

import time

import msgspec

from tastemaker.config import Settings
from tastemaker.datasets import Dataset, generate, load_ml100k
from tastemaker.ingest.importer import BATCH_ROWS, event_columns
from tastemaker.schema.records import Item, User
from tastemaker.schema.registry import EventSchemaRegistry
from tastemaker.schema.validation import normalize_documents
from tastemaker.storage.factory import Stores, open_stores


def load_dataset(stores: Stores, ds: Dataset) -> dict[str, int]:
    """Write a data set's items, users and events (validated like any import)."""
    items = normalize_documents([msgspec.convert(i, Item) for i in ds.items])
    users = normalize_documents([msgspec.convert(u, User) for u in ds.users])
    if items:
        stores.items.upsert(items)
    if users:
        stores.users.upsert(users)
    registry = EventSchemaRegistry(stores.schemas.load_all())
    now = time.time()
    batches = (
        event_columns(ds.events.slice(start, BATCH_ROWS), registry, start, ds.name, now)
        for start in range(0, ds.events.num_rows, BATCH_ROWS)
    )
    inserted, _ = stores.events.append_columns(batches)
    return {"items": len(items), "users": len(users), "events": inserted}


def load_into(settings: Settings, name: str, **synthetic_args: int) -> dict[str, int]:
    """Load ``movielens`` (ML-100k from the recbole package) or ``synthetic`` into ``settings.data_dir``."""
    ds = load_ml100k() if name == "movielens" else generate(**({"n_users": 2_000, "n_items": 5_000, "n_events": 200_000} | synthetic_args))
    with open_stores(settings) as stores:
        return load_dataset(stores, ds)
