"""serving.backfill, through the real HTTP app: every built-in placement fills ``n``.

The history is loaded with old timestamps, as a data set is (the demo loads MovieLens, from
1998), then a live event arrives "now": every older decayed count is 0 from then on, and
the built-in placements used to answer 1 item instead of ``n``. The same checks run on a
recent history too. The top lists are recomputed on every request (``toplist_ttl=0``), so
no list cached before an event hides what the event changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.serving.placements import DEFAULT_PLACEMENTS

from tests.api.helpers import N_ITEMS, base_events, catalog, item_id
from tests.conftest import ADMIN_KEY

PLACEMENTS = sorted(DEFAULT_PLACEMENTS)
CATEGORY = {i["id"]: i["categories"][0] for i in catalog()}
ON_SCREEN = "i10"  # product-page and cart are asked about an item on screen, which they leave out
HISTORY_START = {"1998": 880_000_000.0, "recent": None}  # None: the events carry no timestamp (now)


@pytest.fixture(scope="module", params=sorted(HISTORY_START))
def app(request, tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("backfill") / "data", admin_key=ADMIN_KEY, durable=False)
    engine = Engine(settings, toplist_ttl=0.0)
    with TestClient(build_app(engine), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        assert client.post("/v1/items", json=catalog()).status_code == 200
        events = base_events()
        start = HISTORY_START[request.param]
        if start is not None:
            for k, event in enumerate(events):
                event["timestamp"] = start + 60 * k
        assert client.post("/v1/events", json=events).json()["accepted"] == len(events)
        # one live event by someone else: "now" moves to the wall clock
        post(client, "bystander", "i05", "view")
        yield client


def post(client: TestClient, user: str, item: str, type_: str) -> None:
    r = client.post("/v1/events", json={"id": f"{user}-{item}-{type_}", "type": type_, "user_id": user, "item_id": item})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def served(client: TestClient, placement: str, user: str, n: int, **params: str) -> list[dict]:
    if placement in ("product-page", "cart"):
        params = {"item_id": ON_SCREEN, **params}
    r = client.get("/v1/recommendations", params={"user_id": user, "placement": placement, "n": n, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def check(items: list[dict], n: int, eligible: set[str]) -> None:
    """``min(n, |eligible|)`` distinct eligible items, best first, fallbacks last."""
    ids = [e["id"] for e in items]
    assert len(ids) == min(n, len(eligible)), (len(ids), ids)
    assert len(set(ids)) == len(ids) and set(ids) <= eligible, sorted(set(ids) - eligible)
    scores = [e["score"] for e in items]
    assert scores == sorted(scores, reverse=True)
    sources = [e["source"] for e in items]
    if "catalog" in sources:  # the last tier comes after everything else
        first = sources.index("catalog")
        assert set(sources[first:]) == {"catalog"}, sources


def everything(placement: str) -> set[str]:
    return set(CATEGORY) - ({ON_SCREEN} if placement in ("product-page", "cart") else set())


@pytest.mark.parametrize("n", [5, 20])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_brand_new_user_gets_n(app, placement, n) -> None:
    check(served(app, placement, f"new-{placement}-{n}", n), n, everything(placement))


@pytest.mark.parametrize("n", [5, 20])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_user_with_exactly_one_live_event_gets_n(app, placement, n) -> None:
    user = f"one-{placement}-{n}"
    post(app, user, "i07", "view")
    eligible = everything(placement) - ({"i07"} if DEFAULT_PLACEMENTS[placement].exclude_seen else set())
    check(served(app, placement, user, n), n, eligible)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_user_whose_history_removes_most_candidates_gets_what_is_left(app, placement) -> None:
    # 30 of the 40 items purchased: every placement leaves purchases out, 10 or 9 remain
    user = f"buyer-{placement}"
    bought = {item_id(k) for k in range(N_ITEMS) if k % 4 != 3}
    for item in sorted(bought):
        post(app, user, item, "purchase")
    eligible = everything(placement) - bought
    check(served(app, placement, user, 8), 8, eligible)
    check(served(app, placement, user, 20), 20, eligible)  # all that is left: len(eligible)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_filters_hold_while_filling(app, placement) -> None:
    in_c1 = {i for i, c in CATEGORY.items() if c == "c1"}  # 10 items
    excluded = {"i01", "i05"}  # both in c1
    for user in (f"new-filter-{placement}", f"active-filter-{placement}"):
        if user.startswith("active"):
            post(app, user, "i02", "view")
        items = served(app, placement, user, 5, category="c1", exclude=",".join(sorted(excluded)))
        check(items, 5, in_c1 - excluded)
        check(served(app, placement, user, 50, category="c1", exclude=",".join(sorted(excluded))), 50,
              (in_c1 - excluded) - ({ON_SCREEN} if placement in ("product-page", "cart") else set()))
        check(served(app, placement, user, 30, exclude="i00,i02,i04"), 30, everything(placement) - {"i00", "i02", "i04"})


def test_the_catalogue_tier_ranks_all_time_co_visited_items_first(shop) -> None:
    # an event 30 years after the shop's history: every decayed count but x5's is 0, so the
    # catalogue tier fills the list, most co-visited first (x0: 9, x1: 6, x3 and x4: 4,
    # x2: 3), then the never co-visited in index order; x9 is out of stock
    shop.event("view", "bystander", "x5", ts=shop.ts + 30 * 365 * 86_400.0)
    body = shop.recommend("newcomer", n=20)
    assert [e["id"] for e in body["items"]] == ["x5", "x0", "x1", "x3", "x4", "x2", "x6", "x7", "x8", "x10", "x11"]
    assert [e["source"] for e in body["items"]][1:] == ["catalog"] * 10
    assert shop.ids("newcomer", n=3, category="blue") == ["x6", "x7", "x8"]
