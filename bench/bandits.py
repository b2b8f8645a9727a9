"""Bandit policies and off-policy estimators against the targets of issue 16 (seeded).

    .venv/bin/python bench/bandits.py              # ~2-3 min on 2 busy cores
    .venv/bin/python bench/bandits.py --quick      # 20k rounds, 2 seeds (a smoke run)

* **Regret**: Beta-Bernoulli Thompson, UCB1 and epsilon-greedy (eps 0.1), the real policy classes
  of experiments/bandits driven round by round (choose, then update with the Bernoulli reward;
  the uniform draws of the rewards are made up front, one vector per seed), 100k rounds, 5
  seeds, on two 5-arm settings: ``ctr`` (click rates 0.10 ... 0.02, gaps of 0.02) and ``mid``
  (0.50 ... 0.30, gaps of 0.05). UCB1-Tuned (same paper, variance-aware bonus) runs beside UCB1. Expected cumulative regret (sum of gaps of the arms played)
  at 1k/10k/100k rounds, the slope of log regret on log t over 1k-100k (1 = linear growth),
  and Thompson's and UCB1's end regret as a share of epsilon-greedy's. Targets: slope < 1,
  end <= 50% of epsilon-greedy's. Thompson runs with ``n_draws=1`` here: the choice is the
  winner of one posterior draw either way (the Monte Carlo size only sets how precisely the
  logged propensity is estimated, which regret does not use).
* **Context matters**: 3 arms whose click rates depend on a context feature s ~ U(-1, 1):
  0.3 + 0.2 s, 0.3 - 0.2 s, 0.32 (best fixed arm: 0.32; best per context: 0.4 on average).
  LinUCB and linear Thompson on x = [1, s] over 20k rounds, 3 seeds, against the best
  non-contextual arm's value and non-contextual Thompson. Target: LinUCB's mean reward beats
  the best non-contextual arm.
* **Off-policy**: 50k rows logged by a known randomised policy (half uniform, half a fixed
  context rule) on a 3-arm logistic-reward simulation; IPS, SNIPS and doubly robust estimate
  the value of a different known randomised target (80% its own rule, 20% uniform), whose
  true value is computed from the true click rates on 1M fresh contexts. Replay estimates the
  target's deterministic rule from a uniformly logged 50k rows. 5 seeds; target: every
  estimate within 5% of the truth.

* **Serving cost**: an in-process engine (starlette TestClient for the setup; timed calls go
  straight to ``Engine.recommend``), 200 items, placement ``hero`` with a 5-arm Thompson
  bandit over strategies and ``plain`` with the same sources and no bandit, requests
  alternating between them, a click answering every 20th bandit list (a posterior change,
  so the next choice re-estimates its propensities; the click is not timed). p50 / p99 of
  each, and their difference.

Prints a targets table and writes bench/results/bandits-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from tastemaker.experiments.bandits import (  # noqa: E402
    EpsilonGreedy, LinearThompson, LinUCB, ThompsonSampling, UCB1)
from tastemaker.experiments.offpolicy import LoggedData, doubly_robust, ips, replay, snips  # noqa: E402

SETTINGS = {"ctr": np.array([0.10, 0.08, 0.06, 0.04, 0.02]),
            "mid": np.array([0.50, 0.45, 0.40, 0.35, 0.30])}
CHECKPOINTS = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
POLICIES = {"thompson": lambda seed: ThompsonSampling(n_draws=1, seed=seed),
            "ucb1": lambda seed: UCB1(),
            "ucb1_tuned": lambda seed: UCB1(tuned=True),
            "epsilon_greedy": lambda seed: EpsilonGreedy(epsilon=0.1)}


def regret_curve(policy, means: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    uniforms = rng.random(rounds)
    arms = [f"arm{i}" for i in range(len(means))]
    index = {a: i for i, a in enumerate(arms)}
    played = np.empty(rounds, dtype=np.intp)
    for t in range(rounds):
        i = index[policy.choose(arms, None, rng).arm]
        policy.update(arms[i], float(uniforms[t] < means[i]))
        played[t] = i
    return np.cumsum(means.max() - means[played])


def regret_bench(rounds: int, seeds: int) -> dict:
    checkpoints = [c for c in CHECKPOINTS if c <= rounds]
    out = {}
    for setting, means in SETTINGS.items():
        rows = {}
        for name, make in POLICIES.items():
            t0 = time.perf_counter()
            curves = np.array([regret_curve(make(s), means, rounds, 1000 + s) for s in range(seeds)])
            at = curves[:, np.array(checkpoints) - 1]
            mean_at = at.mean(axis=0)
            slope = float(np.polyfit(np.log(checkpoints), np.log(np.maximum(mean_at, 1e-9)), 1)[0])
            rows[name] = {"regret_at": dict(zip(map(str, checkpoints), mean_at.round(1).tolist())),
                          "end_per_seed": at[:, -1].round(1).tolist(), "log_log_slope": round(slope, 3),
                          "seconds": round(time.perf_counter() - t0, 1)}
        eps_end = rows["epsilon_greedy"]["regret_at"][str(checkpoints[-1])]
        for name in ("thompson", "ucb1", "ucb1_tuned"):
            rows[name]["end_share_of_epsilon_greedy"] = round(rows[name]["regret_at"][str(checkpoints[-1])] / eps_end, 3)
        out[setting] = {"means": means.tolist(), "policies": rows}
    return out


def contextual_bench(rounds: int, seeds: int) -> dict:
    arms = ["up", "down", "flat"]
    results: dict[str, list[float]] = {"linucb": [], "linear_thompson": [], "thompson": []}
    for seed in range(seeds):
        for name in results:
            rng = np.random.default_rng(2000 + seed)
            s = rng.uniform(-1, 1, rounds)
            u = rng.random(rounds)
            policy = {"linucb": lambda: LinUCB(n_features=2, alpha=0.5),
                      "linear_thompson": lambda: LinearThompson(n_features=2, scale=0.2, n_draws=1, seed=seed),
                      "thompson": lambda: ThompsonSampling(n_draws=1, seed=seed)}[name]()
            total = 0.0
            for t in range(rounds):
                x = np.array([1.0, s[t]])
                arm = policy.choose(arms, x if policy.contextual else None, rng).arm
                rate = {"up": 0.3 + 0.2 * s[t], "down": 0.3 - 0.2 * s[t], "flat": 0.32}[arm]
                reward = float(u[t] < rate)
                policy.update(arm, reward, x if policy.contextual else None)
                total += rate  # expected reward of the arm played: less noise than the clicks
            results[name].append(total / rounds)
    return {"rounds": rounds, "best_fixed_arm_value": 0.32, "best_contextual_value": 0.4,
            "mean_reward": {k: round(float(np.mean(v)), 4) for k, v in results.items()},
            "per_seed": {k: [round(x, 4) for x in v] for k, v in results.items()}}


BETA = np.array([[1.0, -1.0], [-1.0, 1.0], [0.3, 0.3]])  # true logistic coefficients per arm
LOGGING_RULE = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # argmax of x @ rule
TARGET_RULE = np.array([[1.0, -1.0, 0.2], [-1.0, 1.0, 0.2]])


def click_rates(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ BETA.T)))


def rule_policy(x: np.ndarray, rule: np.ndarray, greedy_share: float) -> np.ndarray:
    p = np.full((len(x), 3), (1 - greedy_share) / 3)
    p[np.arange(len(x)), np.argmax(x @ rule, axis=1)] += greedy_share
    return p


def offpolicy_bench(n: int, seeds: int) -> dict:
    rng = np.random.default_rng(7)
    fresh = rng.normal(size=(1_000_000, 2))
    truth_rates = click_rates(fresh)
    true_value = float(np.mean(np.sum(rule_policy(fresh, TARGET_RULE, 0.8) * truth_rates, axis=1)))
    true_rule_value = float(np.mean(np.sum(rule_policy(fresh, TARGET_RULE, 1.0) * truth_rates, axis=1)))
    logging_value = float(np.mean(np.sum(rule_policy(fresh, LOGGING_RULE, 0.5) * truth_rates, axis=1)))
    rows = []
    for seed in range(seeds):
        g = np.random.default_rng(3000 + seed)
        x = g.normal(size=(n, 2))
        mu = rule_policy(x, LOGGING_RULE, 0.5)
        arms = (g.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1)
        rewards = (g.random(n) < click_rates(x)[np.arange(n), arms]).astype(float)
        log = LoggedData(arms=arms, rewards=rewards, propensities=mu[np.arange(n), arms], contexts=x)
        target = rule_policy(x, TARGET_RULE, 0.8)
        row = {name: f(log, target).value for name, f in (("ips", ips), ("snips", snips), ("doubly_robust", doubly_robust))}
        # replay needs a uniformly logged stream; it evaluates the target's deterministic rule
        arms_u = g.integers(0, 3, n)
        rewards_u = (g.random(n) < click_rates(x)[np.arange(n), arms_u]).astype(float)
        uniform_log = LoggedData(arms=arms_u, rewards=rewards_u, propensities=np.full(n, 1 / 3), contexts=x)
        greedy = LinUCB(n_features=2, alpha=0.0)  # frozen linear rule: theta_a = TARGET_RULE column a
        for a, name in enumerate(("a0", "a1", "a2")):
            greedy.add_arm(name)
            greedy.b[a] = TARGET_RULE[:, a] * greedy.ridge  # A = ridge I  =>  theta = b / ridge
        row["replay_rule"] = replay(uniform_log, greedy, ["a0", "a1", "a2"], g, learn=False).value
        rows.append(row)
    errors = {k: [abs(r[k] - (true_rule_value if k == "replay_rule" else true_value))
                  / (true_rule_value if k == "replay_rule" else true_value) for r in rows] for k in rows[0]}
    return {"rows_logged": n, "true_target_value": round(true_value, 4),
            "true_rule_value": round(true_rule_value, 4), "logging_policy_value": round(logging_value, 4),
            "estimates": [{k: round(v, 4) for k, v in r.items()} for r in rows],
            "max_relative_error": {k: round(max(v), 4) for k, v in errors.items()}}


def serving_bench(requests: int) -> dict:
    import tempfile

    from starlette.testclient import TestClient

    from tastemaker.api.app import build_app
    from tastemaker.config import Settings
    from tastemaker.engine import Engine
    from tastemaker.serving.request import RecommendationRequest

    sources = {"popular": 1, "trending": 1}
    arms = {f"w{k}": {"blend": {"trending": {"weight": 0.25 * k}}} for k in range(5)}
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(data_dir=Path(tmp), admin_key="bench-admin-key", durable=False))
        with TestClient(build_app(engine), headers={"Authorization": "Bearer bench-admin-key"}) as client:
            client.post("/v1/items", json=[{"id": f"i{k}", "categories": [f"c{k % 7}"]} for k in range(200)])
            client.post("/v1/events", json=[{"id": f"v{k}", "type": "view", "user_id": f"u{k % 50}",
                                             "item_id": f"i{(k * 7) % 200}"} for k in range(2000)])
            client.put("/v1/placements/plain", json={"sources": sources, "n": 10})
            client.put("/v1/placements/hero", json={"sources": sources, "n": 10,
                                                    "bandit": {"policy": "thompson", "arms": arms}})
            times: dict[str, list[float]] = {"plain": [], "hero": []}
            for k in range(requests):
                for placement in ("plain", "hero"):
                    request = RecommendationRequest(user_id=f"u{k % 50}", placement=placement)
                    t0 = time.perf_counter()
                    body = engine.recommend(request)
                    times[placement].append(time.perf_counter() - t0)
                if k % 20 == 0:
                    client.post("/v1/events", json={"id": f"c{k}", "type": "click", "user_id": f"u{k % 50}",
                                                    "item_id": body["items"][0]["id"],
                                                    "recommendation_id": body["recommendation_id"]})
            updates = engine.recommender.bandits.registry.updates
    ms = {p: {"p50": round(float(np.percentile(t[100:], 50)) * 1e3, 3), "p99": round(float(np.percentile(t[100:], 99)) * 1e3, 3)}
          for p, t in times.items()}
    return {"requests_each": requests, "posterior_updates": updates, "ms": ms,
            "added_ms": {q: round(ms["hero"][q] - ms["plain"][q], 3) for q in ("p50", "p99")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20k rounds, 2 seeds")
    ap.add_argument("--results-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    rounds, seeds = (20_000, 2) if args.quick else (100_000, 5)
    started = time.perf_counter()
    with threadpool_limits(1):
        regret = regret_bench(rounds, seeds)
        context = contextual_bench(rounds // 5, 3)
        offpolicy = offpolicy_bench(50_000, 5)
        serving = serving_bench(2000 if not args.quick else 500)
    targets = []
    for setting, r in regret.items():
        for name in ("thompson", "ucb1", "ucb1_tuned"):
            p = r["policies"][name]
            targets.append((f"{setting}: {name} log-log slope < 1", p["log_log_slope"], p["log_log_slope"] < 1))
            share = p["end_share_of_epsilon_greedy"]
            targets.append((f"{setting}: {name} end regret <= 50% of eps-greedy", share, share <= 0.5))
    best_fixed = context["best_fixed_arm_value"]
    targets.append(("LinUCB mean reward > best fixed arm", context["mean_reward"]["linucb"],
                    context["mean_reward"]["linucb"] > best_fixed))
    for k, v in offpolicy["max_relative_error"].items():
        targets.append((f"off-policy {k}: max relative error <= 5%", v, v <= 0.05))
    print(f"\nregret (mean of {seeds} seeds) at {', '.join(str(c) for c in CHECKPOINTS if c <= rounds)} rounds")
    for setting, r in regret.items():
        for name, p in r["policies"].items():
            print(f"  {setting:4} {name:15} {list(p['regret_at'].values())}  slope {p['log_log_slope']}")
    print(f"contextual ({context['rounds']} rounds): {context['mean_reward']} "
          f"best fixed {best_fixed}, best per context {context['best_contextual_value']}")
    print(f"off-policy: truth {offpolicy['true_target_value']} (rule {offpolicy['true_rule_value']}), "
          f"max relative errors {offpolicy['max_relative_error']}")
    print(f"serving ({serving['requests_each']} requests each, {serving['posterior_updates']} posterior updates): "
          f"{serving['ms']} ms; the bandit adds {serving['added_ms']} ms")
    print("\ntarget                                               figure   met")
    for label, figure, met in targets:
        print(f"  {label:50} {figure:8.4f} {'yes' if met else 'NO'}")
    seconds = round(time.perf_counter() - started, 1)
    print(f"\n{seconds} s")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(args.results_dir) / f"bandits-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": "bench/bandits.py" + (" --quick" if args.quick else ""), "rounds": rounds,
                "seeds": seeds, "seconds": seconds, "regret": regret, "contextual": context,
                "offpolicy": offpolicy, "serving": serving,
                "targets": [{"target": t, "figure": f, "met": bool(m)} for t, f, m in targets]}
    path.write_text(json.dumps(document, indent=1))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
