"""Small helpers shared by the benchmarks: hardware facts, ports, subprocesses, percentiles.

Standard library only (numpy is used when present for percentiles), so every benchmark
module can import it without pulling in the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = REPO / ".venv" / "bin"
LOCALHOST = "127.0.0.1"  # every byte of benchmark traffic stays on loopback


def python_exe() -> str:
    """The venv's interpreter when it exists, so subprocesses see the same packages."""
    candidate = VENV_BIN / "python"
    return str(candidate) if candidate.exists() else sys.executable


def tastemaker_cmd() -> list[str]:
    """How a user runs the CLI: the venv's console script (falls back to ``-m``)."""
    script = VENV_BIN / "tastemaker"
    return [str(script)] if script.exists() else [python_exe(), "-m", "tastemaker.cli"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 90, 99, 99.9)) -> dict[str, float]:
    """``{"p50": .., "p90": .., "max": .., "mean": ..}``; empty input gives NaN-free zeros."""
    if not values:
        return {**{f"p{p:g}": 0.0 for p in ps}, "max": 0.0, "mean": 0.0, "count": 0}
    try:
        import numpy as np

        arr = np.asarray(values, dtype=float)
        out = {f"p{p:g}": float(np.percentile(arr, p)) for p in ps}
        out.update(max=float(arr.max()), mean=float(arr.mean()), count=int(arr.size))
        return out
    except ImportError:  # nearest-rank fallback
        s = sorted(values)
        out = {f"p{p:g}": s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] for p in ps}
        out.update(max=s[-1], mean=sum(s) / len(s), count=len(s))
        return out


# -- hardware ----------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def hardware_info() -> dict[str, Any]:
    """What the figures were measured on; load average says how noisy the machine was."""
    total = _meminfo_kib("MemTotal")
    avail = _meminfo_kib("MemAvailable")
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gib": round(total / 2**20, 2) if total else None,
        "mem_available_gib": round(avail / 2**20, 2) if avail else None,
        "loadavg": list(os.getloadavg()),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {m: _version(m) for m in ("tastemaker", "uvicorn", "uvloop", "httptools", "starlette", "msgspec", "numpy", "pyarrow", "httpx")},
        "wrk": _wrk_version(),
    }


def _wrk_version() -> str | None:
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


# -- processes ---------------------------------------------------------------------------

def rss_mib(pid: int) -> dict[str, float] | None:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), in MiB."""
    try:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
        return {"rss_mib": fields.get("VmRSS", 0.0), "peak_rss_mib": fields.get("VmHWM", 0.0)}
    except (OSError, ValueError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (to get CPU cost per request)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def http_get(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET with urllib (no pooling needed for polling); connection errors give status 0."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError):
        return 0, b""


def wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, interval_s: float = 0.25) -> float:
    """Poll ``url`` until it answers 200; returns seconds waited. Raises if the process dies."""
    started = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        status, _ = http_get(url, timeout=2.0)
        if status == 200:
            return time.perf_counter() - started
        time.sleep(interval_s)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s")


def stop_process(proc: subprocess.Popen, grace_s: float = 60.0) -> float:
    """SIGINT (uvicorn's graceful stop: the engine snapshots), then SIGTERM, then SIGKILL.

    Returns seconds until exit. Only ever signals the process we started.
    """
    started = time.perf_counter()
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return time.perf_counter() - started


@contextlib.contextmanager
def served(data_dir: Path, port: int, env: dict[str, str], cmd: Sequence[str] | None = None) -> Iterator[subprocess.Popen]:
    """``tastemaker serve`` on ``data_dir`` and ``port`` for the ``with`` block, its output in
    ``<data_dir>.server.log``; stopped gracefully after (:func:`stop_process`), with the log's
    tail on stderr when it did not exit cleanly."""
    log_path = data_dir.parent / f"{data_dir.name}.server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*(cmd or tastemaker_cmd()), "serve", "--data-dir", str(data_dir), "--port", str(port),
                                 "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop_process(proc)
    if proc.returncode not in (0, -signal.SIGINT, 130):
        print(tail(log_path, 60), file=sys.stderr)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def dump_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


# -- noise: who used the CPU while a step ran -----------------------------------------------

def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, utime+stime ticks, state letter) for every process we may read."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), fields[0])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return table


class CpuMonitor:
    """Samples /proc every ``interval`` s in a daemon thread and splits CPU time three ways:
    the server's process tree (server + e.g. forked snapshot writers), our own tree (driver,
    wrk, loadgen, hello server) and everyone else (the noise of a shared machine).
    """

    def __init__(self, interval: float = 1.0):
        import threading

        self.interval = interval
        self.server_pid: int | None = None
        self.totals = {"server": 0.0, "ours": 0.0, "other": 0.0}
        self._tick = os.sysconf("SC_CLK_TCK")
        self._prev = _proc_table()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cpu-monitor", daemon=True)

    def __enter__(self) -> "CpuMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _owner(self, pid: int, table: dict[int, tuple[int, int, str]]) -> str:
        me, hops = os.getpid(), 0
        while pid > 1 and hops < 64:  # bounded walk up the parent chain
            if pid == self.server_pid:
                return "server"
            if pid == me:
                return "ours"
            pid, hops = table.get(pid, (0, 0, ""))[0], hops + 1
        return "other"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = _proc_table()
            add = {"server": 0, "ours": 0, "other": 0}
            for pid, (_, ticks, _state) in now.items():
                delta = ticks - self._prev.get(pid, (0, 0, ""))[1]
                if delta > 0:
                    add[self._owner(pid, now)] += delta
            with self._lock:
                for key, ticks in add.items():
                    self.totals[key] += ticks / self._tick
            self._prev = now

    def mark(self) -> tuple[float, dict[str, float]]:
        with self._lock:
            return time.perf_counter(), dict(self.totals)

    def since(self, mark: tuple[float, dict[str, float]]) -> dict[str, float]:
        """Average cores used by each group since ``mark`` (1.0 = one core fully busy)."""
        t0, before = mark
        elapsed = max(time.perf_counter() - t0, 1e-9)
        with self._lock:
            return {f"{k}_cores": round((self.totals[k] - before[k]) / elapsed, 2) for k in self.totals}


def children_of(pid: int) -> list[int]:
    """Live (non-zombie) child processes of ``pid``, e.g. the server's forked snapshot writer."""
    return [p for p, (ppid, _, state) in _proc_table().items() if ppid == pid and state != "Z"]


