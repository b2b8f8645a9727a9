"""/metrics in the Prometheus text format."""

from __future__ import annotations

import re

from tastemaker.api.metrics import Metrics, route_label


def sample(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in metrics"
    return float(m.group(1))


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
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, 'tastemaker_http_requests_total{method="GET",route="/v1/recommendations",status="200"}') == 3
    assert sample(text, 'tastemaker_http_requests_total{method="GET",route="/v1/recommendations",status="400"}') == 1
    assert sample(text, 'tastemaker_http_requests_total{method="POST",route="/v1/events",status="200"}') == 2
    # ids are collapsed out of the route label
    assert sample(text, 'tastemaker_http_requests_total{method="GET",route="/v1/items/{id}",status="200"}') == 1
    assert sample(text, 'tastemaker_http_requests_total{method="GET",route="/v1/items/{id}",status="404"}') == 1
    assert "/v1/items/zzz" not in text
    assert sample(text, 'tastemaker_events_total{result="accepted"}') == 6
    assert sample(text, 'tastemaker_events_total{result="duplicate"}') == 2
    assert sample(text, "tastemaker_state_applied_seq") == 6
    assert sample(text, "tastemaker_state_users") == 3
    assert sample(text, "tastemaker_catalog_items") == 2
    assert sample(text, 'tastemaker_http_request_duration_seconds_count{route="/v1/recommendations"}') == 4
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/v1/recommendations",le="+Inf"}') == 4


def test_unauthorised_requests_are_counted_too(anon):
    anon.get("/v1/recommendations", params={"user_id": "u"})
    text = anon.get("/metrics").text
    assert sample(text, 'tastemaker_http_requests_total{method="GET",route="/v1/recommendations",status="401"}') == 1


def test_route_label():
    assert route_label("/v1/items/abc") == "/v1/items/{id}"
    assert route_label("/v1/items/abc/similar") == "/v1/items/{id}/similar"
    assert route_label("/v1/events") == "/v1/events"
    assert route_label("/healthz") == "/healthz"


def test_histogram_buckets_are_cumulative():
    m = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2, 10.0):
        m.observe("GET", "/x", 200, seconds)
    text = m.render({})
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/x",le="0.001"}') == 1
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/x",le="0.005"}') == 3
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/x",le="0.25"}') == 4
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/x",le="2.5"}') == 4
    assert sample(text, 'tastemaker_http_request_duration_seconds_bucket{route="/x",le="+Inf"}') == 5
    assert sample(text, 'tastemaker_http_request_duration_seconds_count{route="/x"}') == 5
    assert sample(text, 'tastemaker_http_request_duration_seconds_sum{route="/x"}') == 10.2065
