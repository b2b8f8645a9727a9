"""A simulated population with known true click rates, driven through the public HTTP API.

Ground truth: user ``u`` clicks item ``i`` of a list served under variant ``v`` with probability
``q = min(1, m_v * r_u * a_i)``, independently per shown item, where

* ``a_i`` is the item's appeal from the synthetic generator's funnel (its clicks / views in the
  generated log, smoothed, scaled to mean 1 over the catalogue),
* ``r_u`` the user's own click rate (``base_rate`` times a Gamma(2, 1/2) draw, mean 1: heavy
  and light clickers, which is what makes pre-period behaviour predict the experiment's: CUPED),
* ``m_v`` the variant's known true multiplier (``1`` everywhere: an A/A test).

A click leads to an add-to-cart with ``p_cart`` and that to a purchase (value: the item's
price) with ``p_purchase``. The simulator only talks HTTP (a ``httpx.Client`` on a server, or
Starlette's ``TestClient``): it posts the generator's items and history, creates the experiment
(``POST /v1/experiments``), serves a pre-period while it is a draft, starts it (``PATCH``), asks
``GET /v1/recommendations`` for every user, reads the variant from the response's
``experiments``, posts the outcomes (``link_share`` of them with ``recommendation_id``, the
rest left to the user-and-item join), stops it and reads ``GET /v1/experiments/{id}/results``.

Since every list's click probabilities are known, the truth of each variant is exact: the
expected share of lists with a click is the mean of ``1 - prod(1 - q)`` over the lists it
served, with binomial (Poisson-binomial) variance ``sum P (1 - P) / lists**2``;
:meth:`SimulationReport.ctr_checks` compares it with what the server measured.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tastemaker.datasets.synthetic import generate


class Client(Protocol):
    """What the simulator needs of an HTTP client (httpx.Client, Starlette's TestClient)."""

    def get(self, url: str, **kw: Any) -> Any: ...

    def post(self, url: str, **kw: Any) -> Any: ...

    def patch(self, url: str, **kw: Any) -> Any: ...


@dataclass
class SimulationConfig:
    users: int = 300
    items: int = 200
    history_events: int = 4_000  # the generator's log, posted before the experiment (a served catalogue)
    pre_lists: int = 2  # lists per user before the experiment starts (CUPED's pre-period)
    lists: int = 6  # lists per user during the experiment
    n: int = 10  # items per list
    multipliers: dict[str, float] = field(default_factory=lambda: {"control": 1.0, "treatment": 1.0})
    base_rate: float = 0.03  # mean per-item click probability at multiplier 1
    p_cart: float = 0.3
    p_purchase: float = 0.5
    link_share: float = 0.8  # outcomes posted with recommendation_id; the rest joined by user and item
    placement: str = "home"
    experiment_id: str = "sim"
    seed: int = 0
    # False: every item appeals equally, so a user's clicks depend on the seed, the user and the
    # variant only, and a seeded run measures the same whatever lists the server chose (the
    # lists move with wall-clock decay and timing): a deterministic verdict for tests
    item_appeal: bool = True


@dataclass
class VariantTruth:
    multiplier: float
    lists: int = 0
    users: set[str] = field(default_factory=set)
    expected_clicked: float = 0.0  # sum over lists of P(at least one click)
    variance_clicked: float = 0.0  # sum over lists of P (1 - P)
    clicked: int = 0  # lists that got a click (realised)
    clicks: int = 0

    @property
    def true_ctr(self) -> float:
        return self.expected_clicked / self.lists if self.lists else math.nan

    @property
    def sd_ctr(self) -> float:
        return math.sqrt(self.variance_clicked) / self.lists if self.lists else math.nan


@dataclass
class SimulationReport:
    config: SimulationConfig
    truth: dict[str, VariantTruth]
    results: dict[str, Any]
    requests: int
    events: int
    seconds: float

    def measured_ctr(self, variant: str) -> float:
        return float(self.results["metrics"][variant]["ctr"])

    def ctr_checks(self, sigmas: float = 4.0) -> dict[str, dict[str, float | bool]]:
        """Per variant: true and measured CTR (share of lists clicked), their z-score under the
        binomial spread of the lists it served, whether it is within ``sigmas``, and the share
        of lists the simulated users did click (what an exact attribution measures)."""
        out: dict[str, dict[str, float | bool]] = {}
        for name, t in self.truth.items():
            measured = self.measured_ctr(name)
            z = (measured - t.true_ctr) / t.sd_ctr if t.sd_ctr > 0 else math.inf
            out[name] = {"true_ctr": t.true_ctr, "measured_ctr": measured, "z": z, "lists": t.lists,
                         "users": len(t.users), "ok": abs(z) <= sigmas,
                         "realised_ctr": t.clicked / t.lists if t.lists else math.nan}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config.__dict__, "requests": self.requests, "events": self.events,
                "seconds": self.seconds, "ctr": self.ctr_checks(), "verdict": self.results.get("verdict"),
                "results": self.results}


def _ok(response: Any, what: str) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


