"""Memory of the online state per user, snapshot save/load time, and the read path's cost.

Folds ``--users`` synthetic users x ``--events-per-user`` events into
:class:`~tastemaker.features.state.OnlineState` through ``OnlineState.apply`` (the path of
live ingest and of a cold-start replay), in one process, and reports:

* RSS growth of the fold (``/proc/self/status`` VmRSS before and after, the generated events
  already in memory before the baseline), per million users, split into parts: co-visitation
  and popularity counted exactly (the bytes of their arrays), the item index estimated, user
  state as the RSS growth of the same fold with the user state alone (a ``--users-only``
  child), and ``rest`` what remains (heap the other parts freed but the allocator kept); a
  deep ``sys.getsizeof`` walk over a sample of users cross-checks the user state;
* the peak RSS during the fold and the co-visitation prune a server runs after a replay
  (VmHWM, reset before the fold) over the steady RSS after them;
* the snapshot: ``OnlineState.save`` into a ``LocalArtifactStore`` (seconds, bytes), and
  ``OnlineState.load`` in a fresh interpreter (seconds, RSS growth);
* the read path: in-process ``Recommender.recommend`` for random users (popularity model,
  default placement, no catalogue) and a micro-benchmark of the reads of one user's state
  that a request makes (history screening arrays, recent seeds, a fold-in row).

The workload: a catalogue of ``--items`` items with power-law popularity (rank ``r`` drawn
with weight ``(r + 1) ** -a``), event types view/click/add_to_cart/purchase, each user's
events a random walk in time over a month (exponential gaps, so several visits each, no
session ids), the log in time order. Everything is seeded numpy.

    .venv/bin/python bench/state_memory.py --users 100000
    .venv/bin/python bench/state_memory.py --users 300000 --requests 0
    .venv/bin/python bench/state_memory.py --users 100000 --categories 200   # with category affinity
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import percentiles, python_exe  # noqa: E402

TYPES = ("view", "click", "add_to_cart", "purchase")
TYPE_P = (0.72, 0.16, 0.08, 0.04)
T0 = 1_700_000_000.0
SPAN_S = 30 * 86_400.0
MEAN_GAP_S = 3_600.0  # mean time between one user's events: a few visits over the month
SNAPSHOT_KEY = "state/snapshot.pkl"
MIB = 1024 * 1024


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def malloc_trim() -> None:
    """Return freed heap pages to the OS, so RSS shows what is live (glibc only)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def synthetic_events(n_users: int, per_user: int, n_items: int, zipf: float, seed: int) -> dict[str, np.ndarray]:
    """The log, in time order: user index, item rank, type code, timestamp per event."""
    rng = np.random.default_rng(seed)
    total = n_users * per_user
    weights = (np.arange(n_items) + 1.0) ** -zipf
    items = rng.choice(n_items, total, p=weights / weights.sum()).astype(np.int32)
    types = rng.choice(len(TYPES), total, p=TYPE_P).astype(np.uint8)
    users = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    starts = rng.uniform(T0, T0 + SPAN_S, n_users)
    gaps = rng.exponential(MEAN_GAP_S, (n_users, per_user))
    gaps[:, 0] = 0.0
    ts = (starts[:, None] + np.cumsum(gaps, axis=1)).ravel()
    order = np.argsort(ts, kind="stable")
    return {"users": users[order], "items": items[order], "types": types[order], "ts": ts[order]}


def fold(state: Any, events: dict[str, np.ndarray], item_ids: list[str], chunk: int = 10_000) -> float:
    """Apply every event through ``OnlineState.apply``; returns the seconds it took.

    Rows are made Python objects a chunk at a time, as a replay reads them from SQLite: a
    whole log of them alive at once would interleave with the state on the heap and leave it
    fragmented when freed, which is the benchmark's doing, not the state's.
    """
    apply = state.apply
    started = time.perf_counter()
    seq = 0
    for lo in range(0, len(events["ts"]), chunk):
        rows = zip(*(events[k][lo:lo + chunk].tolist() for k in ("users", "items", "types", "ts")))
        for u, i, t, ts in rows:
            seq += 1
            # a fresh user id string per event, as a replay reads it from SQLite
            apply(seq, TYPES[t], f"u{u}", None, (item_ids[i],), None, ts)
    return time.perf_counter() - started


