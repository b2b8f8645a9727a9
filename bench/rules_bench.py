"""Micro-benchmark of the per-request ranking stages of issue 4 at 100 candidates.

Prints microseconds per call (median of repeated runs) for: the rules engine (filters,
boosts, pins, caps, margin; with and without an explanation trace), MMR over categories
and over embeddings, calibration, the popularity discount and minimum exposure, the
candidate feature matrix, the LambdaMART ranker (50 trees, 15 leaves), and all of them
chained the way a placement with every feature on runs them.

Run: ``.venv/bin/python bench/rules_bench.py`` (``--candidates 200`` for another size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as in the server: no BLAS threads per request
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tastemaker.features.catalog import CatalogView  # noqa: E402
from tastemaker.features.item_index import ItemIndex  # noqa: E402
from tastemaker.features.user_state import UserState  # noqa: E402
from tastemaker.ranking.calibration import calibrate, calibrate_codes, target_by_code, target_distribution  # noqa: E402
from tastemaker.ranking.diversity import category_features, embedding_features, mmr  # noqa: E402
from tastemaker.ranking.fairness import ensure_min_exposure, popularity_discount  # noqa: E402
from tastemaker.ranking.features import FEATURE_NAMES, candidate_features  # noqa: E402
from tastemaker.ranking.ltr import LTRRanker, TrainingSet  # noqa: E402
from tastemaker.rules.engine import RuleSet, RuleTrace, score_order  # noqa: E402
from tastemaker.rules.env import RuleEnv  # noqa: E402
from tastemaker.schema.records import Item  # noqa: E402
from tastemaker.candidates import Candidates  # noqa: E402
from tastemaker.serving.placement_config import load_placements  # noqa: E402

NOW = 1_700_000_000.0
PLACEMENT = """
placements:
  bench:
    sources: {covisitation: 1, trending: 0.2}
    rules:
      - filter: in_stock
      - filter: not_purchased
      - filter: price
        max: 400
      - filter: category
        exclude: [c7]
      - where: 'margin > 0.02 and not ("hidden" in tags)'
      - boost: 'brand == "b3" or "sale" in tags'
        factor: 1.5
      - bury: 'age > 300d'
        factor: 0.6
      - boost: 'properties.rating >= 4'
        factor: '1 + margin'
      - pin: i17
        position: 1
      - pin: i42
        position: 4
      - cap: brand
        max: 3
      - cap: category
        max: 4
      - margin: 0.2