class Simulator:
    """One simulated population on one server; :meth:`run` returns a :class:`SimulationReport`."""

    def __init__(self, client: Client, config: SimulationConfig, headers: dict[str, str] | None = None):
        self.client, self.config, self.headers = client, config, headers or {}
        self.rng = np.random.default_rng(config.seed)
        c = config
        self.data = generate(n_users=max(c.users, 10), n_items=c.items, n_events=c.history_events, seed=c.seed)
        index = {it["id"]: j for j, it in enumerate(self.data.items)}
        counts = {"view": np.zeros(len(index)), "click": np.zeros(len(index))}
        for t, item in zip(self.data.events.column("type").to_pylist(), self.data.events.column("item_id").to_pylist()):
            if t in counts and item is not None:
                counts[t][index[item]] += 1
        # the generator's funnel: an item's smoothed click-through in its log
        appeal = (counts["click"] + 1.0) / (counts["view"] + 4.0)
        self.appeal = dict(zip(index, appeal / appeal.mean() if c.item_appeal else np.ones_like(appeal)))
        self.price = {it["id"]: float(it["price"]) for it in self.data.items}
        self.user_ids = [u["id"] for u in self.data.users[:c.users]]  # with their generated history
        self.rate = dict(zip(self.user_ids, c.base_rate * self.rng.gamma(2.0, 0.5, c.users)))
        self.truth = {v: VariantTruth(m) for v, m in c.multipliers.items()}
        self.requests = self.events = 0
        self._event_seq = 0

    def q(self, user: str, items: list[str], variant: str | None) -> np.ndarray:
        """True click probability of each shown item (variant None: the pre-period, multiplier 1)."""
        m = self.config.multipliers[variant] if variant is not None else 1.0
        return np.minimum(1.0, m * self.rate[user] * np.array([self.appeal.get(i, 1.0) for i in items]))

    def setup(self) -> None:
        c = self.config
        items = [{k: v for k, v in it.items() if v is not None} for it in self.data.items]
        _ok(self.client.post("/v1/items", json=items, headers=self.headers), "POST /v1/items")
        rows = self.data.events.to_pylist()
        for start in range(0, len(rows), 5_000):
            batch = [{k: v for k, v in e.items() if v is not None} for e in rows[start:start + 5_000]]
            _ok(self.client.post("/v1/events", json=batch, headers=self.headers), "POST /v1/events (history)")
        variants = [{"name": v, "share": round(1.0 / len(c.multipliers), 4)} for v in c.multipliers]
        _ok(self.client.post("/v1/experiments", headers=self.headers, json={
            "id": c.experiment_id, "placements": [c.placement], "variants": variants,
            "primary_metric": {"metric": "ctr"}}), "POST /v1/experiments")

    def serve_round(self, round_no: int, in_experiment: bool) -> None:
        c = self.config
        for user in self.rng.permutation(self.user_ids).tolist():
            answer = _ok(self.client.get("/v1/recommendations", headers=self.headers, params={
                "user_id": user, "placement": c.placement, "n": c.n}), "GET /v1/recommendations")
            self.requests += 1
            items = [e["id"] for e in answer["items"]]
            tags = [e for e in answer.get("experiments") or () if e.get("id") == c.experiment_id]
            if in_experiment and not tags:
                raise RuntimeError(f"{user} was served outside experiment {c.experiment_id}: {answer}")
            variant = tags[0]["variant"] if tags and in_experiment else None
            q = self.q(user, items, variant)
            clicked = self.rng.random(len(items)) < q
            if variant is not None:
                t = self.truth[variant]
                p_list = 1.0 - float(np.prod(1.0 - q))
                t.lists += 1
                t.users.add(user)
                t.expected_clicked += p_list
                t.variance_clicked += p_list * (1.0 - p_list)
                t.clicked += int(clicked.any())
                t.clicks += int(clicked.sum())
            events = []
            session = f"{user}-r{round_no}"
            for item in (i for i, hit in zip(items, clicked) if hit):
                link = {"recommendation_id": answer["recommendation_id"]} if self.rng.random() < c.link_share else {}
                events.append(self._event("click", user, item, session, link))
                if self.rng.random() < c.p_cart:
                    events.append(self._event("add_to_cart", user, item, session, link))
                    if self.rng.random() < c.p_purchase:
                        events.append(self._event("purchase", user, item, session, link, self.price.get(item)))
            if events:
                _ok(self.client.post("/v1/events", json=events, headers=self.headers), "POST /v1/events")
                self.events += len(events)

    def _event(self, type: str, user: str, item: str, session: str, link: dict[str, str],
               value: float | None = None) -> dict[str, Any]:
        self._event_seq += 1
        e = {"id": f"{self.config.experiment_id}-{self.config.seed}-{self._event_seq}", "type": type, "user_id": user,
             "item_id": item, "session_id": session, **link}
        if value is not None:
            e["value"] = value
        return e

    def run(self) -> SimulationReport:
        started = time.perf_counter()
        c = self.config
        self.setup()
        for r in range(c.pre_lists):
            self.serve_round(r, in_experiment=False)
        _ok(self.client.patch(f"/v1/experiments/{c.experiment_id}", json={"status": "running"},
                              headers=self.headers), "PATCH /v1/experiments (start)")
        for r in range(c.lists):
            self.serve_round(c.pre_lists + r, in_experiment=True)
        _ok(self.client.patch(f"/v1/experiments/{c.experiment_id}", json={"status": "stopped"},
                              headers=self.headers), "PATCH /v1/experiments (stop)")
        results = _ok(self.client.get(f"/v1/experiments/{c.experiment_id}/results", headers=self.headers),
                      "GET /v1/experiments/{id}/results")
        return SimulationReport(c, self.truth, results, self.requests, self.events, time.perf_counter() - started)