def array_bytes(obj: Any) -> int:
    """Bytes of the numpy / scipy / array.array buffers directly in ``obj``'s attributes."""
    total = 0
    for value in vars(obj).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif hasattr(value, "indptr") and hasattr(value, "data"):  # a scipy sparse matrix
            total += value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
        elif hasattr(value, "buffer_info") and hasattr(value, "itemsize"):  # array.array
            total += value.buffer_info()[1] * value.itemsize
    return total


def deep_size(obj: Any, shared: set[int]) -> int:
    """``sys.getsizeof`` summed over everything reachable from ``obj`` through containers and
    slots, each object once, skipping ``shared`` ids (objects other parts own too)."""
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack:
        o = stack.pop()
        if id(o) in seen or id(o) in shared or o is None or isinstance(o, bool):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(type(o), "__slots__"):
            for klass in type(o).__mro__:
                for name in getattr(klass, "__slots__", ()):
                    if hasattr(o, name):
                        stack.append(getattr(o, name))
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            stack.append(vars(o))
    return total


def user_sample_bytes(state: Any, sample: int, seed: int) -> dict[str, float]:
    """Mean deep size of a user (its key and dict slot included), over ``sample`` users."""
    shared = {id(v) for v in state.index.positions.values()} | {id(s) for s in TYPES}
    keys = list(state.users)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(keys), min(sample, len(keys)), replace=False).tolist()
    per_user = [deep_size(state.users[keys[k]], shared) + sys.getsizeof(keys[k]) for k in picked]
    slot = sys.getsizeof(state.users) / max(len(state.users), 1)
    mean = float(np.mean(per_user)) + slot if per_user else 0.0
    return {"mean_bytes": mean, "dict_slot_bytes": slot, "sample": len(picked)}


def request_timings(state: Any, n_users: int, n_requests: int, seed: int) -> dict[str, Any]:
    """In-process recommendations and the reads of one user's state a request makes."""
    from tastemaker.features.toplists import TopListCache
    from tastemaker.models.popularity import PopularityModel
    from tastemaker.serving.filters import _history_sets
    from tastemaker.serving.learned import LearnedModel
    from tastemaker.serving.placement_registry import PlacementRegistry
    from tastemaker.serving.recommender import Recommender
    from tastemaker.serving.request import RecommendationRequest
    from tastemaker.serving.sources import PipelineContext, _recent_seeds

    toplists = TopListCache()
    model = PopularityModel(toplists)
    registry = PlacementRegistry()
    recommender = Recommender(state, model, toplists, registry, require_catalog=False)
    rng = np.random.default_rng(seed)
    users = [f"u{k}" for k in rng.integers(0, n_users, n_requests).tolist()]
    for user in users[:200]:  # warm the top lists and caches
        recommender.recommend(RecommendationRequest(user_id=user, n=10))
    times = []
    for user in users:
        t = time.perf_counter()
        recommender.recommend(RecommendationRequest(user_id=user, n=10))
        times.append((time.perf_counter() - t) * 1000)
    # the user-state reads alone: screening arrays, recency seeds, a learned model's fold-in row
    learned = object.__new__(LearnedModel)
    learned.columns = {item_id: col for col, item_id in enumerate(state.index.ids)}
    learned.n_columns = len(state.index.ids)
    learned.artifact = type("Artifact", (), {"input_scale": 1.0})()
    placement = registry.get("home")
    picked = [state.users[u] for u in users]
    micro = {}
    for name, call in (
        ("history_sets_us", lambda u: _history_sets(
            PipelineContext(state, u, RecommendationRequest(user_id="x"), model, toplists), placement)),
        ("recent_seeds_us", _recent_seeds),
        ("user_row_us", lambda u: learned.user_row(state, u)),
    ):
        t = time.perf_counter()
        for user in picked:
            call(user)
        micro[name] = round((time.perf_counter() - t) / len(picked) * 1e6, 2)
    return {"recommend_ms": {k: round(v, 3) for k, v in percentiles(times, (50, 90, 99)).items()}, **micro}


