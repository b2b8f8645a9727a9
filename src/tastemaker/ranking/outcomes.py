"""Outcomes and the one join of outcomes to the impressions that caused them.

An :class:`Outcome` is one item of a later event (click, add-to-cart, purchase ...). It
answers a served list when it names it by ``recommendation_id`` (the event field, or
``context.recommendation_id``); otherwise it is attributed to the latest impression of the
same user, at or before it, that showed the item. Either way it counts only inside the
attribution window ``[impression.ts, impression.ts + window_s]`` (both ends included) and only
for an item the list showed. An outcome before any impression of its user is never
attributed.

The learned ranker's labels (:func:`tastemaker.ranking.ltr.build_training_set`) and the
experiment metrics (:mod:`tastemaker.experiments.attribution`) both use :func:`attribute`,
so a click means the same thing to both.

>>> from dataclasses import dataclass
>>> @dataclass
... class Shown:
...     recommendation_id: str; user_id: str; ts: float; items: list[str]
>>> shown = [Shown("r1", "u", 10.0, ["a", "b"]), Shown("r2", "u", 20.0, ["b"])]
>>> outs = [Outcome("u", "b", "click", 25.0), Outcome("u", "a", "click", 12.0, "r1"),
...         Outcome("u", "a", "click", 5.0)]
>>> [(imp.recommendation_id, o.item_id) for imp, o in attribute(shown, outs, window_s=60)]
[('r2', 'b'), ('r1', 'a')]
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tastemaker.schema.records import Event
from tastemaker.storage.protocols import EventLog

OUTCOME_TYPES = frozenset({"click", "add_to_cart", "purchase"})


@dataclass
class Outcome:
    """One item of an outcome event. ``value`` is the item's share of the event's value (a
    purchase's amount split evenly over its items), ``price`` the event's ``properties.price``
    when it carries one; ``session_id`` as logged."""

    user_id: str
    item_id: str
    type: str
    ts: float
    recommendation_id: str | None = None
    value: float | None = None
    price: float | None = None
    session_id: str | None = None


class Shown(Protocol):
    """What the join needs of an impression (ranking's ``Impression``, storage's
    ``ImpressionRecord`` both qualify)."""

    recommendation_id: str
    user_id: str
    ts: float
    items: list[str]


S = TypeVar("S", bound=Shown)


def linked_recommendation_id(event: Event) -> str | None:
    """The served list an event answers: its ``recommendation_id``, else ``context.recommendation_id``."""
    if event.recommendation_id is not None:
        return event.recommendation_id
    linked = event.context.get("recommendation_id") if event.context else None
    return linked if isinstance(linked, str) and linked else None


def outcomes_from_event(event: Event, types: frozenset[str] = OUTCOME_TYPES) -> list[Outcome]:
    """One :class:`Outcome` per item of ``event`` when its type is an outcome type."""
    if event.type not in types:
        return []
    rec = linked_recommendation_id(event)
    price = event.properties.get("price") if event.properties else None
    price = float(price) if isinstance(price, (int, float)) and not isinstance(price, bool) else None
    ts = float(event.timestamp)  # type: ignore[arg-type]  # the log always stamps events
    items = event.items()
    value = event.value / len(items) if event.value is not None and items else None
    return [Outcome(event.user_id, item, event.type, ts, rec, value, price, event.session_id) for item in items]


def read_outcomes(events: EventLog, after_seq: int = 0, types: frozenset[str] = OUTCOME_TYPES,
                  page: int = 10_000, until_ts: float | None = None) -> list[Outcome]:
    """Outcome events (one per item) logged after position ``after_seq``, in log order;
    with ``until_ts``, only those stamped at or before it."""
    out: list[Outcome] = []
    seq = after_seq
    while True:
        rows = events.read_since(seq, page)
        if not rows:
            return out
        for _, e in rows:
            for o in outcomes_from_event(e, types):
                if until_ts is None or o.ts <= until_ts:
                    out.append(o)
        seq = rows[-1][0]


def attribute(impressions: Iterable[S], outcomes: Iterable[Outcome], window_s: float,
              unknown_falls_back: bool = True) -> Iterator[tuple[S, Outcome]]:
    """``(impression, outcome)`` for every outcome that one of ``impressions`` caused, in
    the order of ``outcomes`` (rules in the module docstring). An outcome naming a list that
    is not among ``impressions`` falls back to the user-and-item rule, unless
    ``unknown_falls_back`` is False: then it is not attributed (it answers a list that was not
    logged, which must not be credited to another)."""
    imps: Sequence[S] = impressions if isinstance(impressions, Sequence) else list(impressions)
    by_id = {i.recommendation_id: i for i in imps}
    by_pair: dict[tuple[str, str], list[S]] = {}
    for imp in sorted(imps, key=lambda i: i.ts):
        for item in imp.items:
            by_pair.setdefault((imp.user_id, item), []).append(imp)
    times = {pair: [i.ts for i in shown] for pair, shown in by_pair.items()}
    for o in outcomes:
        imp = by_id.get(o.recommendation_id) if o.recommendation_id else None
        if imp is None and (o.recommendation_id is None or unknown_falls_back):
            # unlinked: the latest impression of this user at or before it showing the item
            pair = (o.user_id, o.item_id)
            at = bisect.bisect_right(times.get(pair, ()), o.ts)
            imp = by_pair[pair][at - 1] if at else None
        if imp is None or not imp.ts <= o.ts <= imp.ts + window_s or o.item_id not in imp.items:
            continue
        yield imp, o
