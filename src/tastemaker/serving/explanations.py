"""Why an item was recommended, in words and in ids a client can link to."""

from __future__ import annotations

from typing import Any

from tastemaker.features.state import OnlineState

_REASONS = {
    "covisitation": "because you recently interacted with",
    "session_covisitation": "because of what you looked at in this session",
    "seed_covisitation": "often viewed together with",
    "category_affinity": "because you like",
    "user_model": "popular with everyone lately",
    "trending": "trending right now",
    "popular": "popular right now",
    "context_popular": "popular with people on the same device, channel or place",
    "pinned": "featured by the shop",
    "catalog": "from the catalogue, to complete the list",
}


def explain(state: OnlineState, item: int, source: str, seeds: list[int],
            rules: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """An explanation object: the source, a sentence, the user's items behind it and, when
    business rules moved the item, ``rules``: ``[{"rule", "effect"}]`` from
    ``tastemaker.rules.engine.RuleTrace.for_item(item)`` (and diversity/fairness moves)."""
    explanation: dict[str, Any] = {"source": source, "reason": _REASONS.get(source, source)}
    if rules:
        explanation["rules"] = list(rules)
    if seeds:
        neighbours = set(state.covisitation.row(item)[0].tolist())
        related = [s for s in seeds if s in neighbours] or seeds[:1]
        explanation["because_of"] = [state.index.ids[s] for s in related[:3]]
        titles = [state.catalog.titles.get(s) or state.index.ids[s] for s in related[:3]]
        explanation["reason"] = f"{explanation['reason']} {', '.join(titles)}"
    elif source == "category_affinity":
        cats = state.catalog.categories.get(item, ())
        if cats:
            explanation["reason"] = f"because you like {cats[0]}"
    return explanation
