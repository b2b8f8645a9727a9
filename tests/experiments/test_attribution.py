"""experiments.attribution: outcomes joined to an experiment's lists per user (with and
without recommendation_id, window edges, pre-period covariates, list metrics), and from real
SQLite stores, where an erased user's lists and events are gone."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tastemaker.config import Settings
from tastemaker.experiments.attribution import METRICS, attribute_experiment, position_before, user_metrics
from tastemaker.experiments.spec import experiment_from_json
from tastemaker.schema.records import Event, Item
from tastemaker.storage.factory import open_stores
from tastemaker.storage.protocols import ImpressionRecord

EXP = "ctr-test"
START, END, WINDOW = 1000.0, 2000.0, 100.0
PRICES = {"a": 10.0, "b": 20.0, "c": 5.0, "d": 1.0}
CATEGORIES = {"a": "shoes", "b": "shoes", "c": "hats", "d": "hats"}


def shown(rid, user, ts, items, variant=EXP and "control", experiment=EXP, placement="home", seq=0):
    tags = [{"id": experiment, "variant": variant, "propensity": 0.5}] if experiment else []
    return ImpressionRecord(rid, placement, user, ts, list(items), log_seq=seq, experiments=tags)


def event(n, type, user, item, ts, rec=None, value=None, session="s1", context=None, properties=None):
    return Event(id=f"e{n}", type=type, user_id=user, item_id=item, timestamp=ts, recommendation_id=rec,
                 value=value, session_id=session, context=context, properties=properties)


def row(result, user):
    i = list(result.users.user_id).index(user)
    return {m: float(result.users.metrics[m][i]) for m in METRICS} | {
        "variant": result.users.variant[i], **{k: float(v[i]) for k, v in result.users.covariates.items()}}


IMPRESSIONS = [
    shown("p1", "u1", 900.0, "ab", experiment=None),          # pre-period list of u1
    shown("r1", "u1", 1000.0, "abc"),                         # at the start: in the experiment
    shown("r2", "u1", 1500.0, "cd"),
    shown("r3", "u2", 1100.0, "ab", variant="treatment"),
    shown("x1", "u2", 1200.0, "c", experiment=None),          # a list outside the experiment
    shown("r4", "u3", 1999.0, "d", variant="treatment"),      # just before the end
    shown("r5", "u4", 2000.0, "a"),                           # at the end: outside [start, end)
]
EVENTS = [
    event(1, "click", "u1", "a", 950.0, "p1"),                 # pre-period click (covariate)
    event(2, "purchase", "u1", "b", 960.0, "p1", value=20.0),  # pre-period revenue
    event(3, "click", "u1", "a", 1000.0, "r1"),                # linked, at the impression
    event(4, "click", "u1", "b", 1100.0, "r1"),                # linked, at the window's end
    event(5, "click", "u1", "c", 1100.5, "r1"),                # linked, past the window: dropped
    event(6, "add_to_cart", "u1", "d", 1550.0, context={"recommendation_id": "r2"}),  # linked by context
    event(7, "purchase", "u1", "d", 1560.0, session="s2"),     # unlinked -> r2 (latest list with d); catalogue price
    event(8, "click", "u2", "a", 1150.0),                      # unlinked -> r3
    event(9, "click", "u2", "c", 1210.0),                      # unlinked -> x1, outside the experiment
    event(10, "purchase", "u2", "b", 1160.0, "r3", properties={"price": 7.5}),  # properties.price
    event(11, "click", "u3", "d", 1990.0),                     # before u3's only list: never attributed
    event(12, "click", "u3", "d", 2050.0),                     # after the end, inside r4's window: counts
    event(13, "view", "u3", "d", 1995.0, session="s9"),
    event(14, "click", "u2", "c", 800.0, session="p1"),        # before the start, no list logged: behaviour
    event(15, "click", "u2", "a", 810.0, session="p1"),
    event(16, "view", "u2", "a", 820.0, session="p2"),
    event(17, "click", "u1", "c", 1520.0, "unlogged"),         # answers a list never logged: not credited to r2
]


def measure(impressions=IMPRESSIONS, events=EVENTS):
    return user_metrics(EXP, impressions, events, START, END, WINDOW, pre_period_s=500.0, placements=["home"],
                        price_of=PRICES.get, category_of=CATEGORIES.get, catalog_size=8)


def test_outcomes_join_by_recommendation_id_context_and_user_and_item():
    result = measure()
    assert list(result.users.user_id) == ["u1", "u2", "u3"]  # by first exposure; u4's list is at the end
    assert list(result.users.exposure_ts) == [1000.0, 1100.0, 1999.0]
    u1 = row(result, "u1")
    assert u1["variant"] == "control" and u1["exposures"] == 2 and u1["clicks"] == 2
    assert u1["ctr"] == 0.5 and u1["add_to_cart_rate"] == 0.5 and u1["conversion"] == 1.0
    assert u1["revenue"] == PRICES["d"]  # no value, no properties.price: the catalogue's
    assert u1["items_per_session"] == 4 / 2  # a, b, d (cart), d (s2): 4 (session, item) pairs over s1, s2
    u2 = row(result, "u2")
    assert (u2["variant"], u2["clicks"], u2["ctr"], u2["revenue"]) == ("treatment", 1.0, 1.0, 7.5)
    u3 = row(result, "u3")
    assert (u3["clicks"], u3["ctr"]) == (1.0, 1.0)
    assert u3["items_per_session"] == 1 / 2  # sessions s1 and s9 in the period (the click at 2050 is after it)
    assert result.outcomes == {"click": 4, "add_to_cart": 1, "purchase": 2}


def test_pre_period_covariates_are_the_same_metrics_from_behaviour_before_the_start():
    u1 = row(measure(), "u1")
    assert (u1["pre_exposures"], u1["pre_clicks"], u1["pre_ctr"], u1["pre_revenue"]) == (1.0, 1.0, 1.0, 20.0)
    u2 = row(measure(), "u2")  # no list logged before the start: sessions stand in for lists
    assert (u2["pre_exposures"], u2["pre_clicks"], u2["pre_ctr"], u2["pre_items_per_session"]) == (0.0, 2.0, 0.5, 1.0)
    u3 = row(measure(), "u3")
    assert all(u3[f"pre_{m}"] == 0.0 for m in METRICS)  # nothing before the start
    segments = dict(zip(measure().users.user_id, measure().users.segments["pre_period"]))
    assert segments == {"u1": "returning", "u2": "returning", "u3": "new"}


def test_list_metrics_per_variant():
    lists = measure().lists
    assert lists["control"].lists == 2 and lists["control"].distinct_items == 4
    assert lists["control"].coverage == 4 / 8
    # abc: one shoes pair of 3 -> 2/3 differ; cd: same category -> 0
    assert math.isclose(lists["control"].diversity, (2 / 3 + 0) / 2)
    assert lists["treatment"].lists == 2 and lists["treatment"].coverage == 3 / 8
    assert lists["treatment"].diversity == 0.0  # ab: both shoes; d alone has no pairs
    unknown = user_metrics(EXP, IMPRESSIONS, [], START, END, WINDOW).lists["control"]
    assert unknown.to_json() == {"lists": 2, "distinct_items": 4, "coverage": None, "diversity": None}


def test_a_user_seen_under_two_variants_stays_in_the_first():
    result = measure(IMPRESSIONS + [shown("r6", "u1", 1700.0, "a", variant="treatment")])
    assert result.crossovers == 1 and row(result, "u1")["variant"] == "control"
    assert row(result, "u1")["exposures"] == 2


def test_no_lists_no_users():
    result = user_metrics(EXP, [], EVENTS, START, END)
    assert len(result.users.user_id) == 0 and all(len(v) == 0 for v in result.users.metrics.values())


@pytest.fixture
def stores(tmp_path):
    s = open_stores(Settings(data_dir=tmp_path, durable=False))
    yield s
    s.close()


def test_from_the_stores_erased_users_are_gone(stores):
    experiment = experiment_from_json({"id": EXP, "placements": ["home"], "status": "running", "start": START,
                                       "variants": [{"name": "control", "share": 0.5},
                                                    {"name": "treatment", "share": 0.5}]})
    stores.items.upsert([Item(id=i, price=p, categories=[CATEGORIES[i]]) for i, p in PRICES.items()])
    stores.events.append(sorted(EVENTS, key=lambda e: e.timestamp))
    # lists computed after every event was logged: the pre-period's events are before them all
    stores.impressions.append([replace(i, log_seq=stores.events.last_seq()) for i in IMPRESSIONS])
    expected = measure()
    got = attribute_experiment(stores, experiment, now=END, window_s=WINDOW, pre_period_s=500.0)
    assert list(got.users.user_id) == list(expected.users.user_id)
    for m in METRICS:
        np.testing.assert_array_equal(got.users.metrics[m], expected.users.metrics[m], err_msg=m)
        np.testing.assert_array_equal(got.users.covariates[f"pre_{m}"], expected.users.covariates[f"pre_{m}"])
    assert got.lists["control"].coverage == 4 / 4  # the catalogue holds 4 items
    stores.impressions.erase_user("u1")
    stores.events.erase_user("u1")
    after = attribute_experiment(stores, experiment, now=END, window_s=WINDOW, pre_period_s=500.0)
    assert "u1" not in list(after.users.user_id) and "control" not in after.lists


def test_from_the_stores_the_window_is_when_it_ran(stores):
    """Recorded start and stop bound the lists; a stopped experiment's window does not run to now,
    and a scheduled start later than the recorded one wins."""
    doc = {"id": EXP, "placements": ["home"], "status": "stopped", "started_at": 1050.0, "stopped_at": 1600.0,
           "variants": [{"name": "control", "share": 0.5}, {"name": "treatment", "share": 0.5}]}
    stores.events.append(sorted(EVENTS, key=lambda e: e.timestamp))
    stores.impressions.append([replace(i, log_seq=stores.events.last_seq()) for i in IMPRESSIONS])
    got = attribute_experiment(stores, experiment_from_json(doc), now=END + 10_000, window_s=WINDOW, pre_period_s=500.0)
    assert (got.start, got.end) == (1050.0, 1600.0)
    # r1 (1000) is before the start, r4 (1999) after the stop: u1 keeps r2, u2 r3, u3 is out
    assert list(got.users.user_id) == ["u2", "u1"] and list(got.users.metrics["exposures"]) == [1.0, 1.0]
    later = attribute_experiment(stores, experiment_from_json({**doc, "start": 1200.0}), now=END + 10_000,
                                 window_s=WINDOW, pre_period_s=500.0)
    assert (later.start, later.end) == (1200.0, 1600.0) and list(later.users.user_id) == ["u1"]


def test_position_before_finds_where_a_time_starts_in_the_log(stores):
    stores.events.append([event(n, "view", "u", "a", float(ts)) for n, ts in enumerate([10, 20, 20, 30, 40])])
    for ts, first in ((0.0, 10.0), (10.0, 10.0), (15.0, 20.0), (20.0, 20.0), (35.0, 40.0)):
        rows = stores.events.read_since(position_before(stores.events, ts), 100)
        assert rows[0][1].timestamp == first and len(rows) == sum(t >= ts for t in (10, 20, 20, 30, 40)), ts
    assert stores.events.read_since(position_before(stores.events, 41.0), 100) == []


def test_segments_from_the_request_context_else_user_traits():
    extra = [event(20, "view", "u1", "a", 1001.0, context={"device": "mobile"}),
             event(21, "view", "u1", "a", 1002.0, context={"device": "desktop"}),  # the first one counts
             event(22, "view", "u2", "a", 1101.0, context={"device": "desktop", "country": "FR"}),
             event(23, "view", "u3", "a", 950.0, context={"device": "tv"})]     # before the start: not used
    traits = {"u3": {"country": "DE"}, "u1": {"country": ""}}
    result = user_metrics(EXP, IMPRESSIONS, EVENTS + extra, START, END, WINDOW, pre_period_s=500.0,
                          placements=["home"], traits_of=traits.get)
    assert list(result.users.user_id) == ["u1", "u2", "u3"]
    assert list(result.users.segments["device"]) == ["mobile", "desktop", "unknown"]
    assert list(result.users.segments["country"]) == ["unknown", "FR", "DE"]
    assert set(measure().users.segments) == {"pre_period"}  # nobody has one: no column
