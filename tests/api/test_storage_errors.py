"""api/storage_errors.py: a write refused for lack of space is a 507, not a 500.

These run anywhere: the database is made really full with SQLite's ``max_page_count``
(SQLITE_FULL from SQLite itself, no mount needed). The full-disk run, with /readyz and the
shutdown snapshot, is tests/api/test_health.py (it needs a tmpfs).
"""

from __future__ import annotations

import errno

from starlette.routing import Route

from tastemaker.api.storage_errors import StorageHealth, is_no_space
from tastemaker.storage.protocols import StorageFull

from .helpers import PROBLEM, assert_problem, log_seq, seed


def _cap_database(client, extra_pages: int) -> None:
    """Cap every open connection of the app's database at its current size + ``extra_pages``.

    ``max_page_count`` is per connection; the app writes from the event-loop thread (documents)
    and the event-log writer thread, whose connections exist once each has written (seed).
    """
    db = client.app.state.engine.stores.items.db
    pages = db.conn().execute("PRAGMA page_count").fetchone()[0]
    for conn in db._all:  # check_same_thread=False: any thread may set another's pragma
        conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")


def _events(n: int = 200) -> list[dict]:
    return [{"id": f"big-{k}", "type": "view", "user_id": "u1", "item_id": "i00", "properties": {"note": "x" * 1500}}
            for k in range(n)]


def test_writes_that_find_no_space_answer_507_and_store_nothing(client, anon):
    seed(client)
    before = log_seq(client)
    _cap_database(client, extra_pages=2)

    r = client.post("/v1/events", json=_events())
    body = assert_problem(r, 507)
    assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"] == "30"
    assert body["title"] == "Insufficient Storage" and "not stored" in body["detail"]
    assert log_seq(client) == before  # not acknowledged, not logged

    r = client.post("/v1/items", json=[{"id": f"big{k}", "title": "x" * 1000} for k in range(300)])
    assert_problem(r, 507)
    assert client.get("/v1/items/big0").status_code == 404

    metrics = anon.get("/metrics").text
    assert 'tastemaker_http_requests_total{method="POST",route="/v1/events",status="507"} 1.0' in metrics

    # The disk itself has room (only the database is capped): the readiness probe passes.
    assert client.get("/readyz").json()["status"] == "ready"
    _cap_database(client, extra_pages=1_000_000)
    assert client.post("/v1/events", json=_events()).status_code == 200
    assert log_seq(client) == before + 200


def test_other_os_errors_stay_500(client):
    async def boom(request):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/x")

    client.app.router.routes.append(Route("/v1/boom", boom))
    assert_problem(client.get("/v1/boom"), 500)
    assert client.get("/readyz").json()["status"] == "ready"  # not a space problem


def test_is_no_space():
    assert is_no_space(StorageFull(errno.ENOSPC, "database or disk is full"))
    assert is_no_space(OSError(errno.ENOSPC, "No space left on device"))
    assert is_no_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_no_space(FileNotFoundError(errno.ENOENT, "nope"))
    assert not is_no_space(ValueError("no"))


def test_storage_full_survives_pickling():
    """Training runs in a worker process: its StorageFull must arrive as one."""
    import pickle

    exc = pickle.loads(pickle.dumps(StorageFull(errno.ENOSPC, "database or disk is full")))
    assert isinstance(exc, StorageFull) and exc.errno == errno.ENOSPC and is_no_space(exc)


def test_health_is_quiet_until_a_write_fails(tmp_path):
    from tastemaker.storage.local.artifacts import LocalArtifactStore

    health, store = StorageHealth(), LocalArtifactStore(tmp_path)
    assert health.check(store) is None and list(tmp_path.iterdir()) == []  # no probe while healthy
    health.failed(OSError(errno.ENOSPC, "No space left on device"))
    assert health.check(store) is None  # the probe write succeeds here: healthy again
    assert health.failing is None and list(tmp_path.iterdir()) == []  # the probe left nothing
