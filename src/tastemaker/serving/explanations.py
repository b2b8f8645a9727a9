"""Why an item was recommended, in words and in ids a client can link to.

An explanation is ``{"source", "reason"}``, plus, when the user's own items led to it,
``because_of`` (their ids, as before) and ``because`` (``[{"id", "title"}]``, the same items
with their titles, ``title`` null when the catalogue has none), and ``rules`` when business
rules moved the item. ``reason`` is a sentence a page can show as it is; titles are quoted
and joined with "and", since titles contain commas themselves: "Starship Troopers, Long
Kiss Goodnight, The, Amistad" could be read four ways, while

    Because you recently interacted with “Starship Troopers”, “Long Kiss Goodnight, The” and “Amistad”

cannot. A front end that wants its own wording builds it from ``because``.
"""

from __future__ import annotations

from typing import Any

from tastemaker.features.state import OnlineState

_REASONS = {
    "covisitation": "Because you recently interacted with",
    "session_covisitation": "Because of what you looked at in this session:",
    "seed_covisitation": "Often viewed together with",
    "category_affinity": "Because you like",
    "user_model": "Popular with everyone lately",
    "trending": "Trending right now",
    "popular": "Popular right now",
    "context_popular": "Popular with people on the same device, channel or place",
    "pinned": "Featured by the shop",
    "catalog": "From the catalogue, to complete the list",
}
MAX_BECAUSE = 3  # the user's items named per explanation


def quoted_list(titles: list[str]) -> str:
    """``“a”``, ``“a” and “b”``, ``“a”, “b” and “c”``: unambiguous whatever the titles hold.

    >>> quoted_list(["Long Kiss Goodnight, The", "Amistad"])
    '“Long Kiss Goodnight, The” and “Amistad”'
    """
    quoted = [f"“{t}”" for t in titles]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


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
        related = ([s for s in seeds if s in neighbours] or seeds[:1])[:MAX_BECAUSE]
        ids = [state.index.ids[s] for s in related]
        titles = [state.catalog.titles.get(s) for s in related]
        explanation["because_of"] = ids
        explanation["because"] = [{"id": i, "title": t} for i, t in zip(ids, titles)]
        named = quoted_list([t or i for i, t in zip(ids, titles)])  # no title: the id
        explanation["reason"] = f"{explanation['reason']} {named}"
    elif source == "category_affinity":
        cats = state.catalog.categories.get(item, ())
        if cats:
            explanation["reason"] = f"Because you like {cats[0]}"
    return explanation
