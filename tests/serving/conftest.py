"""A small world for the read path: online state, a catalog, a recommender."""

from __future__ import annotations

from typing import Any

import pytest

from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.popularity import PopularityModel
from tastemaker.schema.records import Item
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.recommender import Recommender
from tastemaker.serving.request import RecommendationRequest
from tastemaker.serving.sources import PipelineContext

T0 = 1_700_000_000.0


class World:
    def __init__(self, require_catalog: bool = True) -> None:
        self.state = OnlineState()
        self.toplists = TopListCache(ttl=0)  # always fresh: tests see every event at once
        self.model = PopularityModel(self.toplists)
        self.recommender = Recommender(self.state, self.model, self.toplists, PlacementRegistry(), require_catalog)
        self.seq = 0
        self.ts = T0

    def items(self, *items: Item) -> None:
        for item in items:
            self.state.catalog.upsert(item)

    def event(self, type_: str, user: str, items, *, ts: float | None = None, session: str | None = None,
              value: float | None = None, context: dict | None = None) -> None:
        self.seq += 1
        self.ts = self.ts + 1 if ts is None else ts
        items = [items] if isinstance(items, str) else list(items)
        assert self.state.apply(self.seq, type_, user, session, items, value, self.ts, context)

    def views(self, item: str, count: int, context: dict | None = None, prefix: str = "crowd") -> None:
        for k in range(count):
            self.event("view", f"{prefix}-{item}-{k}", item, context=context)

    def request(self, user: str = "u", **kw: Any) -> RecommendationRequest:
        return RecommendationRequest(user_id=user, **kw)

    def recommend(self, user: str = "u", **kw: Any) -> dict:
        return self.recommender.recommend(self.request(user, **kw))

    def ids(self, user: str = "u", **kw: Any) -> list[str]:
        return [entry["id"] for entry in self.recommend(user, **kw)["items"]]

    def pos(self, item_id: str) -> int:
        return self.state.index.get(item_id)

    def ctx(self, user: str = "u", **kw: Any) -> PipelineContext:
        request = self.request(user, **kw)
        return PipelineContext(self.state, self.state.users.get(user), request, self.model, self.toplists)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def shop(world: World) -> World:
    """Twelve items x0..x11: red (x0-x5) and blue (x6-x11); brand acme (odd) and zen (even);
    x9 is out of stock. Popularity grows with the number (10 * (i + 1) views by strangers).

    Co-visitation: x0 with x1 (6 users), x0 with x2 (3 users), x3 with x4 (4 users).
    """
    world.items(*[Item(id=f"x{i}", categories=["red" if i < 6 else "blue"], brand="acme" if i % 2 else "zen",
                       stock=0 if i == 9 else 10, title=f"X{i}") for i in range(12)])
    for k in range(6):
        world.event("view", f"pair-{k}", "x0")
        world.event("view", f"pair-{k}", "x1")
    for k in range(3):
        world.event("view", f"trio-{k}", "x0")
        world.event("view", f"trio-{k}", "x2")
    for k in range(4):
        world.event("view", f"de-{k}", "x3")
        world.event("view", f"de-{k}", "x4")
    for i in range(12):  # popularity grows with the number: x11 the most, x0 the least
        world.views(f"x{i}", 10 * (i + 1))
    return world