def users_alone(args: argparse.Namespace) -> int:
    """RSS growth of the same fold with the user state alone (a ``--users-only`` child)."""
    with tempfile.TemporaryDirectory(prefix="state-memory-") as root:
        out = Path(root) / "users.json"
        cmd = [python_exe(), __file__, "--users-only", "--users", str(args.users), "--events-per-user",
               str(args.events_per_user), "--items", str(args.items), "--zipf", str(args.zipf), "--seed",
               str(args.seed), "--categories", str(args.categories), "--sample", "0", "--json", str(out)]
        subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
        figures = json.loads(out.read_text())
    return int(figures["user_state_bytes"])


LOAD_CHILD = """
import gc, json, sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from state_memory import proc_status
from tastemaker.features.state import OnlineState
from tastemaker.storage.local.artifacts import LocalArtifactStore
gc.collect()
before = proc_status()["VmRSS"]
t = time.perf_counter()
state = OnlineState.load(LocalArtifactStore({root!r}), {key!r})
seconds = time.perf_counter() - t
assert state is not None, "snapshot not loaded"
gc.collect()
print(json.dumps({{"load_s": seconds, "rss_growth": proc_status()["VmRSS"] - before, "users": len(state.users)}}))
"""


def snapshot_figures(state: Any, n_users: int) -> dict[str, Any]:
    """Save the state, then load it in a fresh interpreter (a warm start)."""
    from tastemaker.storage.local.artifacts import LocalArtifactStore

    with tempfile.TemporaryDirectory(prefix="state-memory-") as root:
        store = LocalArtifactStore(root)
        t = time.perf_counter()
        state.save(store, SNAPSHOT_KEY)
        save_s = time.perf_counter() - t
        size = store.path(SNAPSHOT_KEY).stat().st_size
        child = LOAD_CHILD.format(bench=str(Path(__file__).resolve().parent), root=root, key=SNAPSHOT_KEY)
        done = subprocess.run([python_exe(), "-c", child], capture_output=True, text=True, timeout=600, check=True)
        loaded = json.loads(done.stdout.strip().splitlines()[-1])
    per_m = 1e6 / n_users
    return {
        "save_s": round(save_s, 2), "bytes": size, "bytes_per_user": round(size / n_users, 1),
        "load_s": round(loaded["load_s"], 2), "load_s_per_m_users": round(loaded["load_s"] * per_m, 1),
        "load_rss_growth_gib_per_m_users": round(loaded["rss_growth"] * per_m / 2**30, 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--events-per-user", type=int, default=20)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--zipf", type=float, default=1.0)
    p.add_argument("--categories", type=int, default=0,
                   help="give the catalogue this many categories (item k in c<k mod N>), so users gather category "
                        "affinity; 0: no catalogue")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--requests", type=int, default=2000, help="timed recommendations (0: skip)")
    p.add_argument("--sample", type=int, default=5000, help="users walked for the deep-size cross-check")
    p.add_argument("--no-snapshot", action="store_true")
    p.add_argument("--users-only", action="store_true",
                   help="fold the user state alone (co-visitation and popularity writes are no-ops): its RSS growth "
                        "without the other parts' freed-but-kept heap")
    p.add_argument("--no-split", action="store_true",
                   help="skip the --users-only child run; the user-state part is then the RSS growth less the "
                        "other parts (their freed-but-kept heap included, so it reads low or high)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    from tastemaker.features.state import OnlineState

    if args.users_only:
        from tastemaker.features.covisitation import CoVisitationIndex
        from tastemaker.features.popularity import DecayedCounter

        CoVisitationIndex.add = lambda self, item, others, weight: None  # type: ignore[method-assign]
        DecayedCounter.add = lambda self, index, weight, ts: None  # type: ignore[method-assign]
        args.requests, args.no_snapshot = 0, True
    events = synthetic_events(args.users, args.events_per_user, args.items, args.zipf, args.seed)
    item_ids = [f"i{k}" for k in range(args.items)]
    # a small throwaway fold first: lazy imports, numba kernels and first-use allocations are
    # not state, and must not count as its growth
    warm = OnlineState()
    fold(warm, synthetic_events(200, args.events_per_user, args.items, args.zipf, args.seed + 1), item_ids)
    warm.covisitation.prune()
    del warm
    state = OnlineState()
    if args.categories:  # the catalogue is not per-user state: loaded before the baseline
        from tastemaker.schema.records import Item

        for k, item_id in enumerate(item_ids):
            state.catalog.upsert(Item(id=item_id, categories=[f"c{k % args.categories}"]))
    gc.collect()
    malloc_trim()
    before = proc_status()["VmRSS"]
    peak_reset = reset_peak()
    fold_s = fold(state, events, item_ids)
    fold_peak = peak = proc_status()["VmHWM"]
    gc.collect()
    after_fold = proc_status()["VmRSS"]
    state.covisitation.prune()  # what a server does after a replay, before serving
    state.popularity_scores(), state.trending()  # a first read folds the counters' pending adds
    gc.collect()
    steady = proc_status()["VmRSS"]
    peak = max(peak, proc_status()["VmHWM"])
    malloc_trim()
    trimmed = proc_status()["VmRSS"]

    per_m = 1e6 / args.users
    growth = steady - before
    covisitation = array_bytes(state.covisitation)  # its levels, the pre-cut matrix, row sums, pending pairs
    popularity = sum(array_bytes(c) for c in (state.popularity, state.recent_popularity, *state.segments.values()))
    index = sys.getsizeof(state.index.ids) + sys.getsizeof(state.index.positions) + sum(
        sys.getsizeof(i) + 32 for i in state.index.ids)
    residual = growth - covisitation - popularity - index  # user state + heap the other parts freed but kept
    sample = user_sample_bytes(state, args.sample, args.seed)
    alone = None if args.users_only or args.no_split else users_alone(args)
    users_rss = residual if alone is None else alone

    def gib_per_m(n_bytes: float) -> float:
        return round(n_bytes * per_m / 2**30, 3)

    out: dict[str, Any] = {
        "workload": {"users": args.users, "events": int(len(events["ts"])), "items": args.items, "zipf": args.zipf,
                     "categories": args.categories, "seed": args.seed},
        "fold_s": round(fold_s, 1), "fold_us_per_event": round(fold_s / len(events["ts"]) * 1e6, 2),
        "rss_mib": {"before": round(before / MIB, 1), "after_fold": round(after_fold / MIB, 1),
                    "steady_after_prune": round(steady / MIB, 1), "after_malloc_trim": round(trimmed / MIB, 1),
                    "peak_during_fold": round(fold_peak / MIB, 1), "peak_with_prune": round(peak / MIB, 1),
                    "peak_reset": peak_reset},
        "rss_growth_gib_per_m_users": gib_per_m(growth), "user_state_bytes": users_rss,
        "rss_growth_trimmed_gib_per_m_users": gib_per_m(trimmed - before),
        "peak_over_steady": round((peak - before) / max(growth, 1), 2),
        "parts_gib_per_m_users": {"user_state": gib_per_m(users_rss), "covisitation": gib_per_m(covisitation),
                                  "popularity": gib_per_m(popularity), "item_index": gib_per_m(index),
                                  "rest": gib_per_m(residual - users_rss)},
        "parts_bytes_per_user": {"user_state": round(users_rss / args.users, 1),
                                 "covisitation": round(covisitation / args.users, 1),
                                 "popularity": round(popularity / args.users, 1)},
        "user_deep_size_bytes": round(sample["mean_bytes"], 1),
        "covisitation_nnz": state.covisitation.nnz(),
        "gc_tracked_objects": len(gc.get_objects()),
    }
    print(json.dumps(out), flush=True)
    if args.requests:
        out["requests"] = request_timings(state, args.users, args.requests, args.seed)
        print(json.dumps({"requests": out["requests"]}), flush=True)
    if not args.no_snapshot:
        out["snapshot"] = snapshot_figures(state, args.users)
        print(json.dumps({"snapshot": out["snapshot"]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
