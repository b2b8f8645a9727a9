"""Core benchmark, ingest steps: the raw SQLite ceiling, then durable ingest over HTTP for each
``CLIENTSxBATCH`` setup (issue 14: one client with 10k batches, 4 clients with 1k batches),
each reported as a ratio to the ceiling measured in the same run.

The ceiling is measured on the same 10k-event batch bodies that the server is sent next
(with the shape's own events: sessions for ``generator``, none for ``uniform``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Callable

from benchlib import CpuMonitor
from core_data import Report, _verdict, record_cpu
from ingest_bench import run_ingest
from sqlite_ceiling import sqlite_ceiling

TARGET_INGEST_RATIO = 0.30  # issue 14: durable ingest >= 0.30 x the raw SQLite ceiling
CEILING_BATCH = 10_000

MakeBatches = Callable[[int, int, str], list[bytes]]  # (n_batches, batch size, id tag) -> bodies


def parse_setups(text: str) -> list[tuple[int, int]]:
    """``"1x10000,4x1000"`` -> ``[(1, 10000), (4, 1000)]`` (clients, events per batch).

    >>> parse_setups("1x10000,4x1000")
    [(1, 10000), (4, 1000)]
    """
    out = []
    for part in text.split(","):
        if part.strip():
            clients, _, size = part.strip().partition("x")
            out.append((int(clients), int(size)))
    return out


def step_ceiling(args, tmp: Path, bodies: list[bytes], report: Report, results: dict) -> float:
    """The raw SQLite events/s on ``bodies`` (10k-event batches), one client."""
    res = sqlite_ceiling(bodies, tmp / "ceiling.sqlite", args.ingest_seconds)
    results["sqlite_ceiling"] = res
    report.add("ceiling", "raw SQLite: json + executemany + FULL commit", res["events_per_s"], "ev/s",
               f"{res['events']:,} events ({res['batches']} commits of {CEILING_BATCH:,}) in {res['elapsed_s']:.1f}s, one client")
    return res["events_per_s"]


def step_ingest(args, port: int, token: str, tmp: Path, make_batches: MakeBatches, report: Report,
                results: dict, monitor: CpuMonitor) -> None:
    """The ceiling, then durable ingest per setup; ``results["ingest"]`` holds ``ratio_to_sqlite``."""
    results["ingest"] = []
    tag = str(int(time.time()))
    prepared: dict[int, list[bytes]] = {}
    build_s: dict[int, float] = {}
    builds = itertools.count()

    def bodies_for(size: int) -> list[bytes]:
        """Built before any clock starts; the ``k``-th build of a size gets fresh ids."""
        if size not in prepared:
            t0 = time.perf_counter()
            prepared[size] = make_batches(max(1, args.ingest_max_events // size), size, f"{tag}-{size}-{next(builds)}")
            build_s[size] = time.perf_counter() - t0
        return prepared[size]

    ceiling = step_ceiling(args, tmp, bodies_for(CEILING_BATCH), report, results)
    for clients, size in args.ingest_setups:
        bodies = bodies_for(size)
        step = f"ingest-{clients}x{size // 1000}k" if size % 1000 == 0 else f"ingest-{clients}x{size}"
        mark = monitor.mark()
        res = asyncio.run(run_ingest(port, token, bodies, clients, args.ingest_seconds))
        prepared.pop(size)  # every id is sent once: a later setup of this size gets fresh ones
        res.update(batch_size=size, clients=clients, build_s=build_s[size],
                   ratio_to_sqlite=res["events_per_s"] / ceiling if ceiling else 0.0)
        results["ingest"].append(res)
        lat = res["batch_latency_ms"]
        ok = res["ratio_to_sqlite"] >= TARGET_INGEST_RATIO and res["errors"] == 0
        report.add(step, "accepted events/s (durable, applied)", res["events_per_s"], "ev/s",
                   f"{res['ratio_to_sqlite']:.2f} x SQLite ceiling; target >= {TARGET_INGEST_RATIO:.2f}: {_verdict(ok)}")
        report.add(step, "events / batches / errors",
                   f"{res['events_accepted']} / {res['batches_sent']} / {res['errors']}", "",
                   f"{res['elapsed_s']:.1f}s{', ran out of prepared batches' if res['exhausted'] else ''}")
        report.add(step, "batch latency p50 / p99 / max", f"{lat['p50']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f}", "ms")
        record_cpu(report, results, monitor, mark, step)
    prepared.clear()
