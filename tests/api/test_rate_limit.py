"""Rate limits (api.rate_limit): per key by scope, per client address without a verified key
and on public paths; 429 problems with Retry-After and RateLimit headers. Buckets refill at
0.001/s here, so nothing refills during a test and no test depends on the clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import DEFAULT_RATE_LIMITS, RateLimit, Settings, rate_limits_from_env
from tastemaker.engine import Engine

from ..conftest import ADMIN_KEY
from .helpers import assert_problem

SLOW = 0.001  # tokens a second: no refill within a test


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def limited(data_dir) -> Iterator[TestClient]:
    """An app whose keys may make 3 reads and 2 admin calls, and whose addresses may make
    4 requests without a verified key and 2 to public paths; the admin key is sent by default."""
    limits = {"read": RateLimit(SLOW, 3), "admin": RateLimit(SLOW, 2), "unauthenticated": RateLimit(SLOW, 4),
              "public": RateLimit(SLOW, 2)}
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False, rate_limits=limits)
    with TestClient(build_app(Engine(settings)), headers=bearer(ADMIN_KEY)) as c:
        yield c


def new_key(client: TestClient, *scopes: str) -> str:
    """A key made straight in the store (no API call spends the admin bucket)."""
    from tastemaker.api.keys import create_key

    return create_key(client.app.state.engine.stores.keys, "t", set(scopes))[1]


def test_a_key_gets_its_burst_then_a_429_naming_the_limit(limited):
    anon = TestClient(limited.app)
    token = new_key(limited, "read")
    # The first request verifies the key (counted against the address); then the key's own bucket.
    statuses = [anon.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 200]
    r = anon.get("/v1/items/x", headers=bearer(token))  # routed reads share the key's read bucket
    body = assert_problem(r, 429)
    assert body["limit"] == "read" and "'read' rate limit" in body["detail"] and "burst 3" in body["detail"]
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["ratelimit-limit"] == "3" and r.headers["ratelimit-remaining"] == "0"
    assert int(r.headers["ratelimit-reset"]) == int(r.headers["retry-after"])
    assert_problem(anon.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(token)), 429)  # fast path too
    other = new_key(limited, "read")  # another key has its own bucket
    assert anon.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(other)).status_code == 200


def test_each_scope_has_its_own_bucket(limited):
    assert [limited.get("/v1/keys").status_code for _ in range(3)] == [200] * 3  # the first verifies the key
    assert_problem(limited.get("/v1/audit"), 429)  # admin: 2 spent
    assert limited.get("/v1/items/x").status_code == 404  # the same key may still read
    assert limited.post("/v1/events", json={"id": "e", "type": "view", "user_id": "u", "item_id": "x"}).status_code == 200  # ingest: unlimited here


def test_wrong_keys_are_limited_per_address_before_any_key_is_checked(limited):
    flood = TestClient(limited.app, client=("127.0.0.2", 4000))
    good = new_key(limited, "read")
    assert flood.get("/v1/items/x", headers=bearer(good)).status_code == 404  # verified now: spends 1 of 4
    for token in ("wrong", "tm_abc_def", None):
        r = flood.get("/v1/items/x", headers=bearer(token) if token else {})
        assert_problem(r, 401)
    body = assert_problem(flood.get("/v1/items/x", headers=bearer("wrong")), 429)
    assert body["limit"] == "unauthenticated" and "address 127.0.0.2" in body["detail"]
    # A valid key this server has not verified yet is refused too: nothing is hashed or looked
    # up for this address until its bucket refills ...
    unseen = new_key(limited, "read")
    assert_problem(flood.get("/v1/items/x", headers=bearer(unseen)), 429)
    # ... while a key verified a moment ago still works from it, and other addresses are untouched.
    assert flood.get("/v1/items/x", headers=bearer(good)).status_code == 404
    assert TestClient(limited.app, client=("127.0.0.3", 4000)).get("/v1/items/x", headers=bearer(unseen)).status_code == 404


def test_a_revoked_key_is_no_longer_counted_as_verified(limited):
    anon = TestClient(limited.app, client=("10.0.0.9", 1))
    token = new_key(limited, "read")
    assert anon.get("/v1/items/x", headers=bearer(token)).status_code == 404
    limited.app.state.engine.stores.keys.revoke(token.split("_")[1])
    for _ in range(3):  # the address's 3 remaining unauthenticated tokens, then 429
        assert_problem(anon.get("/v1/items/x", headers=bearer(token)), 401)
    assert_problem(anon.get("/v1/items/x", headers=bearer(token)), 429)


def test_public_paths_are_limited_per_address(limited):
    anon = TestClient(limited.app, client=("10.0.0.5", 1))
    assert [anon.get("/healthz").status_code for _ in range(2)] == [200, 200]
    body = assert_problem(anon.get("/metrics"), 429)
    assert body["limit"] == "public"
    assert TestClient(limited.app, client=("10.0.0.6", 1)).get("/healthz").status_code == 200


def test_refusals_are_counted_in_the_metrics(limited):
    anon = TestClient(limited.app, client=("10.0.0.7", 1))
    for _ in range(6):
        anon.get("/v1/items/x", headers=bearer("wrong"))
    text = TestClient(limited.app, client=("10.0.0.8", 1)).get("/metrics").text
    assert 'tastemaker_http_requests_total{method="GET",route="/v1/items/{id}",status="429"} 2.0' in text


def test_without_limits_nothing_is_refused(no_rate_limits, client):
    anon = TestClient(client.app)
    assert {anon.get("/v1/items/x", headers=bearer("wrong")).status_code for _ in range(300)} == {401}


def test_the_defaults_and_the_environment(monkeypatch):
    monkeypatch.setenv("TASTEMAKER_RATE_LIMITS", "read=100/s:150, ingest=off, unauthenticated=120/m")
    limits = Settings().rate_limits
    assert limits["read"] == RateLimit(100, 150) and "ingest" not in limits
    assert limits["unauthenticated"] == RateLimit(2, 4) and limits["admin"] == DEFAULT_RATE_LIMITS["admin"]
    monkeypatch.setenv("TASTEMAKER_RATE_LIMITS", "off")
    assert Settings().rate_limits == {}
    for bad, why in (("reed=1/s", "unknown scope 'reed'"), ("read=fast", "scope=RATE"), ("read=0/s", "rate > 0"),
                     ("read=5/d", "scope=RATE"), ("read=5:0", "burst >= 1")):
        with pytest.raises(ValueError, match=why):
            rate_limits_from_env(bad)
