"""serving.experiment_config: the YAML document, its line-numbered errors, seeding the store."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.experiment_admin import ExperimentAdmin
from tastemaker.serving.experiment_config import load_experiments, read_document, seed
from tastemaker.serving.experiments import ExperimentRouter
from tastemaker.serving.placements import DEFAULT_PLACEMENTS
from tastemaker.storage.factory import open_stores

DOC = """experiments:
  - id: one
    placements: [home]
    status: running
    variants:
      - {name: a, share: 0.5}
      - {name: b, share: 0.5, override: {blend: {trending: 2}}}
  - id: two
    placements: [cart]
    variants:
      - {name: a, share: 0.1}
      - {name: b, share: 0.1}
"""


def test_load_and_errors_with_lines():
    assert [(e.id, e.status) for e in load_experiments(DOC)] == [("one", "running"), ("two", "draft")]
    assert load_experiments("experiments: []\n") == []
    with pytest.raises(ValidationFailed) as exc:
        load_experiments(DOC.replace("id: two", "id: one").replace("share: 0.1}\n", "share: x}\n", 1))
    assert [(e.field, e.reason) for e in exc.value.errors] == [
        ("/experiments/1/variants/0/share", "line 11, column 26: must be a number")]
    with pytest.raises(ValidationFailed) as exc:
        load_experiments(DOC.replace("id: two", "id: one"))
    assert [(e.field, e.reason) for e in exc.value.errors] == [("/experiments/1/id", "line 8, column 9: duplicate id 'one'")]
    for bad in ("placements: {}\n", "experiments: {a: 1}\n", "experiments: [\n"):
        with pytest.raises(ValidationFailed):
            load_experiments(bad)


def test_seed_creates_what_the_store_lacks_and_leaves_the_rest(tmp_path):
    with open_stores(Settings(data_dir=tmp_path / "d", durable=False)) as stores:
        assert read_document(stores.artifacts) == []
        stores.artifacts.put("experiments.yaml", DOC.encode())
        admin = ExperimentAdmin(stores.experiments, ExperimentRouter(stores.experiments, lambda v: {}),
                                DEFAULT_PLACEMENTS.get, lambda v: False)
        assert seed(admin, read_document(stores.artifacts)) == ["one", "two"]
        admin.patch("one", {"status": "stopped"})
        assert seed(admin, read_document(stores.artifacts)) == []  # the store owns them now
        assert stores.experiments.get("one").status == "stopped"
