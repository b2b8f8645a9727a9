"""The soak's server-side samples and its printed report (bench/soak.py).

A sample is what one minute boundary sees of the server: RSS (VmRSS/VmHWM from /proc), the
state gauges of ``/metrics`` and the cumulative stall histograms (event-loop lag, collector
pauses, as ``bench/stall_probe.py`` scrapes them). The report joins those with the
generator's per-minute latency figures, explains the memory growth with the state bytes
per event measured separately, and gives the issue 14 verdicts.
"""

from __future__ import annotations

import re
import time

import httpx
import numpy as np

from benchlib import LOCALHOST, rss_mib
from stall_probe import scrape

GAUGES = ("state_users", "state_applied_seq", "covisitation_pairs", "state_items_indexed", "catalog_items")
_GAUGE = re.compile(r"^tastemaker_(" + "|".join(GAUGES) + r") (\S+)$")
P99_TARGET_MS = 25.0
STALL_BOUNDS_MS = (10, 25, 50)
MIB = 2**20


def sample(port: int, token: str, pid: int) -> dict:
    """RSS, state gauges and stall-histogram buckets of the server now."""
    text = httpx.get(f"http://{LOCALHOST}:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    gauges = {}
    for line in text.splitlines():
        m = _GAUGE.match(line)
        if m:
            gauges[m.group(1)] = int(float(m.group(2)))
    return {"t": time.time(), **(rss_mib(pid) or {"rss_mib": 0.0, "peak_rss_mib": 0.0}), "gauges": gauges,
            "buckets": scrape(port, token)}


def stalls(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """Per histogram (loop lag, GC by generation): passes in the window and how many were
    longer than each of STALL_BOUNDS_MS (a bucket bound at or under the bound: exact for 10/25/50)."""
    out = {}
    for name, gen in sorted({(k[0], k[1]) for k in after}):
        delta = {le: after[(name, gen, le)] - before.get((name, gen, le), 0.0) for (n, g, le) in after if (n, g) == (name, gen)}
        total = delta["+Inf"]
        row = {"passes": int(total)}
        for bound in STALL_BOUNDS_MS:
            les = [le for le in delta if le != "+Inf" and float(le) * 1000 <= bound + 1e-9]
            top = max(les, key=float) if les else None
            row[f"over_{bound}ms"] = int(total - delta[top]) if top else int(total)
        out["loop_lag" if name == "event_loop_lag" else f"gc_gen{gen}"] = row
    return out


def explain_memory(per_event: float, samples: list[dict], end: dict, minutes: list[dict]) -> dict:
    """RSS growth over the soak (first sample to ``end``) against the state growth the
    calibration's ``per_event`` predicts; also the soak's own RSS-over-events slope."""
    start = samples[0]
    seqs = [s["gauges"]["state_applied_seq"] for s in (*samples, end)]
    fit = float(np.polyfit(seqs, [s["rss_mib"] * MIB for s in (*samples, end)], 1)[0]) if len(set(seqs)) > 2 else None
    events = end["gauges"]["state_applied_seq"] - start["gauges"]["state_applied_seq"]
    growth = (end["rss_mib"] - start["rss_mib"]) * MIB
    explained = per_event * events
    span_min = max((end["t"] - start["t"]) / 60.0, 1e-9)
    return {"rss_start_mib": start["rss_mib"], "rss_end_mib": end["rss_mib"], "rss_growth_mib": round(growth / MIB, 1),
            "events_applied": events, "bytes_per_event": round(per_event, 1),
            "soak_bytes_per_event_fit": None if fit is None else round(fit, 1),
            "explained_mib": round(explained / MIB, 1), "residue_mib": round((growth - explained) / MIB, 1),
            "residue_mib_per_min": round((growth - explained) / MIB / span_min, 2),
            "users_growth": end["gauges"]["state_users"] - start["gauges"]["state_users"],
            "covisitation_pairs_growth": end["gauges"]["covisitation_pairs"] - start["gauges"]["covisitation_pairs"],
            "minutes_residue_mib": [m["residue_mib"] for m in minutes],
            # A first-minute step (read-path working set, connection buffers) against a steady climb.
            "residue_after_minute_1_mib": round(sum(m["residue_mib"] for m in minutes[1:]), 1)}


def minute_rows(gen: dict, samples: list[dict], cpu: list[dict], per_event: float) -> list[dict]:
    """The generator's minute m joined with the server sample taken at its end."""
    rows = []
    for m, g in enumerate(gen["per_minute"]):
        if m + 1 >= len(samples):
            break
        a, b = samples[m], samples[m + 1]
        d_events = b["gauges"]["state_applied_seq"] - a["gauges"]["state_applied_seq"]
        d_rss = b["rss_mib"] - a["rss_mib"]
        rows.append({**g, "rss_mib": b["rss_mib"], "rss_delta_mib": round(d_rss, 1), "events_applied": d_events,
                     "residue_mib": round(d_rss - per_event * d_events / MIB, 1), "gauges": b["gauges"],
                     "stalls": stalls(a["buckets"], b["buckets"]), "cpu": cpu[m] if m < len(cpu) else {}})
    return rows


def _lat(c: dict) -> str:
    return "-" if c["p99"] is None else f"{c['p50']:.1f}/{c['p99']:.1f}/{c['max']:.0f}"


def print_tables(rows: list[dict]) -> None:
    print("\nper minute, latency ms from the scheduled send (p50/p99/max):")
    print(f"{'min':>3} {'sent':>7} {'err':>4} {'all':>17} {'recs':>17} {'user':>17} {'events':>17} "
          f"{'s>25ms':>6} {'lag p99':>7} {'achieved':>9} {'cpu srv/ours/other':>18}")
    for r in rows:
        cpu = r["cpu"]
        print(f"{r['minute']:>3} {r['all']['count']:>7,} {r['all']['errors']:>4} {_lat(r['all']):>17} {_lat(r['recs']):>17} "
              f"{_lat(r['user']):>17} {_lat(r['events']):>17} {r['seconds_over_25ms']:>6} "
              f"{r['dispatch_lag_ms']['p99'] or 0:>7.1f} {r['achieved_rate']:>8,.0f}{'!' if r['overloaded'] else ' '} "
              f"{cpu.get('server_cores', 0):>6.2f}/{cpu.get('ours_cores', 0):.2f}/{cpu.get('other_cores', 0):.2f}")
    print("(achieved: responses back within the minute per second; '!' = under 95% of the rate: OVERLOADED)")
    print("\nper minute, server state at the minute's end (stalls: passes over 10/50 ms in the minute):")
    print(f"{'min':>3} {'RSS MiB':>8} {'dRSS':>6} {'events':>8} {'residue':>8} {'users':>7} {'applied_seq':>11} "
          f"{'covis pairs':>12} {'loop lag >10/>50':>16} {'gc gen2 >10/>50':>16} {'gc gen0+1 >10':>13}")
    for r in rows:
        g, s = r["gauges"], r["stalls"]
        lag, g2 = s.get("loop_lag", {}), s.get("gc_gen2", {})
        g01 = s.get("gc_gen0", {}).get("over_10ms", 0) + s.get("gc_gen1", {}).get("over_10ms", 0)
        print(f"{r['minute']:>3} {r['rss_mib']:>8.1f} {r['rss_delta_mib']:>6.1f} {r['events_applied']:>8,} {r['residue_mib']:>8.1f} "
              f"{g.get('state_users', 0):>7,} {g.get('state_applied_seq', 0):>11,} {g.get('covisitation_pairs', 0):>12,} "
              f"{lag.get('over_10ms', 0):>7}/{lag.get('over_50ms', 0):<8} {g2.get('over_10ms', 0):>7}/{g2.get('over_50ms', 0):<8} {g01:>13}")


def verdicts(rows: list[dict], overall: dict, memory: dict, tolerance_mib: float) -> list[dict]:
    """The issue 14 soak targets: 0 errors, p99 of every minute <= 25 ms, no unexplained residue."""
    worst = max(rows, key=lambda r: r["all"]["p99"] or 0.0) if rows else None
    worst_class = max(((r["minute"], c, r[c]["p99"] or 0.0) for r in rows for c in ("recs", "user", "events")),
                      key=lambda x: x[2], default=(0, "-", 0.0))
    out = [
        {"target": "0 errors (non-2xx, I/O, timeouts, never completed)", "value": overall["all"]["errors"],
         "pass": overall["all"]["errors"] == 0},
        {"target": f"p99 of every minute <= {P99_TARGET_MS:g} ms (all requests)",
         "value": f"worst minute {worst['minute']}: {worst['all']['p99']:.1f} ms" if worst else "no minutes",
         "pass": bool(rows) and all((r["all"]["p99"] or 0.0) <= P99_TARGET_MS for r in rows)},
        {"target": f"(per class, not the issue's target) every class's p99 of every minute <= {P99_TARGET_MS:g} ms",
         "value": f"worst: minute {worst_class[0]} {worst_class[1]} {worst_class[2]:.1f} ms",
         "pass": worst_class[2] <= P99_TARGET_MS},
        {"target": f"memory growth explained: |residue| <= {tolerance_mib:g} MiB",
         "value": f"RSS {memory['rss_growth_mib']:+.1f} MiB, explained {memory['explained_mib']:+.1f} MiB "
                  f"({memory['events_applied']:,} events x {memory['bytes_per_event']:.0f} B), residue "
                  f"{memory['residue_mib']:+.1f} MiB ({memory['residue_mib_per_min']:+.2f} MiB/min)",
         "pass": abs(memory["residue_mib"]) <= tolerance_mib},
    ]
    print("\nissue 14 soak targets:")
    for v in out:
        print(f"  {'PASS' if v['pass'] else 'FAIL'}  {v['target']}: {v['value']}")
    return out
