"""``tastemaker demo``: a fresh data dir with a demo data set, state built, server up."""

from __future__ import annotations

import secrets
import shutil
import sys
import time
from pathlib import Path

from tastemaker.config import Settings

MARKER = ".tastemaker-demo"


def _fresh_dir(path: Path) -> None:
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise SystemExit(f"{path} exists and is not a demo data dir; pass another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("created by `tastemaker demo`; safe to delete\n")


def _examples(url: str, key: str, user: str, item: str) -> str:
    auth = f"-H 'Authorization: Bearer {key}'"
    return "\n".join([
        f"  curl -s {auth} '{url}/v1/recommendations?user_id={user}&n=5&explain=true'",
        f"  curl -s {auth} -H 'Content-Type: application/json' -d '{{\"id\":\"demo-1\",\"type\":\"view\",\"user_id\":\"{user}\",\"item_id\":\"{item}\"}}' {url}/v1/events",
        f"  curl -s {auth} '{url}/v1/items/{item}/similar?n=5'",
        f"  curl -s {auth} '{url}/v1/users/{user}'",
        f"  curl -s {auth} '{url}/v1/recommendations?user_id=someone-new&n=5&device=mobile'",
        f"  open {url}/docs   (API reference)",
    ])


def run_demo(data_dir: Path, dataset: str, host: str, port: int) -> int:
    import uvicorn

    from tastemaker.api.app import build_app
    from tastemaker.api.keys import ensure_env_admin_key
    from tastemaker.datasets import DatasetUnavailable
    from tastemaker.engine import Engine
    from tastemaker.heap import freeze_heap, tune_collector
    from tastemaker.kernels import warm_up
    from tastemaker.ingest.dataset_loader import load_into

    _fresh_dir(data_dir)
    settings = Settings(data_dir=data_dir)
    started = time.perf_counter()
    try:
        counts = load_into(settings, dataset)
    except DatasetUnavailable as exc:
        print(f"{exc}\nfalling back to the synthetic data set", file=sys.stderr)
        dataset, counts = "synthetic", load_into(settings, "synthetic")
    print(f"loaded {dataset}: {counts['items']} items, {counts['users']} users, {counts['events']} events", flush=True)
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.job import train

    stores = open_stores(settings)
    try:
        result = train(stores, settings.models_dir, promote="always", progress=lambda m: print(f"  {m}", flush=True))
    finally:
        stores.close()
    print(f"trained model v{result.version.version} ({result.version.family}) in {result.seconds:.1f}s", flush=True)
    tune_collector()
    engine = Engine(settings)
    engine.processor.maybe_snapshot(force=True)
    print(f"built real-time state in {time.perf_counter() - started:.1f}s", flush=True)
    key = settings.admin_key or "tm_demo_" + secrets.token_urlsafe(18)
    ensure_env_admin_key(engine.stores.keys, key)
    user = next(iter(engine.state.users), "u1")
    item = engine.state.index.ids[0] if len(engine.state.index) else "1"
    url = f"http://{host}:{port}"
    print(f"\nTastemaker is serving {dataset} at {url}\nadmin key: {key}\n\nTry:\n{_examples(url, key, user, item)}\n", flush=True)
    app = build_app(engine)
    warm_up()
    freeze_heap()
    uvicorn.run(app, host=host, port=port, loop="uvloop", http="httptools", access_log=False, log_level="warning")
    return 0
