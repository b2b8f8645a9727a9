"""ingest.dataset_loader: bundled data sets into a data dir, validated like an import."""

from __future__ import annotations

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.ingest.dataset_loader import load_dataset, load_into
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.storage.factory import open_stores


def test_load_dataset_then_again(stores):
    ds = generate(n_users=8, n_items=25, n_events=150, seed=2)
    assert load_dataset(stores, ds) == {"items": 25, "users": 8, "events": 150}
    assert stores.items.count() == 25 and stores.users.count() == 8 and stores.events.count() == 150
    assert load_dataset(stores, ds)["events"] == 0  # ids are the data set's: a reload is all duplicates
    assert stores.events.count() == 150
    state = StreamProcessor.open(stores, None).state
    assert state.applied_seq == 150 and state.catalog.size() == 25


def test_load_into_a_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", durable=False)
    assert load_into(settings, "synthetic", n_users=5, n_items=20, n_events=60) == {"items": 20, "users": 5, "events": 60}
    stores = open_stores(settings)
    try:
        assert stores.events.count() == 60
    finally:
        stores.close()
