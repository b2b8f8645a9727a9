"""The train job leaves out the events of users who withheld ``training`` consent: the fitted
model never sees their rows, and with opt-in consent only granted users are trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.models import families as model_families
from tastemaker.models.family import ModelFamily
from tastemaker.schema.records import Event, User
from tastemaker.storage.factory import Stores, open_stores
from tastemaker.training import job
from tastemaker.training.model_registry import ModelRegistry

PRIVATE = "private-user"
SOLO = ("solo-a", "solo-b")  # items nobody but PRIVATE touched


class RowCounter(ModelFamily):
    """A real (if trivial) family that keeps what it was fitted on: rows and columns."""

    name = "rowcounter"

    def fit(self, interactions: sp.csr_matrix, items=None) -> "RowCounter":
        self.n_users, self.n_items = interactions.shape
        self.cells = int(interactions.nnz)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.zeros((rows.shape[0], self.n_items), dtype=np.float32)


@pytest.fixture
def stores(tmp_path: Path):
    model_families.register(RowCounter)
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    load_dataset(stores, generate(60, 40, 1_500, seed=3))
    stores.events.append([Event(id=f"p-{item}", type="purchase", user_id=PRIVATE, item_id=item, timestamp=1.7e9)
                          for item in SOLO])
    yield stores
    stores.close()
    model_families.unregister(RowCounter.name)


def fitted(stores: Stores, **kwargs) -> tuple[RowCounter, list[str]]:
    result = job.train(stores, RowCounter.name, evaluate=False, promote="always", **kwargs)
    artifact = ModelRegistry(stores.models, stores.artifacts).load(result.version.version)
    return artifact.model, artifact.item_ids


def test_a_user_without_training_consent_has_no_row_and_no_cells(stores: Stores):
    everyone, items = fitted(stores)
    assert set(SOLO) <= set(items)
    stores.users.upsert([User(id=PRIVATE, consent={"training": False, "personalization": True})])
    model, items = fitted(stores)
    assert model.n_users == everyone.n_users - 1  # their row is gone
    assert not set(SOLO) & set(items)  # and so are items only they touched
    assert model.cells == everyone.cells - len(SOLO)


def test_other_refusals_do_not_leave_anyone_out(stores: Stores):
    everyone, _ = fitted(stores)
    stores.users.upsert([User(id=PRIVATE, consent={"personalization": False, "analytics": False})])
    model, items = fitted(stores)
    assert model.n_users == everyone.n_users and set(SOLO) <= set(items)


def test_opt_in_trains_on_granted_users_only(stores: Stores):
    stores.users.upsert([User(id=PRIVATE, consent={"training": True})])
    model, items = fitted(stores, consent_required=True)
    assert model.n_users == 1 and sorted(items) == sorted(SOLO)


def test_training_snapshot_counts_what_it_left_out(stores: Stores):
    from tastemaker.datasets.snapshot import snapshot_events

    snapshot = snapshot_events(stores.events)
    stores.users.upsert([User(id=PRIVATE, consent={"training": False})])
    kept, left_out = job.training_snapshot(stores, snapshot)
    assert left_out == len(SOLO) and len(kept) == len(snapshot) - len(SOLO) and PRIVATE not in kept.user_id
    assert (kept.from_seq, kept.to_seq) == (snapshot.from_seq, snapshot.to_seq)
