"""serving.experiments: overrides compiled into placements, deployment checks, the router
over a real store, and the recommender serving, answering and logging assignments."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.experiments.spec import Override, experiment_from_json
from tastemaker.models.popularity import PopularityModel
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Item
from tastemaker.serving.experiments import (ExperimentRouter, check_experiment, compile_override, holdout_placement)
from tastemaker.serving.impressions import ImpressionLogger
from tastemaker.serving.placements import DEFAULT_PLACEMENTS
from tastemaker.storage.factory import open_stores

from .conftest import World

HOME = DEFAULT_PLACEMENTS["home"]


def exp(id="t", shares=(0.5, 0.5), overrides=({}, {}), **kw):
    return experiment_from_json({"id": id, "status": "running", "placements": kw.pop("placements", ["home"]), **kw,
                                 "variants": [{"name": f"v{i}", "share": s, "override": o}
                                              for i, (s, o) in enumerate(zip(shares, overrides))]})


def test_compile_override_changes_what_the_variant_names():
    p = compile_override(HOME, Override(blend={"trending": {"weight": 2.0}, "popular": {"weight": 0.5, "n": 30},
                                               "covisitation": {"weight": 0.0}},
                                        rules=({"filter": "in_stock"}, {"boost": 'brand == "a"', "factor": 2}),
                                        diversity={"lambda": 0.4, "by": "categories", "calibration": 0.0, "method": "mmr"}))
    assert p.sources["trending"].weight == 2.0 and p.sources["trending"].explicit
    assert (p.sources["popular"].weight, p.sources["popular"].n) == (0.5, 30) and "covisitation" not in p.sources
    assert len(p.rules.filters) == 1 and len(p.rules.boosts) == 1 and p.diversity.lambda_ == 0.4 and p.staged
    assert compile_override(HOME, Override()) is HOME


@pytest.mark.parametrize("override, field", [
    (Override(blend={"nope": {"weight": 1.0}}), "/variants/1/override/blend/nope"),
    (Override(blend={k: {"weight": 0.0} for k in HOME.sources}), "/variants/1/override/blend"),
    (Override(rules=({"boost": "price >> 2"},)), "/variants/1/override/rules/0/boost"),
    (Override(rules=({"filter": "colour"},)), "/variants/1/override/rules/0/filter"),
])
def test_compile_override_names_the_bad_field(override, field):
    with pytest.raises(ValidationFailed) as exc:
        compile_override(HOME, override, "/variants/1/override")
    assert field in {e.field for e in exc.value.errors}, exc.value.errors


def test_holdout_is_popularity_with_the_business_rules_kept():
    p = holdout_placement(compile_override(HOME, Override(rules=({"filter": "in_stock"},), ranker="ltr")))
    assert list(p.sources) == ["popular"] and p.ranker == "blend" and len(p.rules.filters) == 1


def test_check_experiment_against_the_deployment():
    known = {"home": HOME}.get
    check_experiment(exp(overrides=({}, {"model_version": 2})), known, lambda v: v == 2)
    with pytest.raises(ValidationFailed) as exc:
        check_experiment(exp(placements=["home", "basket"], overrides=({"model_version": 9}, {"rules": [{"pin": 3}]})),
                         known, lambda v: False)
    assert {e.field for e in exc.value.errors} >= {"/placements/1", "/variants/0/override/model_version",
                                                     "/variants/1/override/rules/0/pin"}
    check_experiment(exp(placements=["*"]), lambda name: None, lambda v: False)  # every placement: the built-ins checked


@pytest.fixture
def stores(tmp_path):
    with open_stores(Settings(data_dir=tmp_path / "data", durable=False)) as s:
        yield s


def test_the_router_follows_the_store_and_waits_for_model_versions(stores):
    loaded: dict[int, object] = {}
    router = ExperimentRouter(stores.experiments, lambda versions: {v: loaded[v] for v in versions if v in loaded})
    assert not router.assigner
    stores.experiments.create("t", exp().to_json())
    router.refresh()
    assert [x.experiment.id for x in router.assign("u", "home", {}, None).exposures] == ["t"]
    stores.experiments.create("m", exp("m", overrides=({}, {"model_version": 4})).to_json())
    router.refresh()
    assert "m" in router.running and all(x.experiment.id != "m" for u in "abcdefgh" for x in router.assign(u, "home", {}, None).exposures)
    loaded[4] = object()
    router.invalidate()
    router.refresh()
    assert any(x.experiment.id == "m" for u in "abcdefgh" for x in router.assign(u, "home", {}, None).exposures)
    stores.experiments.update("t", {**exp().to_json(), "status": "stopped"}, 1)
    router.refresh()
    assert set(router.running) == {"m"}


class Broken(PopularityModel):
    """A candidate model version with a bug: every call fails."""

    version = "9"

    def candidates(self, state, user, n):
        raise RuntimeError("bug in v9")


@pytest.fixture
def world(stores):
    w = World()
    w.items(*(Item(id=f"i{k}", categories=["c"], stock=3) for k in range(20)))
    for k in range(40):
        w.event("view", f"user-{k % 8}", f"i{k % 20}")
    w.recommender.impressions = ImpressionLogger(stores.impressions, flush_every_s=60)
    w.recommender.experiments = ExperimentRouter(stores.experiments, lambda vs: {v: Broken(w.toplists) for v in vs})
    yield w
    w.recommender.impressions.close()


def test_the_recommender_answers_and_logs_assignments_for_any_placement(world, stores):
    assert "experiments" not in world.recommend("user-1")
    stores.experiments.create("t", exp(shares=(0.5, 0.5), overrides=({}, {"blend": {"trending": 9.0}})).to_json())
    bodies = {u: world.recommend(u, explain=True) for u in (f"user-{k}" for k in range(8))}
    for user, body in bodies.items():
        (e,) = body["experiments"]
        assert (e["id"], e["propensity"]) == ("t", 0.5)
        assert (body["blend"]["trending"]["weight"] == 9.0) == (e["variant"] == "v1")
    world.recommender.impressions.flush()
    logged = stores.impressions.read_experiment("t")  # the built-in placement logs no features, yet its experiments
    assert {r.user_id: r.experiments for r in logged} == {u: b["experiments"] for u, b in bodies.items()}
    assert {r.recommendation_id for r in logged} == {b["recommendation_id"] for b in bodies.values()}
    assert all(r.features is None for r in logged)


def test_a_failing_canary_variant_is_counted_and_the_user_served_control(world, stores):
    canary = exp("c", shares=(0.5, 0.5), overrides=({}, {"model_version": 9}), kind="canary",
                 guardrails=[{"metric": "error_rate", "threshold": 0.01}])
    stores.experiments.create("c", canary.to_json())
    served = [world.recommend(f"user-{k}") for k in range(8)]
    failed = [b for b in served if "experiments" not in b]  # served as if in no experiment
    assert failed and all(b["items"] for b in served)
    stats = world.recommender.experiments.monitor.metrics(canary)
    assert stats["v1"]["errors"] == stats["v1"]["requests"] == len(failed)
    assert all(b["experiments"][0]["variant"] == "v0" for b in served if "experiments" in b)


def test_a_failing_variant_of_an_unmonitored_experiment_fails_the_request(world, stores):
    stores.experiments.create("m", exp("m", shares=(0.5, 0.5), overrides=({"model_version": 9}, {"model_version": 9})).to_json())
    with pytest.raises(RuntimeError, match="bug in v9"):
        world.recommend("user-1")
