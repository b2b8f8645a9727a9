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
