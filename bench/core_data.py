"""Core benchmark, first half: the printed report, CLI runs, the server process, and the data
steps of the ``generator`` shape (generate, import, train, placement)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from benchlib import LOCALHOST, CpuMonitor, children_of, rss_mib, stop_process, tail, tastemaker_cmd, wait_ready


class Report:
    """Rows of the printed table, also kept for the JSON file."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, step: str, metric: str, value: Any, unit: str = "", note: str = "") -> None:
        row = {"step": step, "metric": metric, "value": value, "unit": unit, "note": note}
        self.rows.append(row)
        print(f"  [{step}] {metric}: {_fmt(value)} {unit} {note}".rstrip(), flush=True)

    def table(self) -> str:
        lines = [f"{'step':<12} {'metric':<44} {'value':>14} {'unit':<8} note", "-" * 100]
        lines += [f"{r['step']:<12} {r['metric']:<44} {_fmt(r['value']):>14} {r['unit']:<8} {r['note']}" for r in self.rows]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_cmd(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, str]:
    """Run a CLI command to completion; returns (wall seconds, stdout). Raises on failure."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout.strip()


def start_server(data: Path, port: int, env: dict[str, str], log: Path, timeout: float,
                 monitor: CpuMonitor) -> tuple[subprocess.Popen, float]:
    """``tastemaker serve`` as a user starts it; seconds until /readyz answers 200."""
    with log.open("ab") as out:
        proc = subprocess.Popen([*tastemaker_cmd(), "serve", "--data-dir", str(data), "--port", str(port), "--host", LOCALHOST],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    monitor.server_pid = proc.pid  # its CPU (replay included) counts as the server's from now on
    try:
        return proc, wait_ready(proc, f"http://{LOCALHOST}:{port}/readyz", timeout)
    except Exception:
        stop_process(proc, grace_s=5)
        raise RuntimeError(f"server did not become ready; log tail:\n{tail(log)}")


def settle(report: Report, results: dict, pid: int, timeout: float) -> None:
    """Wait (bounded) until the server has no child processes, e.g. a forked snapshot writer,
    so the load steps measure steady state; report how long that background work ran."""
    started = time.perf_counter()
    while children_of(pid) and time.perf_counter() - started < timeout:
        time.sleep(0.5)
    waited = time.perf_counter() - started
    left = children_of(pid)
    results.setdefault("startup", {})["background_after_ready_s"] = waited
    report.add("startup", "background work after ready (child processes)", waited, "s",
               f"still running: {left}" if left else "")


def record_cpu(report: Report, results: dict, monitor: CpuMonitor, mark, step: str) -> None:
    """Who kept the CPUs busy during a step: on a shared 2-core box this explains outliers."""
    used = monitor.since(mark)
    results.setdefault("cpu_by_step", {})[step] = used
    report.add(step, "CPU cores busy: server / bench clients / other", "{server_cores:.2f} / {ours_cores:.2f} / {other_cores:.2f}".format(**used), "cores")


def record_rss(report: Report, results: dict, pid: int, label: str) -> None:
    mem = rss_mib(pid)
    if mem is not None:
        results.setdefault("server_memory", {})[label] = mem
        report.add("memory", f"server RSS {label}", mem["rss_mib"], "MiB", f"peak {mem['peak_rss_mib']:.0f} MiB")


def dir_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def step_generate(args, env, tmp: Path, report: Report) -> dict[str, Path]:
    """a. The synthetic data set, once per requested file format (same seed: same data)."""
    out = {}
    for fmt in args.formats:
        target = tmp / f"dataset-{fmt}"
        secs, stdout = run_cmd([*tastemaker_cmd(), "generate", "--items", str(args.items), "--users", str(args.users),
                                "--events", str(args.events), "--format", fmt, "--out", str(target)], env, 1800)
        report.add("generate", f"generate ({fmt})", secs, "s", f"{dir_mib(target)} MiB on disk")
        out[fmt] = target
    return out


def step_import(args, env, tmp: Path, datasets: dict[str, Path], report: Report, results: dict) -> Path:
    """b. Bulk import with the CLI into a fresh data dir per format; the first one is served."""
    served = None
    for fmt, src in datasets.items():
        data = tmp / f"data-{fmt}"
        per_kind = {}
        for kind in ("items", "users", "events"):
            secs, stdout = run_cmd([*tastemaker_cmd(), "import", kind, str(src / f"{kind}.{fmt}"), "--data-dir", str(data)], env, 1800)
            rows = {"items": args.items, "users": args.users, "events": args.events}[kind]
            cli_rate = re.search(r"\(([\d,]+) rows/s\)", stdout)
            per_kind[kind] = {"wall_s": secs, "rows_per_s_wall": rows / secs, "cli_says": stdout}
            note = f"CLI says {cli_rate.group(1)} rows/s" if cli_rate else stdout[:60]
            report.add("import", f"{kind} ({fmt}), wall incl. startup", rows / secs, "rows/s", f"{secs:.1f}s; {note}")
        per_kind["db_mib"] = dir_mib(data)
        results.setdefault("import", {})[fmt] = per_kind
        report.add("import", f"data dir size ({fmt})", per_kind["db_mib"], "MiB")
        if served is None:
            served = data
        else:
            shutil.rmtree(data, ignore_errors=True)  # only the first data dir is served; free the disk
    assert served is not None
    return served




def step_train(args, env, data: Path, report: Report, results: dict) -> None:
    """b2. Optional: train a model family with the CLI and promote it, so the server serves it."""
    secs, stdout = run_cmd([*tastemaker_cmd(), "train", "--family", args.train_family, "--promote", "always",
                            "--data-dir", str(data)], env, 3600)
    results["train"] = {"family": args.train_family, "wall_s": secs, "cli_says": stdout[-500:]}
    report.add("train", f"tastemaker train --family {args.train_family} (incl. evaluation split)", secs, "s",
               stdout.strip().splitlines()[-1][:60] if stdout.strip() else "")


def step_placement(args, data: Path, report: Report) -> None:
    """b3. Optional: the staged placements of bench/placements_bench.py (rules, MMR, fairness,
    LambdaMART) written into the data dir, so requests can name ``--placement``."""
    from placements_bench import PLACEMENTS, synthetic_ranker

    from tastemaker.config import Settings
    from tastemaker.storage.factory import open_stores
    from tastemaker.serving.rankers import RankerSet

    settings = Settings(data_dir=data)
    stores = open_stores(settings)
    try:
        pin = "i0"
        brand = (stores.items.get(pin) or stores.items.get("i1")).brand or "none"
        stores.artifacts.put(RankerSet.key("bench-full"), synthetic_ranker())
        stores.artifacts.put("placements.yaml", PLACEMENTS.replace("{pin}", pin).replace("{brand}", brand).encode())
    finally:
        stores.close()
    report.add("placement", f"requests name placement {args.placement}", "", "",
               "rules + MMR (+ fairness + a 50-tree LambdaMART fitted on synthetic features, for its cost)")
