"""Freshness: does the very next request after ``POST /v1/events`` returns reflect the event?

Two kinds of trial, each on its own keep-alive connection, one request at a time:

* purchase: GET recommendations for a real user, take the top item X, POST a ``purchase``
  of X, then GET again: X must be gone (purchased items are never recommended again).
* view: POST a ``view`` of item Y for a brand-new user, then GET ``/v1/users/{id}``: Y must
  be in ``activity.recent``; then GET recommendations: with Y as the only seed, at least one
  item should come from the ``covisitation`` source (Y is chosen among items that have
  co-visited neighbours, checked beforehand with ``/v1/items/{Y}/similar``).

"Reflected" is judged on the first request after the POST returned; if it is not, the
request is repeated (bounded) to measure how late the state caught up.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import LOCALHOST, percentiles  # noqa: E402

RETRY_FOR_S = 2.0  # after a miss, keep asking this long to see when the event shows up


def _recs(http: httpx.Client, user: str) -> list[dict]:
    resp = http.get("/v1/recommendations", params={"user_id": user, "n": 10})
    resp.raise_for_status()
    return resp.json()["items"]


def _post(http: httpx.Client, event: dict) -> float:
    """POST one event; returns the POST's own latency in ms (the durable-ack latency)."""
    t0 = time.perf_counter()
    resp = http.post("/v1/events", json=event)
    resp.raise_for_status()
    if resp.json().get("accepted") != 1:
        raise RuntimeError(f"event not accepted: {resp.text}")
    return (time.perf_counter() - t0) * 1000.0


def _until(check, posted_at: float) -> tuple[bool, float | None]:
    """(first request reflected?, ms from POST return to the first reflecting response)."""
    deadline = posted_at + RETRY_FOR_S
    first = True
    while True:
        ok = check()
        now = time.perf_counter()
        if ok:
            return first, (now - posted_at) * 1000.0
        first = False
        if now >= deadline:
            return False, None


def covisited_items(http: httpx.Client, candidates: list[str], want: int) -> list[str]:
    """Items among ``candidates`` whose similar list has co-visited neighbours."""
    out = []
    for item in candidates:
        resp = http.get(f"/v1/items/{item}/similar", params={"n": 5})
        if resp.status_code == 200 and any(x["source"] == "covisitation" for x in resp.json()["items"]):
            out.append(item)
            if len(out) == want:
                break
    return out


def run_freshness(port: int, token: str, trials: int, n_users: int, n_items: int, tag: str, seed: int = 7) -> dict:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    purchase_first, purchase_ms, view_first, view_ms, covis_first, post_ms = [], [], [], [], [], []
    with httpx.Client(base_url=f"http://{LOCALHOST}:{port}", headers=headers, timeout=30.0) as http:
        for k in range(trials):
            user = f"u{rng.randrange(n_users)}"
            before = _recs(http, user)
            if not before:
                continue
            top = before[0]["id"]
            post_ms.append(_post(http, {"id": f"fresh-{tag}-p{k}", "type": "purchase", "user_id": user,
                                        "item_id": top, "value": 9.99, "timestamp": time.time()}))
            posted_at = time.perf_counter()
            first, ms = _until(lambda: top not in {x["id"] for x in _recs(http, user)}, posted_at)
            purchase_first.append(first)
            if ms is not None:
                purchase_ms.append(ms)

        pool = [f"i{rng.randrange(min(n_items, 2000))}" for _ in range(4 * trials)]  # low ids are the hot ones
        seeds = covisited_items(http, pool, trials) or pool[:trials]
        for k in range(trials):
            user, item = f"fresh-{tag}-v{k}", seeds[k % len(seeds)]
            post_ms.append(_post(http, {"id": f"fresh-{tag}-v{k}", "type": "view", "user_id": user,
                                        "item_id": item, "timestamp": time.time()}))
            posted_at = time.perf_counter()

            def profile_has_item() -> bool:
                resp = http.get(f"/v1/users/{user}")
                activity = resp.json().get("activity") if resp.status_code == 200 else None
                return bool(activity) and any(r["item_id"] == item for r in activity["recent"])

            first, ms = _until(profile_has_item, posted_at)
            view_first.append(first)
            if ms is not None:
                view_ms.append(ms)
            covis_first.append(any(x["source"] == "covisitation" for x in _recs(http, user)))

    def frac(xs: list[bool]) -> float:
        return sum(xs) / len(xs) if xs else 0.0

    return {
        "purchase_trials": len(purchase_first),
        "purchase_reflected_first_request": frac(purchase_first),
        "purchase_reflect_ms": percentiles(purchase_ms, (50, 99)),
        "view_trials": len(view_first),
        "view_reflected_first_request": frac(view_first),
        "view_reflect_ms": percentiles(view_ms, (50, 99)),
        "view_seed_items_with_covisitation": len(set(seeds)),
        "view_next_recs_have_covisitation": frac(covis_first),
        "single_event_post_ms": percentiles(post_ms, (50, 99)),
    }
