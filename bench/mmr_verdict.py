"""The verdict and the printed tables of ``mmr_ml100k.py``: relative changes against the
baseline, the best point within the nDCG cost, and the issue-4 target line."""

from __future__ import annotations

K = 10
MAX_COST, TARGET_GAIN = -3.0, 20.0  # percent: nDCG@10 cost allowed, intra-list diversity gain wanted


def change(r: dict[str, float], base: dict[str, float]) -> None:
    r["ndcg_change_pct"] = (r["ndcg@10"] / base["ndcg@10"] - 1) * 100
    r["ild_change_pct"] = (r["ild"] / base["ild"] - 1) * 100


def best_within(rows: list[dict[str, float]]) -> dict[str, float]:
    return max((r for r in rows if r["ndcg_change_pct"] >= MAX_COST), key=lambda r: r["ild_change_pct"])


def verdict_of(res: dict) -> str:
    """One line: is the target met on test, the best point within the cost, the cheapest
    point reaching the gain, and what the two validation rules for λ give on test."""
    curves, methods = res["curves"], res["methods"]
    ok = [(n, r) for n in methods for r in curves[n]
          if r["ild_change_pct"] >= TARGET_GAIN and r["ndcg_change_pct"] >= MAX_COST]
    best_name = max(methods, key=lambda n: best_within(curves[n])["ild_change_pct"])
    best = best_within(curves[best_name])
    cheapest = {n: max((r for r in curves[n] if r["ild_change_pct"] >= TARGET_GAIN),
                       key=lambda r: r["ndcg_change_pct"], default=None) for n in methods}
    cheapest = {n: r for n, r in cheapest.items() if r is not None}
    c_name = max(cheapest, key=lambda n: cheapest[n]["ndcg_change_pct"]) if cheapest else None
    base = curves["mmr"][0]
    verdict = (f"[{res['source']}: baseline nDCG@10 {base['ndcg@10']:.4f}, ILD {base['ild']:.3f}] target (ILD "
               f"+{TARGET_GAIN:g}% at <= {-MAX_COST:g}% nDCG cost) ")
    verdict += (f"met on test by {len(ok)} points of {len({n for n, _ in ok})} re-rankers" if ok else "NOT met on test")
    verdict += (f"; best within {-MAX_COST:g}% nDCG: {best_name} λ {best['lambda']:g}: ILD {best['ild_change_pct']:+.1f}%, "
                f"nDCG {best['ndcg_change_pct']:+.1f}%")
    if c_name:
        r = cheapest[c_name]
        verdict += (f"; cheapest ILD >= +{TARGET_GAIN:g}%: {c_name} λ {r['lambda']:g}: "
                    f"ILD {r['ild_change_pct']:+.1f}%, nDCG {r['ndcg_change_pct']:+.1f}%")
    c = res["chosen"][best_name]
    verdict += (f"; λ chosen on validation (largest within the cost) for {best_name}: {c['lambda']:g} -> test "
                f"ILD {c['test']['ild_change_pct']:+.1f}%, nDCG {c['test']['ndcg_change_pct']:+.1f}%")
    aims = {n: res["chosen"][n]["target"] for n in methods if res["chosen"][n]["target"] is not None}
    if aims:  # the re-ranker whose target-meeting validation λ costs least on validation
        n = max(aims, key=lambda n: aims[n]["val"]["ndcg_change_pct"])
        a = aims[n]
        verdict += (f"; smallest λ meeting the target on validation (cheapest re-ranker there): {n} λ "
                    f"{a['lambda']:g} -> test ILD {a['test']['ild_change_pct']:+.1f}%, "
                    f"nDCG {a['test']['ndcg_change_pct']:+.1f}%")
    else:
        verdict += "; no re-ranker meets the target on validation"
    return verdict


def print_source(res: dict, n_cand: int, calib: str) -> None:
    curves = res["curves"]
    jit = "" if res["jitter"] is None else (
        f"; DPP jitter {res['jitter']:g} (chosen on validation: "
        + ", ".join(f"{j:g}: {g:+.1f}%" for j, g in res["jitter_gain"].items()) + ")")
    print(f"ML-100k, relevance {res['source']}, {res['users']} test users, {n_cand} candidates, top {K}; "
          f"re-ranking over genre sets, ILD over genres (1 - mean pairwise cosine); gcal calibrator {calib}{jit}")
    if res["weights"]["test"]:
        print("hybrid blend weights (test fit): " + ", ".join(f"{k} {v:g}" for k, v in res["weights"]["test"].items()))
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
    print(f"{'rerank':<13}{'us/call':>8}  best test point within 3% nDCG     λ chosen on validation -> test"
          f"{'':<26}λ meeting the target on validation -> test")
    for name in res["methods"]:
        b, c = best_within(curves[name]), res["chosen"][name]
        a = c["target"]
        aim = "none on validation" if a is None else (
            f"λ {a['lambda']:<5g} ILD {a['test']['ild_change_pct']:+5.1f}% nDCG {a['test']['ndcg_change_pct']:+5.1f}% "
            f"(val ILD {a['val']['ild_change_pct']:+.1f}%, nDCG {a['val']['ndcg_change_pct']:+.1f}%)")
        print(f"{name:<13}{res['timing'][name]:>8.0f}  λ {b['lambda']:<5g} ILD {b['ild_change_pct']:+5.1f}% "
              f"nDCG {b['ndcg_change_pct']:+5.1f}%   λ {c['lambda']:<5g} ILD {c['test']['ild_change_pct']:+5.1f}% "
              f"nDCG {c['test']['ndcg_change_pct']:+5.1f}% (val nDCG {c['val']['ndcg_change_pct']:+.1f}%)   {aim}")
    print()
