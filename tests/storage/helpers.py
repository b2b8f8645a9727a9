"""Records shared by the store contract suites."""

from __future__ import annotations

from tastemaker.schema.records import Event

T0 = 1_700_000_000.0


def ev(i: int | str, **fields) -> Event:
    base = dict(id=f"e{i}", type="view", user_id="u1", item_id="i1", timestamp=T0 + (i if isinstance(i, int) else 0))
    base.update(fields)
    return Event(**base)


def columns(ids: list[str], **extra: list) -> dict[str, list]:
    n = len(ids)
    return {"id": ids, "type": ["view"] * n, "user_id": ["u1"] * n, "item_id": ["i1"] * n, "ts": [T0] * n, **extra}


def token_after_write(read, before: bytes, timeout_s: float = 10.0) -> bytes:
    """``read()`` once it differs from ``before``: another process sees a write's change token
    move at once on SQLite (shared memory), and on PostgreSQL once the commit's notification
    reached it (storage.postgres.notify: about a round trip). Returns ``before`` if it never did."""
    import time

    deadline = time.monotonic() + timeout_s
    while (token := read()) == before and time.monotonic() < deadline:
        time.sleep(0.001)
    return token
