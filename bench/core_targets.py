"""Core benchmark: the targets of issue 14, each read off this run's results as a ratio.

Every figure is compared with a ceiling or a rate measured in the same run on the same
machine (raw-ASGI hello-world, raw SQLite ingest, the engine's own max throughput), so the
verdicts carry across machines; absolute milliseconds are the only exception (they are the
issue's own targets).
"""

from __future__ import annotations

from typing import Any

from core_data import _verdict

P99_AT_25_MS = 10.0
P99_OVER_P50_AT_25 = 3.0
P99_AT_70_MS = 25.0
RECS_OVER_HELLO = 0.15
INGEST_OVER_SQLITE = 0.30


def _open_loop(results: dict, fraction: float) -> dict | None:
    return next((r for r in results.get("open_loop", []) if r.get("fraction_of_max") is not None
                 and abs(r["fraction_of_max"] - fraction) < 1e-9), None)


def _ingest(results: dict, clients: int, batch: int) -> dict | None:
    return next((r for r in results.get("ingest", []) if r["clients"] == clients and r["batch_size"] == batch), None)


def issue14_targets(results: dict) -> list[dict[str, Any]]:
    """One row per target: figure, measured value, target, PASS/FAIL (or ``not run``)."""
    rows: list[dict[str, Any]] = []

    def add(figure: str, measured: str | None, target: str, ok: bool | None) -> None:
        rows.append({"figure": figure, "measured": measured or "not run", "target": target,
                     "verdict": "not run" if ok is None or measured is None else _verdict(ok)})

    low = _open_loop(results, 0.25)
    if low:
        lat = low["latency_ms"]
        ratio = lat["p99"] / lat["p50"] if lat["p50"] else float("inf")
        add("open loop 25% of max: p99", f"{lat['p99']:.2f} ms (p50 {lat['p50']:.2f})", f"<= {P99_AT_25_MS:g} ms",
            lat["p99"] <= P99_AT_25_MS and low["errors_total"] == 0)
        add("open loop 25% of max: p99 / p50", f"{ratio:.2f} x", f"<= {P99_OVER_P50_AT_25:g} x", ratio <= P99_OVER_P50_AT_25)
    else:
        add("open loop 25% of max: p99", None, f"<= {P99_AT_25_MS:g} ms", None)
    high = _open_loop(results, 0.70)
    if high:
        lat = high["latency_ms"]
        add("open loop 70% of max: p99", f"{lat['p99']:.2f} ms (max {lat['max']:.1f})", f"<= {P99_AT_70_MS:g} ms",
            lat["p99"] <= P99_AT_70_MS and high["errors_total"] == 0)
    else:
        add("open loop 70% of max: p99", None, f"<= {P99_AT_70_MS:g} ms", None)
    mixed = results.get("mixed")
    if mixed:
        view = mixed["seconds_view"]
        add(f"{mixed['fraction_of_max']:.0%} open loop + {mixed['ingest']['clients']} clients ingesting: "
            "seconds over 50 ms", f"{view['over_50ms']} of {view['seconds']}", "0", view["over_50ms"] == 0)
    else:
        add("open loop + 4 clients ingesting: seconds over 50 ms", None, "0", None)
    hello, recs = results.get("hello"), results.get("recs_wrk")
    if hello and recs and hello["rps"]:
        ratio = recs["rps"] / hello["rps"]
        add("max recommendations / raw-ASGI hello", f"{ratio:.3f} x ({recs['rps']:,.0f} / {hello['rps']:,.0f} req/s)",
            f">= {RECS_OVER_HELLO:g} x", ratio >= RECS_OVER_HELLO)
    else:
        add("max recommendations / raw-ASGI hello", None, f">= {RECS_OVER_HELLO:g} x", None)
    ceiling = (results.get("sqlite_ceiling") or {}).get("events_per_s")
    for clients, batch in ((1, 10_000), (4, 1_000)):
        res = _ingest(results, clients, batch)
        figure = f"ingest {clients} client{'s' if clients > 1 else ''} x {batch:,} / raw SQLite"
        if res and ceiling:
            ratio = res["events_per_s"] / ceiling
            add(figure, f"{ratio:.3f} x ({res['events_per_s']:,.0f} / {ceiling:,.0f} ev/s)", f">= {INGEST_OVER_SQLITE:g} x",
                ratio >= INGEST_OVER_SQLITE and res["errors"] == 0)
        else:
            add(figure, None, f">= {INGEST_OVER_SQLITE:g} x", None)
    return rows


def targets_table(rows: list[dict[str, Any]], shape: str) -> str:
    width = max(len(r["figure"]) for r in rows)
    mwidth = max(len(r["measured"]) for r in rows)
    lines = [f"issue 14 targets, shape '{shape}' (ratios in this run, on this machine)",
             f"{'figure':<{width}}  {'measured':<{mwidth}}  {'target':<9} verdict", "-" * (width + mwidth + 22)]
    lines += [f"{r['figure']:<{width}}  {r['measured']:<{mwidth}}  {r['target']:<9} {r['verdict']}" for r in rows]
    return "\n".join(lines)
