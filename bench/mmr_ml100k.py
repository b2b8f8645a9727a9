"""Diversity vs accuracy on MovieLens 100k: trade-off curves over λ (issue 4).

Protocol: per-user stratified random 75/25 split of all 100k ratings (binary relevance,
seed 0; ``training.splits.random_split``), EASE (λ_reg = 500) fitted on the training part,
training items removed from each user's ranking; each user's 100 best items are the
candidates (``--candidates``); a re-ranker reorders them with diversity weight λ over the
movies' genre sets (cosine of genre indicator rows), and the top 10 are scored. Intra-list
diversity (ILD) is always the standard ``training.metrics.intra_list_diversity`` over the
genre indicator matrix (1 - mean pairwise cosine), the same for the baseline (λ = 0, plain
EASE) and every re-ranked list.

Re-rankers (``tastemaker.ranking.diversity``):

- ``mmr``          classic MMR: max similarity to the picked items, pick order kept.
- ``mmr-mean``     mean similarity to the picked items, pick order kept.
- ``mmr-sum``      sum penalty (the exact greedy step of relevance minus mean pairwise
                   similarity, i.e. of ILD) and the picked set returned in relevance order
                   (ILD is a set property; the order only moves nDCG).
- ``mmr-sum-cal``  ``mmr-sum`` on calibrated hit probabilities instead of min-max scaled
                   EASE scores (``scale="none"``), so λ prices diversity in the same unit for
                   every user: a logistic regression of "held-out hit" on the candidate's
                   log rank, score / top score and the user's log history length, fitted on
                   a validation split carved from the training part (never on test).
- ``swap-cal``     :func:`~tastemaker.ranking.diversity.swap` on the same calibrated
                   probabilities: local search (best single swap while it improves) of
                   ``(1 - λ) * expected nDCG@10 + λ * ILD`` for the list shown in probability
                   order, position discounts included (diversity at positions 7-10 is cheaper
                   than at the top; greedy MMR cannot see that). The expected nDCG divides the
                   expected DCG by the user's expected ideal DCG (held-out count estimated as
                   history / 3: the 75/25 split), so λ trades nDCG, the measured unit, alike for
                   every user.
- ``mmr-sum-gcal`` ``mmr-sum-cal`` on genre-aware calibrated probabilities: the logistic
                   regression (standardised, C = 0.1) also sees the user's genre mix (the share
                   of the history in the candidate's genres, max share, cosine to the history's
                   genre profile, per-genre indicator and share-times-indicator terms, their
                   interactions with log rank), log popularity and the genre count. Fitted on
                   the validation split only; its validation-split probabilities are
                   cross-fitted (two folds by user), so λ is not chosen on in-sample fits.
- ``swap-gcal``    ``swap`` on the genre-aware probabilities (both ideas together).
- ``dpp``          determinantal point process, greedy MAP (Chen et al. 2018), picked set
                   in relevance order; its kernel jitter is chosen on the validation split.
- ``calibration``  Steck's calibrated lists (genre mix of the history), for comparison.

Every curve is computed on the validation split too (EASE refitted on the rest of the
training part): per re-ranker, "λ chosen on validation" is the largest λ of the grid whose
validation nDCG@10 cost is ≤ 3%, and its test numbers are reported next to the curve. Target
of the issue: ILD up ≥ 20% at ≤ 3% nDCG@10 cost at a moderate λ.

Run: ``.venv/bin/python bench/mmr_ml100k.py`` (``--svg PATH`` writes the test curves with
``training.report.line_plot_svg``; ``--json PATH`` the tables).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tastemaker.datasets import load_ml100k  # noqa: E402
from tastemaker.models.ease import EASE  # noqa: E402
from tastemaker.ranking.calibration import calibrate  # noqa: E402
from tastemaker.ranking.diversity import dpp, mmr, swap, unit_rows  # noqa: E402
from tastemaker.training.metrics import (catalogue_coverage, category_features, intra_list_diversity,  # noqa: E402
                                         item_popularity, mean_metrics, popularity_bias, ranking_metrics)
from tastemaker.training.report import line_plot_svg  # noqa: E402
from tastemaker.training.splits import random_split  # noqa: E402

K = 10
CANDIDATES = 100
LAMBDAS = (0.0, 0.05, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8)
DPP_JITTERS = (0.05, 0.2, 0.5)
MAX_COST, TARGET_GAIN = -3.0, 20.0  # percent
UNPLOTTED = ("mmr-mean", "calibration")  # in the table, not the plot: seven curves, seven colours


def load() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    ds = load_ml100k()
    user, item, _ = ds.interaction_indices()
    m = sp.csr_matrix((np.ones(len(item), np.float32), (user, item)), shape=(user.max() + 1, len(ds.items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    genres = category_features(ds.items, [it["id"] for it in ds.items])
    return m, sp.csr_matrix(genres)


class User(NamedTuple):
    """One user's candidates as the re-rankers see them."""

    scores: np.ndarray  # EASE scores, best first
    prob: np.ndarray  # calibrated hit probabilities (rank, score, history length)
    gprob: np.ndarray  # genre-aware calibrated hit probabilities
    ideal: float  # expected ideal DCG@K