"""


def build(n_items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cat = CatalogView(ItemIndex())
    for i in range(n_items):
        cat.upsert(Item(id=f"i{i}", categories=[f"c{rng.integers(30)}"] + ([f"c{rng.integers(30)}"] if i % 3 == 0 else []),
                        brand=f"b{rng.integers(50)}", price=float(rng.uniform(1, 500)), margin=float(rng.uniform(0, 0.5)),
                        stock=int(rng.integers(0, 20)), tags=["sale"] if i % 7 == 0 else ["hidden"] if i % 97 == 0 else [],
                        created_at=NOW - float(rng.uniform(0, 600)) * 86400,
                        properties={"rating": float(rng.uniform(1, 5)), "color": ["red", "blue"][i % 2]}))
    user = UserState()
    user.purchased = set(rng.integers(0, n_items, 30).tolist())
    user.seen = set(rng.integers(0, n_items, 200).tolist())
    user.affinity = {f"c{k}": float(rng.uniform(0, 5)) for k in range(0, 30, 3)}
    return cat, user, rng


def timeit(fn, repeat: int = 7, number: int = 300) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t) / number * 1e6)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    cat, user, rng = build(args.items)
    rules: RuleSet = load_placements(PLACEMENT)["bench"].rules
    m = args.candidates
    items = rng.choice(args.items, m, replace=False).astype(np.int64)
    scores = np.sort(rng.random(m))[::-1].copy()
    cands = Candidates(items, scores, np.full(m, "covisitation", dtype=object))
    popularity = rng.random(args.items) * 100
    columns = {"popularity": popularity, "trending": popularity * 0.5}
    context = {"device": "mobile"}
    embeddings = rng.normal(size=(args.items, 64))

    def env() -> RuleEnv:
        return RuleEnv(cat, cands.items, NOW, cands.scores, cands.sources, user, columns, context)

    X_train = rng.random((20_000, len(FEATURE_NAMES)))
    y = (X_train[:, 1] + 0.3 * rng.random(20_000) > 0.9).astype(np.int32)
    ranker = LTRRanker.train(TrainingSet(X_train, y, np.full(200, 100), np.arange(200.0)), rounds=50)
    sources = {"covisitation": rng.random(m), "trending": rng.random(m)}
    n = args.n

    def rules_only():
        return rules.apply(cands, env(), n)

    def rules_traced():
        return rules.apply(cands, env(), n, RuleTrace())

    def filters_boosts_only():
        return rules.score(cands, env())

    e_full = env()
    feats_cat, vocab = category_features(e_full)

    def mmr_categories():
        e = env()
        f, _ = category_features(e)
        return mmr(cands.scores, f, n, 0.3)

    def mmr_codes():
        return mmr(cands.scores, env().group_codes("category"), n, 0.3)

    def calibration_codes():
        tc, tw = target_by_code(user.affinity, cat.category_ids)
        return calibrate_codes(cands.scores, env().group_codes("category"), tc, tw, n, 0.3)

    def mmr_embeddings():
        return mmr(cands.scores, embedding_features(e_full, embeddings), n, 0.3)

    def calibration():
        e = env()
        f, v = category_features(e)
        return calibrate(cands.scores, f, target_distribution(user.affinity, v), n, 0.3)

    brand_codes = e_full.group_codes("brand")
    shares = {cat.brand_ids["b3"]: 0.2, cat.brand_ids["b4"]: 0.1}

    def fairness():
        s = popularity_discount(cands.scores, e_full.column("popularity"), 0.3)
        return ensure_min_exposure(score_order(s, cands.items), brand_codes, shares, n)

    def features():
        return candidate_features(env(), cands.scores, sources)

    X = candidate_features(e_full, cands.scores, sources)

    def ltr():
        return ranker.score(X)

    def pipeline():
        e = env()
        X = candidate_features(e, cands.scores, sources)
        c = Candidates(cands.items, ranker.score(X), cands.sources, cands.because)
        c, e = rules.score(c, e)
        c = Candidates(c.items, popularity_discount(c.scores, e.column("popularity"), 0.3), c.sources, c.because)
        order = mmr(c.scores, e.group_codes("category"), n, 0.3)
        order = ensure_min_exposure(order, e.group_codes("brand"), {cat.brand_ids["b3"]: 0.2}, n)
        ordered = Candidates(c.items[order], c.scores[order], c.sources[order], c.because)
        return rules.arrange(ordered, e.subset(order), n)

    rows = [
        ("rules: filters + boosts + margin (score phase)", filters_boosts_only),
        ("rules: full apply (5 filters, 3 boosts, 2 pins, 2 caps, margin)", rules_only),
        ("rules: full apply with explanation trace", rules_traced),
        ("MMR over primary-category codes (k=10)", mmr_codes),
        ("MMR over category sets (k=10, incl. indicator matrix)", mmr_categories),
        ("MMR over 64-d embeddings (k=10)", mmr_embeddings),
        ("calibration over primary-category codes (k=10)", calibration_codes),
        ("calibration over category sets (k=10, incl. indicator matrix)", calibration),
        ("popularity discount + min exposure", fairness),
        ("candidate feature matrix (22 columns)", features),
        ("LambdaMART score (50 trees x 15 leaves)", ltr),
        ("whole chain: features, LTR, rules, discount, MMR (codes), exposure, caps/pins", pipeline),
    ]
    assert vocab is not None and feats_cat is not None
    print(f"{m} candidates, catalogue of {args.items:,} items, n = {n}; microseconds per call (median)")
    width = max(len(r[0]) for r in rows)
    for name, fn in rows:
        print(f"  {name:<{width}}  {timeit(fn):8.1f} us")


if __name__ == "__main__":
    main()
