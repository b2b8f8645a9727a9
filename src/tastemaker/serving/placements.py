"""Placements: named surfaces, each owning a pipeline configuration.

Built-in placements cover the usual surfaces; the placement YAML and admin API of a later
issue extend this table without changing the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceSpec:
    weight: float
    n: int = 200


@dataclass(frozen=True)
class Placement:
    name: str
    sources: dict[str, SourceSpec]
    n: int = 10
    seen_penalty: float = 0.5  # multiplier for items the user already interacted with
    include_purchased: bool = False
    exclude_seen: bool = False
    description: str = ""


_PERSONAL = {
    "covisitation": SourceSpec(1.0),
    "category_affinity": SourceSpec(0.35, 60),
    "user_model": SourceSpec(0.3, 100),
    "trending": SourceSpec(0.15, 100),
    "context_popular": SourceSpec(0.2, 100),
}

DEFAULT_PLACEMENTS: dict[str, Placement] = {
    p.name: p
    for p in [
        Placement("home", dict(_PERSONAL), description="personal picks from recent and long-term behaviour"),
        Placement(
            "product-page",
            {"seed_covisitation": SourceSpec(2.0), **_PERSONAL},
            description="items co-visited with the item on screen (item_id), then personal picks",
        ),
        Placement(
            "cart",
            {"seed_covisitation": SourceSpec(2.0), "session_covisitation": SourceSpec(1.0), "user_model": SourceSpec(0.2)},
            description="complements of the cart and the current session",
        ),
        Placement("email", dict(_PERSONAL), exclude_seen=True, description="fresh items the user has not interacted with"),
    ]
}


@dataclass
class PlacementRegistry:
    placements: dict[str, Placement] = field(default_factory=lambda: dict(DEFAULT_PLACEMENTS))

    def get(self, name: str) -> Placement | None:
        return self.placements.get(name)

    def names(self) -> list[str]:
        return sorted(self.placements)