def expected_ideal_dcg(n_hist: np.ndarray, holdout: float = 0.25) -> np.ndarray:
    """The ideal DCG@K of a user whose held-out count is estimated from the history length
    (a random ``holdout`` split leaves ``n_hist * holdout / (1 - holdout)`` items out)."""
    n_rel = np.clip(np.rint(n_hist * holdout / (1 - holdout)), 1, K).astype(np.int64)
    return np.cumsum(1.0 / np.log2(np.arange(2, K + 2)))[n_rel - 1]


class Split:
    """Candidates of one train/held-out split: EASE on ``train``, each user's best
    ``n_cand`` unseen items (sorted by score), the held-out relevance."""

    def __init__(self, train: sp.csr_matrix, heldout: sp.csr_matrix, n_cand: int):
        self.users = np.flatnonzero(np.diff(heldout.indptr) > 0)
        hist = train[self.users]
        scores = EASE(lambda_=500.0).fit(train).score(hist).astype(np.float64)
        scores[np.repeat(np.arange(len(self.users)), np.diff(hist.indptr)), hist.indices] = -np.inf
        cand = np.argpartition(-scores, n_cand - 1, axis=1)[:, :n_cand]
        s = np.take_along_axis(scores, cand, 1)
        order = np.argsort(-s, axis=1, kind="stable")
        self.cand, self.scores = np.take_along_axis(cand, order, 1), np.take_along_axis(s, order, 1)
        self.relevant = heldout[self.users]
        self.history = hist
        self.n_hist = np.diff(hist.indptr)
        self.pop = item_popularity(train)

    def hits(self) -> np.ndarray:
        n, c = self.cand.shape
        return np.asarray(self.relevant[np.repeat(np.arange(n), c), self.cand.ravel()]).reshape(n, c)

    def calib_features(self) -> np.ndarray:
        n, c = self.cand.shape
        log_rank = np.log(np.arange(1, c + 1, dtype=np.float64))[None, :].repeat(n, 0)
        rel_top = self.scores / np.maximum(self.scores[:, :1], 1e-12)
        log_hist = np.log1p(self.n_hist.astype(np.float64))[:, None].repeat(c, 1)
        return np.stack([log_rank, rel_top, log_hist, log_hist * log_rank], -1).reshape(n * c, -1)

    def genre_calib_features(self, genres: np.ndarray) -> np.ndarray:
        """:meth:`calib_features` plus the user's genre mix against the candidate's genres,
        log popularity, genre count and score; per-genre indicator and share x indicator."""
        n, c = self.cand.shape
        base = self.calib_features()
        hist = np.asarray(self.history @ genres, np.float64)
        share = hist / np.maximum(hist.sum(1, keepdims=True), 1.0)
        g = genres[self.cand]  # (n, c, genres)
        n_genres = g.sum(-1)
        aff = (g * share[:, None, :]).sum(-1) / np.maximum(n_genres, 1.0)
        aff_max = (g * share[:, None, :]).max(-1)
        cos = (unit_rows(g.reshape(n * c, -1)).reshape(g.shape) * unit_rows(hist)[:, None, :]).sum(-1)
        pop = np.log(self.pop[self.cand] + 1e-4)
        mix = np.stack([aff, aff_max, cos], -1).reshape(n * c, -1)
        g2 = g.reshape(n * c, -1)
        return np.column_stack([base, mix, pop.ravel(), n_genres.ravel(), self.scores.ravel(), g2,
                                g2 * np.repeat(share, c, 0), mix * base[:, :1]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svg", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--report", type=Path, help="directory for mmr_ml100k.html/.json: the curve table and plot")
    ap.add_argument("--lambdas", type=lambda s: tuple(float(x) for x in s.split(",")), default=LAMBDAS)
    ap.add_argument("--candidates", type=int, default=CANDIDATES)
    args = ap.parse_args()
    lambdas = tuple(sorted({0.0, *args.lambdas}))
    t0 = time.perf_counter()
    m, genres = load()
    feats_all = unit_rows(genres.toarray())
    train, test = random_split(m, 0.25, seed=0)
    fit, val = random_split(train, 0.25, seed=1)  # validation carved from the training part
    splits = {"val": Split(fit, val, args.candidates), "test": Split(train, test, args.candidates)}

    # calibrated hit probabilities: fitted on the validation split only
    from sklearn.linear_model import LogisticRegression
    cal = LogisticRegression(max_iter=1000).fit(splits["val"].calib_features(), splits["val"].hits().ravel())
    prob = {name: cal.predict_proba(s.calib_features())[:, 1].reshape(s.cand.shape) for name, s in splits.items()}
    # genre-aware calibration: fitted on validation; validation probabilities cross-fitted by user
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def gcal() -> object:
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))

    dense_genres = genres.toarray().astype(np.float64)
    vs = splits["val"]
    gx, gy = vs.genre_calib_features(dense_genres), vs.hits().ravel()
    fold = np.repeat(np.arange(len(vs.users)) % 2, vs.cand.shape[1])
    gv = np.empty(len(gy))
    for f in (0, 1):
        gv[fold == f] = gcal().fit(gx[fold != f], gy[fold != f]).predict_proba(gx[fold == f])[:, 1]
    ts = splits["test"]
    gprob = {"val": gv.reshape(vs.cand.shape),
             "test": gcal().fit(gx, gy).predict_proba(ts.genre_calib_features(dense_genres))[:, 1]
             .reshape(ts.cand.shape)}
    ideal = {name: expected_ideal_dcg(s.n_hist) for name, s in splits.items()}

    def evaluate(s: Split, topk: np.ndarray) -> dict[str, float]:
        out = mean_metrics({**ranking_metrics(topk, s.relevant), "ild": intra_list_diversity(topk, genres),
                            "arp": popularity_bias(topk, s.pop)})
        out["coverage"] = catalogue_coverage(topk, m.shape[1])
        return out

    # (user: scores, calibrated prob, genre-aware prob, expected ideal DCG; candidate features; λ)
    Rerank = Callable[[User, np.ndarray, float], np.ndarray]

    def run(name: str, s: Split, fn: Rerank, lam: float) -> tuple[dict[str, float], float]:
        p, gp, z = prob[name], gprob[name], ideal[name]
        topk = np.empty((len(s.users), K), np.int64)
        t = time.perf_counter()
        for u in range(len(s.users)):
            c = s.cand[u]
            topk[u] = c[fn(User(s.scores[u], p[u], gp[u], float(z[u])), feats_all[c], lam)[:K]]
        return evaluate(s, topk), (time.perf_counter() - t) / len(s.users) * 1e6

    def dpp_with(jitter: float) -> Rerank:
        return lambda u, f, lam: dpp(u.scores, f, K, lam, jitter=jitter, order="relevance")

    methods: dict[str, Rerank] = {
        "mmr": lambda u, f, lam: mmr(u.scores, f, K, lam),
        "mmr-mean": lambda u, f, lam: mmr(u.scores, f, K, lam, penalty="mean"),
        "mmr-sum": lambda u, f, lam: mmr(u.scores, f, K, lam, penalty="sum", order="relevance"),
        "mmr-sum-cal": lambda u, f, lam: mmr(u.prob, f, K, lam, penalty="sum", order="relevance", scale="none"),
        "swap-cal": lambda u, f, lam: swap(u.prob, f, K, lam, ideal=u.ideal, scale="none"),
        "mmr-sum-gcal": lambda u, f, lam: mmr(u.gprob, f, K, lam, penalty="sum", order="relevance", scale="none"),
        "swap-gcal": lambda u, f, lam: swap(u.gprob, f, K, lam, ideal=u.ideal, scale="none"),
    }

    def change(r: dict[str, float], base: dict[str, float]) -> None:
        r["ndcg_change_pct"] = (r["ndcg@10"] / base["ndcg@10"] - 1) * 100
        r["ild_change_pct"] = (r["ild"] / base["ild"] - 1) * 100

    base = {name: run(name, s, methods["mmr"], 0.0)[0] for name, s in splits.items()}

    def curve(split: str, fn: Rerank) -> tuple[list[dict[str, float]], float]:
        rows, times = [], []
        for lam in lambdas:
            if lam == 0.0:
                r = dict(base[split])
            else:
                r, us = run(split, splits[split], fn, lam)
                times.append(us)
            r["lambda"] = lam
            change(r, base[split])
            rows.append(r)
        return rows, float(np.mean(times)) if times else 0.0

    def best_within(rows: list[dict[str, float]]) -> dict[str, float]:
        return max((r for r in rows if r["ndcg_change_pct"] >= MAX_COST), key=lambda r: r["ild_change_pct"])

    # DPP jitter: the one whose validation curve reaches the most diversity within the cost
    jitter_gain = {j: best_within(curve("val", dpp_with(j))[0])["ild_change_pct"] for j in DPP_JITTERS}
    jitter = max(jitter_gain, key=jitter_gain.get)
    methods["dpp"] = dpp_with(jitter)

    curves, chosen, timing = {}, {}, {}
    for name, fn in methods.items():
        val_rows, _ = curve("val", fn)
        test_rows, timing[name] = curve("test", fn)
        curves[name] = test_rows
        pick = max((r["lambda"] for r in val_rows if r["ndcg_change_pct"] >= MAX_COST), default=0.0)
        chosen[name] = {"lambda": pick, "val": next(r for r in val_rows if r["lambda"] == pick),
                        "test": next(r for r in test_rows if r["lambda"] == pick)}
    test_split = splits["test"]
    history = np.asarray((test_split.history @ genres).todense())
    cal_rows = []
    for w in (0.3, 0.6):
        topk = np.empty((len(test_split.users), K), np.int64)
        for u in range(len(test_split.users)):
            target = history[u] / max(history[u].sum(), 1e-12)
            order = calibrate(test_split.scores[u], genres[test_split.cand[u]].toarray(), target, K, w)
            topk[u] = test_split.cand[u][order[:K]]
        r = {**evaluate(test_split, topk), "lambda": w}
        change(r, base["test"])
        cal_rows.append(r)
    curves["calibration"] = [curves["mmr"][0], *cal_rows]

    print(f"ML-100k, EASE, {len(test_split.users)} test users, {args.candidates} candidates, top {K}; "
          f"re-ranking over genre sets, ILD over genres (1 - mean pairwise cosine); "
          f"DPP jitter {jitter:g} (chosen on validation: " + ", ".join(f"{j:g}: {g:+.1f}%" for j, g in jitter_gain.items())
          + ")")
    head = f"{'rerank':<13}{'lambda':>7}{'ndcg@10':>9}{'d_ndcg':>8}{'recall@10':>10}{'ILD':>7}{'d_ILD':>8}" \
           f"{'coverage':>9}{'ARP':>7}"
    print(head)
    print("-" * len(head))
    for name, rows in curves.items():
        for r in rows:
            if r["lambda"] == 0.0 and name != "mmr":
                continue
            print(f"{name:<13}{r['lambda']:>7.3g}{r['ndcg@10']:>9.4f}{r['ndcg_change_pct']:>7.1f}%{r['recall@10']:>10.4f}"
                  f"{r['ild']:>7.3f}{r['ild_change_pct']:>7.1f}%{r['coverage']:>9.3f}{r['arp']:>7.3f}")
    print()
    print(f"{'rerank':<13}{'us/call':>8}  best test point within 3% nDCG     λ chosen on validation -> test")
    for name in methods:
        b, c = best_within(curves[name]), chosen[name]
        print(f"{name:<13}{timing[name]:>8.0f}  λ {b['lambda']:<5g} ILD {b['ild_change_pct']:+5.1f}% "
              f"nDCG {b['ndcg_change_pct']:+5.1f}%   λ {c['lambda']:<5g} ILD {c['test']['ild_change_pct']:+5.1f}% "
              f"nDCG {c['test']['ndcg_change_pct']:+5.1f}% (val nDCG {c['val']['ndcg_change_pct']:+.1f}%)")
    ok = [(n, r) for n in methods for r in curves[n]
          if r["ild_change_pct"] >= TARGET_GAIN and r["ndcg_change_pct"] >= MAX_COST]
    best_name = max(methods, key=lambda n: best_within(curves[n])["ild_change_pct"])
    best = best_within(curves[best_name])
    cheapest = {n: max((r for r in curves[n] if r["ild_change_pct"] >= TARGET_GAIN),
                       key=lambda r: r["ndcg_change_pct"], default=None) for n in methods}
    cheapest = {n: r for n, r in cheapest.items() if r is not None}
    c_name = max(cheapest, key=lambda n: cheapest[n]["ndcg_change_pct"]) if cheapest else None
    if ok:
        verdict = "target met at " + ", ".join(f"{n} λ {r['lambda']:g}" for n, r in ok)
    else:
        verdict = (f"target (ILD +{TARGET_GAIN:g}% at <= {-MAX_COST:g}% nDCG cost) NOT met; best within "
                   f"{-MAX_COST:g}% nDCG: {best_name} λ {best['lambda']:g}: ILD {best['ild_change_pct']:+.1f}%, "
                   f"nDCG {best['ndcg_change_pct']:+.1f}%")
        if c_name:
            r = cheapest[c_name]
            verdict += (f"; cheapest ILD >= +{TARGET_GAIN:g}%: {c_name} λ {r['lambda']:g}: "
                        f"ILD {r['ild_change_pct']:+.1f}%, nDCG {r['ndcg_change_pct']:+.1f}%")
    print(verdict)
    print(f"({time.perf_counter() - t0:.1f} s)")
    series, notes = {}, {}
    for name, rows in curves.items():
        if name in UNPLOTTED:
            continue
        series[name] = ([r["ild"] for r in rows], [r["ndcg@10"] for r in rows])
        notes[name] = [f"{r['lambda']:g}" if name in ("mmr-sum-cal", "swap-gcal") else "" for r in rows]
    svg = line_plot_svg(series, title="ML-100k: diversity vs accuracy over lambda",
                        x_label="intra-list diversity (genres)", y_label="nDCG@10", annotate=notes)
    if args.svg:
        args.svg.write_text(svg)
    if args.report:
        from tastemaker.training.report import write_report

        table = [{"protocol": "random 75/25, EASE top-100 re-ranked", "family": f"{name} λ={r['lambda']:g}",
                  "ndcg@10": r["ndcg@10"], "recall@10": r["recall@10"], "diversity@10": r["ild"],
                  "coverage@10": r["coverage"]}
                 for name, rows in curves.items() for r in rows if r["lambda"] > 0.0 or name == "mmr"]
        paths = write_report(args.report, table, name="mmr_ml100k", echo=False, anchors=None, plots=[svg],
                             title="Diversity re-ranking on ML-100k: the trade-off over lambda", notes=verdict)
        print(f"report: {paths['html']}")
    if args.json:
        args.json.write_text(json.dumps({"curves": curves, "chosen_on_validation": chosen, "us_per_call": timing,
                                         "dpp_jitter": jitter, "verdict": verdict}, indent=2))


if __name__ == "__main__":
    main()
