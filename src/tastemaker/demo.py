"""``tastemaker demo``: a demo data dir, built once and reused, served with ready-to-paste requests.

The first run loads a data set into the demo's own data dir, trains the default model
(the hybrid) and creates an admin key. Later runs reuse all of it: the same key (kept in
the dir, since the key store holds only hashes), the events posted since, the serving
model (no retraining while one is serving). ``fresh=True`` (``--fresh``) deletes the dir
and builds it again; every step says what it did.

The dir is marked by a small JSON file (``.tastemaker-demo``) written before anything
else and completed when the build finishes, so a build cut short (Ctrl-C while training)
is rebuilt on the next run instead of being served half-made, and a directory that is not
a demo dir is never deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tastemaker.config import Settings

MARKER = ".tastemaker-demo"
KEY_FILE = "demo-admin-key"  # the demo's admin token in clear: a throwaway key for a local demo
DEFAULT_DATASET = "movielens"


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker of a demo dir (``{"state": "building"|"ready", "dataset", ...}``), or None."""
    try:
        text = (path / MARKER).read_text()
    except FileNotFoundError:
        return None
    try:
        marker = json.loads(text)
    except json.JSONDecodeError:  # a marker from an older version: a plain sentence
        return {"state": "unknown"}
    return marker if isinstance(marker, dict) else {"state": "unknown"}


def _write_marker(path: Path, marker: dict[str, Any]) -> None:
    tmp = path / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"note": "created by `tastemaker demo`; safe to delete", **marker}, indent=1) + "\n")
    os.replace(tmp, path / MARKER)


def _describe(settings: Settings) -> str:
    """What deleting the demo dir throws away, in words."""
    from tastemaker.storage.factory import open_stores

    try:
        with open_stores(settings) as stores:
            return f"{stores.events.last_seq():,} events, {len(stores.models.list())} model version(s) and its admin key"
    except Exception:  # noqa: BLE001 (a dir too broken to open is described, not diagnosed: it is deleted next)
        return "its contents"


def _prepare(path: Path, fresh: bool, say: Callable[[str], None]) -> dict[str, Any] | None:
    """The marker of a ready demo dir to reuse, or None after making ``path`` an empty demo dir."""
    marker = read_marker(path)
    if path.exists() and marker is None and any(path.iterdir()):
        raise SystemExit(f"{path} exists and is not a demo data dir (no {MARKER} file); "
                         "pass another --data-dir")
    if marker is not None and marker.get("state") == "ready" and not fresh:
        return marker
    if marker is not None:
        why = ("--fresh" if fresh else "the previous build did not finish" if marker.get("state") == "building"
               else "built by an older version of the demo")
        say(f"{why}: deleting {path} ({_describe(Settings(data_dir=path))}) and building it again")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return None


def _admin_key(settings: Settings, path: Path) -> str:
    """``TASTEMAKER_ADMIN_KEY`` if set, else the demo's own key (created on first use)."""
    if settings.admin_key:
        return settings.admin_key
    key_file = path / KEY_FILE
    if key_file.exists():
        return key_file.read_text().strip()
    key = "tm_demo_" + secrets.token_urlsafe(18)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def _build(settings: Settings, dataset: str, say: Callable[[str], None], progress: Callable | None) -> str:
    """Load ``dataset`` and train the default model into an empty demo dir; the dataset loaded."""
    from tastemaker.datasets import DatasetUnavailable
    from tastemaker.ingest.dataset_loader import load_into
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.job import train

    started = time.perf_counter()
    try:
        counts = load_into(settings, dataset)
    except DatasetUnavailable as exc:
        print(f"{exc}\nfalling back to the synthetic data set", file=sys.stderr)
        dataset, counts = "synthetic", load_into(settings, "synthetic")
    say(f"loaded {dataset}: {counts['items']:,} items, {counts['users']:,} users, {counts['events']:,} events "
        f"in {time.perf_counter() - started:.1f}s")
    with open_stores(settings) as stores:
        # No offline evaluation here: there is no serving version to compare with and the
        # first version is served anyway, so it would only double the wait (a 75/25 fit).
        result = train(stores, evaluate=False, promote="always", progress=progress)
    say(f"trained model v{result.version.version} ({result.version.family}, the default) on all events "
        f"in {result.seconds:.1f}s; not evaluated offline (`tastemaker train --data-dir {settings.data_dir}` "
        "evaluates a new version against it)")
    return dataset


