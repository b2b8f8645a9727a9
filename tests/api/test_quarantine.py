"""/v1/quarantine over HTTP: bots held on POST /v1/events, listed, released (folded back, audited),
confirmed; metrics; every bad input a 4xx naming the field; admin only."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .helpers import JOB_POLL_S, JOB_WAIT_S, assert_problem

CURL = "curl/8.4.0"


@pytest.fixture(autouse=True)
def bot_detection(settings):
    """The guard is off by default (TASTEMAKER_BOT_DETECTION): these tests turn it on."""
    settings.bot_detection = True


NOW = time.time() - 3600  # recent: popularity decays over days, so these events weigh about 1


def popularity(client, item: str) -> float:
    state = client.app.state.engine.state
    pos = state.index.get(item)
    return 0.0 if pos is None else float(state.popularity_scores()[pos])


def post_crawler(client, n: int = 8, user: str = "crawler", item: str = "i05") -> None:
    events = [{"id": f"{user}-{item}-{k}", "type": "view", "user_id": user, "item_id": item, "timestamp": NOW + 9 * k,
               "context": {"user_agent": CURL}} for k in range(n)]
    r = client.post("/v1/events", json=events)
    assert r.status_code == 200 and r.json()["accepted"] == n, r.text


def test_a_crawler_is_held_listed_and_counts_nowhere_until_released(seeded):
    before = popularity(seeded, "i05")
    post_crawler(seeded)
    assert popularity(seeded, "i05") == before
    page = seeded.get("/v1/quarantine", params={"user_id": "crawler"}).json()
    assert len(page["events"]) == 8 and page["next_after"] is None
    assert {(e["reason"], e["status"], e["item_id"], e["type"]) for e in page["events"]} == {("user_agent", "held", "i05", "view")}
    first = seeded.get("/v1/quarantine", params={"limit": 3}).json()
    assert len(first["events"]) == 3 and first["next_after"] == first["events"][-1]["seq"]
    rest = seeded.get("/v1/quarantine", params={"after": first["next_after"]}).json()["events"]
    assert len(rest) == 5 and rest[0]["seq"] > first["next_after"]
    users = seeded.get("/v1/quarantine/users").json()["users"]
    assert users == [{"user_id": "crawler", "events": 8, "reasons": ["user_agent"],
                      "first_seq": page["events"][0]["seq"], "last_seq": page["events"][-1]["seq"]}]

    r = seeded.post("/v1/quarantine/release", json={"user_id": "crawler"})
    assert r.status_code == 200 and r.json()["changed"] == 8
    assert {e["status"] for e in r.json()["events"]} == {"released"}
    assert popularity(seeded, "i05") > before
    assert seeded.get("/v1/quarantine/users").json()["users"] == []  # none held
    assert seeded.get("/v1/quarantine/users", params={"status": "released"}).json()["users"][0]["events"] == 8
    records = seeded.get("/v1/audit", params={"action": "quarantine.release"}).json()["records"]
    assert len(records) == 1 and records[0]["target"] == "user" and records[0]["summary"]["events"] == 8
    assert "crawler" not in str(records[0])  # no user id in the append-only log
    post_crawler(seeded, 2, item="i06")  # trusted from now on
    assert seeded.get("/v1/quarantine", params={"status": "held"}).json()["events"] == []


def test_confirm_keeps_events_out_and_is_audited(seeded):
    post_crawler(seeded, 4, user="spider", item="i07")
    seqs = [e["seq"] for e in seeded.get("/v1/quarantine").json()["events"]]
    r = seeded.post("/v1/quarantine/confirm", json={"seqs": seqs[:2]})
    assert r.status_code == 200 and r.json()["changed"] == 2
    statuses = [e["status"] for e in seeded.get("/v1/quarantine", params={"user_id": "spider"}).json()["events"]]
    assert statuses == ["confirmed", "confirmed", "held", "held"]
    assert seeded.get("/v1/audit", params={"action": "quarantine.confirm"}).json()["records"][0]["summary"]["seqs"] == seqs[:2]
    assert popularity(seeded, "i07") == popularity(seeded, "i07")  # (read twice: stable)


def test_a_fast_scraper_is_taken_back_out_after_it_is_caught(seeded):
    before = {item: popularity(seeded, item) for item in ("i10", "i11")}
    times = NOW + np.cumsum(np.random.default_rng(2).uniform(0.2, 0.6, 30))
    for k, t in enumerate(times):  # one request per event, as a scraper sends them
        r = seeded.post("/v1/events", json={"id": f"fast-{k}", "type": "view", "user_id": "fast",
                                            "item_id": "i10" if k % 2 else "i11", "timestamp": float(t)})
        assert r.status_code == 200
    # the first 12 were folded, then taken back out: equal up to float rounding of the subtraction
    assert {item: popularity(seeded, item) for item in ("i10", "i11")} == pytest.approx(before, rel=1e-12)
    assert seeded.app.state.engine.state.index.get("i10") is not None
    events = seeded.get("/v1/quarantine", params={"user_id": "fast"}).json()["events"]
    assert len(events) == 30 and {e["reason"] for e in events} == {"rate"}


def test_metrics_export_holds_and_anomaly_signals(seeded):
    post_crawler(seeded, 3)
    text = seeded.get("/metrics").text
    assert "tastemaker_quarantine_held_user_agent 3.0" in text
    for signal in ("event_rate", "type_mix", "item_spike"):
        assert f"tastemaker_anomaly_{signal}_zscore" in text and f"tastemaker_anomaly_{signal}_alert 0.0" in text


def test_bad_queries_are_400_naming_the_parameter(client):
    assert_problem(client.get("/v1/quarantine", params={"status": "maybe"}), 400, "status")
    assert_problem(client.get("/v1/quarantine", params={"limit": "0"}), 400, "limit")
    assert_problem(client.get("/v1/quarantine", params={"after": "-1"}), 400, "after")
    assert_problem(client.get("/v1/quarantine", params={"userid": "x"}), 400, "userid")
    assert_problem(client.get("/v1/quarantine/users", params={"status": "maybe"}), 400, "status")
    assert client.get("/v1/quarantine/users", params={"status": "any"}).status_code == 200


def test_bad_decisions_are_4xx_and_change_nothing(client):
    post_crawler(client, 2)
    assert_problem(client.post("/v1/quarantine/release", json={}), 422, "/")
    assert_problem(client.post("/v1/quarantine/release", json={"seqs": [1], "user_id": "crawler"}), 422, "/")
    assert_problem(client.post("/v1/quarantine/confirm", json={"seqs": [0]}), 422)
    assert_problem(client.post("/v1/quarantine/confirm", json={"seqs": "1"}), 422)
    assert_problem(client.post("/v1/quarantine/release", json={"user": "crawler"}), 422)
    assert_problem(client.post("/v1/quarantine/release", content=b'{"user_id": "crawler",}',
                               headers={"content-type": "application/json"}), 400)
    assert {e["status"] for e in client.get("/v1/quarantine").json()["events"]} == {"held"}
    assert client.get("/v1/audit", params={"action": "quarantine."}).json()["records"] == []


def test_only_admin_may_manage_the_quarantine(client):
    key = client.post("/v1/keys", json={"name": "shop", "scopes": ["read", "ingest"]}).json()["token"]
    other = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/quarantine", headers=other).status_code == 403
    assert client.post("/v1/quarantine/release", json={"user_id": "x"}, headers=other).status_code == 403


def test_erasing_a_quarantined_user_uncounts_nothing_and_drops_their_flags(seeded):
    before = popularity(seeded, "i05")
    post_crawler(seeded, 6)
    job = seeded.delete("/v1/users/crawler", params={"erase": "true"}).json()
    deadline = time.monotonic() + JOB_WAIT_S
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(JOB_POLL_S)
        job = seeded.get(f"/v1/privacy/jobs/{job['id']}").json()
    assert job["status"] == "done" and job["steps"]["quarantine"] == 6 and job["steps"]["events_found"] == 0
    assert popularity(seeded, "i05") == before  # held events were never counted: nothing taken off
    assert seeded.get("/v1/quarantine").json()["events"] == []


def test_a_rule_on_context_is_holiday_follows_the_request_timezone(seeded):
    """Enrichment end to end: a placement rule reads the derived context.is_holiday."""
    import datetime as dt

    engine = seeded.app.state.engine
    engine.recommender.clock = lambda: dt.datetime(2026, 12, 25, 15, tzinfo=dt.timezone.utc).timestamp()
    placement = {"sources": {"popular": 1}, "n": 3, "rules": [{"where": "not context.is_holiday"}]}  # closed on holidays
    assert seeded.put("/v1/placements/holiday", json=placement).status_code == 201
    on_christmas = seeded.get("/v1/recommendations", params={"user_id": "x", "placement": "holiday", "geo": "DE"}).json()
    elsewhere = seeded.get("/v1/recommendations", params={"user_id": "x", "placement": "holiday", "geo": "CN"}).json()
    by_zone = seeded.get("/v1/recommendations", params={"user_id": "x", "placement": "holiday",
                                                        "timezone": "America/New_York", "geo": "US"}).json()
    assert on_christmas["items"] == [] and by_zone["items"] == [] and len(elsewhere["items"]) == 3
