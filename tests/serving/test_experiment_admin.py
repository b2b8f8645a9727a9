"""serving.experiment_admin: creation, exclusion-group offsets, PATCH rules, stops, canaries."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.experiment_admin import ExperimentAdmin, InvalidTransition
from tastemaker.serving.experiments import ExperimentRouter
from tastemaker.serving.placements import DEFAULT_PLACEMENTS
from tastemaker.storage.factory import open_stores


def doc(id="t", shares=(0.5, 0.5), **kw):
    return {"id": id, "placements": ["home"], **kw,
            "variants": [{"name": f"v{i}", "share": s} for i, s in enumerate(shares)]}


@pytest.fixture
def admin(tmp_path):
    with open_stores(Settings(data_dir=tmp_path / "d", durable=False)) as stores:
        router = ExperimentRouter(stores.experiments, lambda versions: {})
        yield ExperimentAdmin(stores.experiments, router, DEFAULT_PLACEMENTS.get, lambda v: v in (1, 2), stores.audit)


def test_create_places_group_members_side_by_side_and_refuses_a_full_group(admin):
    _, a = admin.create(doc("a", (0.3, 0.3), exclusion_group="g"))
    _, b = admin.create(doc("b", (0.2, 0.2), exclusion_group="g"))
    assert (a.offset, b.offset) == (0, 6000)
    with pytest.raises(InvalidTransition, match="no room"):
        admin.create(doc("c", (0.1, 0.1), exclusion_group="g"))
    admin.patch("a", {"status": "stopped"})
    assert admin.create(doc("c", (0.1, 0.1), exclusion_group="g"))[1].offset == 0  # a stopped member frees its range
    with pytest.raises(InvalidTransition, match="exists already"):
        admin.create(doc("b"))
    with pytest.raises(ValidationFailed) as exc:
        admin.create(doc("d", placements=["basket"]))
    assert exc.value.errors[0].field == "/placements/0"


def test_patch_moves_status_forward_only_and_changes_shares(admin):
    admin.create(doc())
    record, e, change = admin.patch("t", {"status": "running", "shares": {"v1": 0.2}, "name": "renamed"})
    assert (record.version, e.status, [v.share for v in e.variants], e.name) == (2, "running", [0.5, 0.2], "renamed")
    assert change == {"status": "running", "shares": {"v1": 0.2}, "name": "renamed"}
    assert admin.router.running["t"].variants[1].share == 0.2  # the router follows at once
    with pytest.raises(InvalidTransition, match="from running to draft"):
        admin.patch("t", {"status": "draft"})
    admin.patch("t", {"status": "stopped", "status_reason": "enough data"})
    assert admin.get("t")[1].status_reason == "enough data"
    with pytest.raises(InvalidTransition, match="stopped experiment's shares"):
        admin.patch("t", {"shares": {"v0": 0.1}})
    assert admin.patch("nope", {"status": "stopped"}) is None


@pytest.mark.parametrize("body, field", [({"variants": []}, "/variants"), ({}, ""), ([], ""),
                                         ({"shares": {"v9": 0.1}}, "/shares/v9"), ({"shares": {"v0": 0.9}}, "/shares"),
                                         ({"stop": "soon"}, "/stop"), ({"status": "paused"}, "/status"),
                                         ({"status": "stopped", "status_reason": 3}, "/status_reason")])
def test_patch_names_what_it_refuses_and_changes_nothing(admin, body, field):
    admin.create(doc())
    with pytest.raises(ValidationFailed) as exc:
        admin.patch("t", body)
    assert field in {e.field for e in exc.value.errors}
    assert admin.store.get("t").version == 1


def test_stop_is_audited_once(admin):
    admin.create(doc(status="running"))
    assert admin.stop("t", "bad idea", "k1")
    assert not admin.stop("t", "again", "k1")
    (record,) = admin.audit.read(action="experiments.stop")
    assert (record.actor, record.target, record.summary) == ("k1", "t", {"reason": "bad idea"})


def test_canaries_one_at_a_time_and_ended_by_a_promotion(admin):
    _, c = admin.start_canary(2, 0.1, serving_version=1)
    assert c.kind == "canary" and c.variants[0].override.model_version == 1
    with pytest.raises(InvalidTransition):
        admin.start_canary(2, 0.1, serving_version=1)  # its group is full while one runs
    with pytest.raises(InvalidTransition, match="serves already"):
        admin.start_canary(1, 0.1, serving_version=1)
    with pytest.raises(ValidationFailed):
        admin.start_canary(2, 1.0, serving_version=1)
    with pytest.raises(ValidationFailed) as exc:
        admin.start_canary(7, 0.1, serving_version=1)
    assert exc.value.errors[0].field == "/variants/1/override/model_version"
    assert admin.end_canaries_of(2, "promoted", "k1") == [c.id]
    assert admin.get(c.id)[1].status_reason == "promoted"


def test_growing_shares_in_a_group_may_not_overlap_a_neighbour(admin):
    admin.create(doc("a", (0.2, 0.2), exclusion_group="g"))
    admin.create(doc("b", (0.2, 0.2), exclusion_group="g"))
    with pytest.raises(InvalidTransition, match="overlap experiment 'b'"):
        admin.patch("a", {"shares": {"v0": 0.3}})
    assert admin.patch("b", {"shares": {"v0": 0.3}})[1].buckets == 5000  # b's side is free
    assert admin.patch("a", {"shares": {"v0": 0.1}})[1].buckets == 3000  # shrinking always fits