def source_fingerprint(root: Path = REPO / "src") -> dict[str, Any]:
    """What code was measured, without git: a hash of every source file and the newest mtime.

    Other people edit the tree while benchmarks run, so figures are tied to this hash.
    """
    import hashlib

    digest, newest, count = hashlib.sha256(), 0.0, 0
    for path in sorted(root.rglob("*.py")):
        if "egg-info" in path.parts or "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        newest, count = max(newest, path.stat().st_mtime), count + 1
    return {"sha256": digest.hexdigest()[:16], "files": count,
            "newest_mtime_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest))}


# -- training through the API ---------------------------------------------------------

TERMINAL_JOB_STATES = ("succeeded", "failed")


def train_over_http(client: Any, body: dict[str, Any] | None = None, *, timeout_s: float = 1800.0,
                    poll_s: float = 0.25) -> dict[str, Any]:
    """``POST /v1/models/train`` and poll its job until it ends; returns the final job body.

    ``client`` is an httpx (or requests-like) client with the server's base URL and key: the
    train call answers 202 with a job, and ``GET /v1/models/train/jobs/{id}`` reports its
    status, stage and, once ``succeeded``, ``result`` (the registered version); a ``failed``
    job carries ``error``. Raises RuntimeError on an HTTP error or when ``timeout_s`` passes
    (a cap for a hung job); the caller decides what a failed job means. When the job promoted
    its version, also waits until the server answering ``GET /v1/models`` serves it (each
    server process swaps it in within a second or so).
    """
    r = client.post("/v1/models/train", json=body or {})
    if r.status_code != 202:
        raise RuntimeError(f"POST /v1/models/train: HTTP {r.status_code}: {r.text[:500]}")
    job = r.json()
    deadline = time.monotonic() + timeout_s
    while job["status"] not in TERMINAL_JOB_STATES:
        if time.monotonic() > deadline:
            raise RuntimeError(f"train job {job['id']} still {job['status']} after {timeout_s:.0f}s")
        time.sleep(poll_s)
        r = client.get(f"/v1/models/train/jobs/{job['id']}")
        if r.status_code != 200:
            raise RuntimeError(f"GET /v1/models/train/jobs/{job['id']}: HTTP {r.status_code}: {r.text[:500]}")
        job = r.json()
    result = job.get("result") or {}
    if result.get("promoted"):
        version = result["version"]["version"]
        while client.get("/v1/models").json().get("serving") != version:
            if time.monotonic() > deadline:
                raise RuntimeError(f"v{version} not served after {timeout_s:.0f}s")
            time.sleep(poll_s)
    return job
