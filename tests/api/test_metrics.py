"""/metrics in the Prometheus text format: bounded labels, escaped values, a page that stays small."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tastemaker.api.metrics import BUCKETS, UNMATCHED, Metrics

INJECTION = ("/x%22%2Cstatus%3D%22200%22%7D%201%0Atastemaker_events_total%7Bresult%3D%22accepted%22%7D"
             "%2099999999%0A%23")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of the page, parsed by prometheus_client's own parser (so it must parse)."""
    out: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, frozenset(labels.items()))]


def requests(text: str, method: str, route: str, status: int) -> float:
    return value(text, "tastemaker_http_requests_total", method=method, route=route, status=str(status))


def test_metrics_count_requests_events_and_state(client, anon):
    client.post("/v1/items", json=[{"id": "a"}, {"id": "b"}])
    events = [{"id": str(i), "type": "view", "user_id": f"u{i % 3}", "item_id": "ab"[i % 2]} for i in range(6)]
    client.post("/v1/events", json=events)
    client.post("/v1/events", json=events[:2])
    for _ in range(3):
        client.get("/v1/recommendations", params={"user_id": "u0"})
    client.get("/v1/recommendations", params={"user_id": "u0", "n": "0"})
    client.get("/v1/items/a")
    client.get("/v1/items/zzz")
    client.get("/v1/items/a/similar")
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert requests(text, "GET", "/v1/recommendations", 200) == 3
    assert requests(text, "GET", "/v1/recommendations", 400) == 1
    assert requests(text, "POST", "/v1/events", 200) == 2
    # the label is the route's template, never the path with its id
    assert requests(text, "GET", "/v1/items/{id}", 200) == 1
    assert requests(text, "GET", "/v1/items/{id}", 404) == 1
    assert requests(text, "GET", "/v1/items/{id}/similar", 200) == 1
    assert "/v1/items/zzz" not in text
    assert value(text, "tastemaker_events_total", result="accepted") == 6
    assert value(text, "tastemaker_events_total", result="duplicate") == 2
    assert value(text, "tastemaker_state_applied_seq") == 6
    assert value(text, "tastemaker_state_users") == 3
    assert value(text, "tastemaker_catalog_items") == 2
    assert value(text, "tastemaker_http_request_duration_seconds_count", route="/v1/recommendations") == 4
    assert value(text, "tastemaker_http_request_duration_seconds_bucket", route="/v1/recommendations", le="+Inf") == 4


def test_unauthorised_requests_are_counted_under_their_route(anon):
    anon.get("/v1/recommendations", params={"user_id": "u"})  # the hot path's own 401
    anon.get("/v1/items/secret-id")  # refused by the auth layer, before the router runs
    text = anon.get("/metrics").text
    assert requests(text, "GET", "/v1/recommendations", 401) == 1
    assert requests(text, "GET", "/v1/items/{id}", 401) == 1
    assert "secret-id" not in text


def test_unknown_paths_and_methods_share_one_label(client, anon):
    anon.get("/nope")
    anon.get("/v1/nope/deeper")  # 401: under /v1/ a key is needed before anything is found
    client.get("/v1/nope/deeper")
    client.request("BREW", "/v1/events")
    client.post("/v1/recommendations")  # a known path, a method it does not answer: its template
    text = anon.get("/metrics").text
    assert requests(text, "GET", UNMATCHED, 404) == 2
    assert requests(text, "GET", UNMATCHED, 401) == 1
    assert requests(text, "OTHER", "/v1/events", 405) == 1
    assert requests(text, "POST", "/v1/recommendations", 405) == 1
    assert "nope" not in text and "BREW" not in text


def test_a_crafted_path_cannot_inject_lines(anon):
    anon.get("/nothing-here")
    anon.get("/metrics")  # a scrape counts itself: from the second on, the series are those of the first
    before = samples(anon.get("/metrics").text)
    r = anon.get(INJECTION)
    assert r.status_code == 404
    text = anon.get("/metrics").text
    after = samples(text)
    assert after.keys() == before.keys()  # the same series: the path added none
    assert value(text, "tastemaker_events_total", result="accepted") == 0
    assert "99999999" not in text
    assert requests(text, "GET", UNMATCHED, 404) == 2


def test_label_values_are_escaped_as_the_format_requires():
    m = Metrics()
    route = '/x",status="200"} 1\ntastemaker_events_total{result="accepted"} 99999999\n#\\'
    m.observe("GET", route, 200, 0.01)  # a caller that passes a raw value still cannot inject
    text = m.render({})
    assert value(text, "tastemaker_events_total", result="accepted") == 0
    assert requests(text, "GET", route, 200) == 1  # the parser gets the exact value back


def test_ten_thousand_junk_paths_leave_the_page_the_same_size(no_rate_limits, client, anon):
    anon.get("/nothing-here")
    anon.get("/v1/nothing-here/either")
    anon.get("/metrics")
    first = anon.get("/metrics").text
    before = samples(first)

    async def flood() -> None:
        for i in range(10_000):
            await _one(client.app, f"/junk/{i}" if i % 2 else f"/v1/junk{i}/x")

    asyncio.run(flood())
    text = anon.get("/metrics").text
    assert samples(text).keys() == before.keys()  # only counts changed: no new series
    assert len(text) < 1.2 * len(first)  # a few more digits per count, nothing more
    assert requests(text, "GET", UNMATCHED, 404) == 1 + 5_000
    assert requests(text, "GET", UNMATCHED, 401) == 1 + 5_000
    assert "junk" not in text


async def _one(app, path: str) -> None:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    await app(scope, receive, send)


def test_apps_in_one_process_keep_separate_registries():
    a, b = Metrics(), Metrics()
    a.observe("GET", "/healthz", 200, 0.001)
    assert requests(a.render({}), "GET", "/healthz", 200) == 1
    assert ("tastemaker_http_requests_total", frozenset({("method", "GET"), ("route", "/healthz"),
                                                         ("status", "200")})) not in samples(b.render({}))


def test_histogram_buckets_are_cumulative():
    m = Metrics()
    for seconds in (0.0005, 0.001, 0.003, 0.003, 0.2, 10.0):
        m.observe("GET", "/x", 200, seconds)
    text = m.render({})

    def bucket(le: str) -> float:
        return value(text, "tastemaker_http_request_duration_seconds_bucket", route="/x", le=le)

    assert bucket("0.001") == 2  # le is inclusive: 0.001 falls in the 0.001 bucket
    assert bucket("0.005") == 4
    assert bucket("0.25") == 5
    assert bucket("2.5") == 5
    assert bucket("+Inf") == 6
    assert [bucket(str(b)) for b in BUCKETS] == sorted(bucket(str(b)) for b in BUCKETS)
    assert value(text, "tastemaker_http_request_duration_seconds_count", route="/x") == 6
    assert math.isclose(value(text, "tastemaker_http_request_duration_seconds_sum", route="/x"), 10.2075)


def test_event_counters_only_go_up():
    m = Metrics()
    m.events_accepted += 3
    m.events_duplicate += 1
    assert (m.events_accepted, m.events_duplicate) == (3, 1)
    with pytest.raises(ValueError):
        m.events_accepted = 2