def run_demo(data_dir: Path, dataset: str | None, host: str, port: int, *, fresh: bool = False,
             quiet: bool = False, progress: Callable | None = None) -> int:
    """Build (first run or ``fresh``) or reuse the demo data dir, then serve it until stopped.

    ``progress`` receives the train job's steps (the CLI renders them); ``quiet`` drops the
    steps of a build but keeps what a user needs: what was reused, built or deleted, the
    URL, the key and the example requests.
    """
    import uvicorn

    from tastemaker.api.app import build_app
    from tastemaker.api.keys import ensure_env_admin_key
    from tastemaker.engine import Engine
    from tastemaker.heap import freeze_heap, tune_collector
    from tastemaker.kernels import warm_up

    def say(message: str) -> None:  # the steps of a build
        if not quiet:
            print(message, flush=True)

    def tell(message: str) -> None:  # what was reused, built or deleted: said even with --quiet
        print(message, flush=True)

    started = time.perf_counter()
    marker = _prepare(data_dir, fresh, tell)
    settings = Settings(data_dir=data_dir)
    if marker is None:
        _write_marker(data_dir, {"state": "building", "dataset": dataset or DEFAULT_DATASET})
        built = _build(settings, dataset or DEFAULT_DATASET, say, progress)
        marker = {"state": "ready", "dataset": built, "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_marker(data_dir, marker)
        reused = False
    else:
        if dataset is not None and dataset != marker.get("dataset"):
            print(f"{data_dir} holds the {marker.get('dataset')} demo; pass --fresh to replace it with {dataset}, "
                  "or another --data-dir", file=sys.stderr)
            return 2
        reused = True
    tune_collector()
    engine = Engine(settings)
    if not reused:
        engine.processor.maybe_snapshot(force=True)  # the next start loads this instead of replaying
    serving = engine.models.serving()
    if reused and serving is None:  # e.g. every version rolled back: serve something learned again
        say("no model is serving: training the default model")
        from tastemaker.training.job import train

        train(engine.stores, evaluate=False, promote="always", progress=progress)
        serving = engine.models.serving()
    key = _admin_key(settings, data_dir)
    ensure_env_admin_key(engine.stores.keys, key)
    if reused:
        tell(f"reusing the demo data dir {data_dir} (built {marker.get('built_at', 'earlier')}): "
            f"{marker.get('dataset')}, {engine.state.applied_seq:,} events in the log, "
            f"model v{serving.version if serving else '?'} serving, the same admin key. "
            f"`tastemaker demo --fresh` rebuilds it from scratch.")
    else:
        tell(f"built the demo data dir {data_dir} in {time.perf_counter() - started:.1f}s "
            "(the next `tastemaker demo` reuses it)")
    user = next(iter(engine.state.users), "u1")
    item = engine.state.index.ids[0] if len(engine.state.index) else "1"
    url = f"http://{host}:{port}"
    print(f"\nTastemaker is serving the {marker.get('dataset')} demo at {url}\nadmin key: {key}\n\n"
          f"Try:\n{_examples(url, key, user, item)}\n", flush=True)
    app = build_app(engine)
    warm_up()
    freeze_heap()
    uvicorn.run(app, host=host, port=port, loop="uvloop", http="tastemaker.api.slow_clients:HeaderDeadlineProtocol",
                access_log=False, log_level="warning")
    return 0


def _examples(url: str, key: str, user: str, item: str) -> str:
    auth = f"-H 'Authorization: Bearer {key}'"
    event_id = "demo-" + secrets.token_hex(4)  # new on every run: a repeated id is acknowledged as a duplicate
    return "\n".join([
        f"  curl -s {auth} '{url}/v1/recommendations?user_id={user}&n=5&explain=true'",
        f"  curl -s {auth} -H 'Content-Type: application/json' -d '{{\"id\":\"{event_id}\",\"type\":\"view\",\"user_id\":\"{user}\",\"item_id\":\"{item}\"}}' {url}/v1/events",
        f"  curl -s {auth} '{url}/v1/items/{item}/similar?n=5'",
        f"  curl -s {auth} '{url}/v1/users/{user}'",
        f"  curl -s {auth} '{url}/v1/recommendations?user_id=someone-new&n=5&device=mobile'",
        f"\nAPI reference (open in a browser): {url}/docs",
    ])
