"""Attribution: outcome events joined to the served lists of an experiment, per user.

Users are the randomization unit, so every metric is one number per user (the statistics
compare users, not impressions). For an experiment over ``[start, end)``:

* **exposures**: the lists served to the user under the experiment (impressions tagged with
  its id); the user's variant is that of the first one (a user later seen under another
  variant, after a change of shares, stays in the first and is counted in ``crossovers``);
* outcomes (click / add_to_cart / purchase events) join the lists by ``recommendation_id``
  (the event field or ``context.recommendation_id``), else by user and item to the latest
  earlier impression within ``window_s`` (:func:`tastemaker.ranking.outcomes.attribute`, the
  same join the learned ranker's labels use). An outcome answering a list outside the
  experiment, or naming a list that was not logged, does not count; one before any impression
  is never attributed;
* per user: ``clicks`` (attributed click events), ``ctr`` (share of the user's lists with an
  attributed click), ``add_to_cart_rate`` (share with an attributed add-to-cart),
  ``conversion`` (1 when any attributed purchase), ``revenue`` (sum over attributed purchases
  of the event's value, else its ``properties.price``, else the item's catalogue price),
  ``items_per_session`` (distinct items engaged with from the lists per session of the user
  in the period);
* the same metrics over the ``pre_period_s`` before ``start`` from the user's behaviour then,
  attributed or not (nobody was in a variant yet, and lists before the start are logged only on
  placements that log impressions, so sessions stand in for lists: ``pre_ctr`` is the share of
  the user's sessions with a click), as ``pre_<metric>`` covariates for CUPED; ``pre_exposures``
  counts the lists of the experiment's placements that were logged. The segment ``pre_period``
  is ``returning`` for a user active before the start, else ``new``;
* per variant, over its served lists: ``coverage`` (distinct items shown / catalogue size) and
  ``diversity`` (mean share of item pairs of a list in different categories).

Erasure is respected by construction: everything is read from the stores, from which an
erased user's impressions and events are gone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tastemaker.experiments.metrics_table import UserMetrics
from tastemaker.experiments.spec import ALL_PLACEMENTS, Experiment
from tastemaker.ranking.outcomes import OUTCOME_TYPES, Outcome, attribute, outcomes_from_event
from tastemaker.schema.records import Event
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import EventLog, ImpressionRecord

DEFAULT_WINDOW_S = 86_400.0  # as the ranker's labels (training.ranker_job)
DEFAULT_PRE_PERIOD_S = 14 * 86_400.0
CLOCK_SLACK_S = 3_600.0  # events may be stamped by clients: read the log from an hour earlier
SEGMENT_KEYS = ("device", "country")  # request context keys (else user traits) the results break down by
METRICS = ("exposures", "clicks", "ctr", "add_to_cart_rate", "conversion", "revenue", "items_per_session")


@dataclass
class ListMetrics:
    """List-level figures of one variant over its served lists."""

    lists: int
    distinct_items: int
    coverage: float  # distinct items / catalogue size (nan when the size is unknown)
    diversity: float  # mean share of a list's item pairs in different categories (nan: no categories)

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


@dataclass
class Attribution:
    """What :func:`attribute_experiment` measured: the per-user table and per-variant lists."""

    users: UserMetrics
    lists: dict[str, ListMetrics]
    start: float
    end: float
    window_s: float
    crossovers: int = 0  # users served under more than one variant (kept in their first)
    outcomes: dict[str, int] = field(default_factory=dict)  # attributed outcomes by type


def experiment_variant(record: ImpressionRecord, experiment_id: str) -> str | None:
    """The variant ``record`` was served under in ``experiment_id`` (None: not in it)."""
    for tag in record.experiments or ():
        if tag.get("id") == experiment_id:
            return str(tag.get("variant"))
    return None


class _Tally:
    """One user's counts over one period."""

    __slots__ = ("lists", "first_ts", "clicked", "carted", "clicks", "purchases", "revenue", "engaged", "sessions")

    def __init__(self) -> None:
        self.lists, self.first_ts, self.clicks, self.purchases, self.revenue = 0, math.inf, 0, 0, 0.0
        self.clicked: set[str] = set()
        self.carted: set[str] = set()
        self.engaged: set[tuple[str | None, str]] = set()
        self.sessions: set[str] = set()

    def row(self, per_session: bool = False) -> list[float]:
        """The metrics in :data:`METRICS` order; ``per_session``: rates over sessions, not lists."""
        visits = max(len(self.sessions) if per_session else self.lists, 1)
        return [float(self.lists), float(self.clicks), len(self.clicked) / visits, len(self.carted) / visits,
                float(self.purchases > 0), self.revenue, len(self.engaged) / max(len(self.sessions), 1)]


def _tally(shown: Sequence[ImpressionRecord], every_list: Sequence[ImpressionRecord], outcomes: Sequence[Outcome],
           events_by_user: dict[str, set[str]], window_s: float, price_of: Callable[[str], float | None],
           counts: dict[str, int] | None = None) -> dict[str, _Tally]:
    """Per-user tallies of the lists ``shown``; the join runs over ``every_list`` so that an
    unlinked outcome goes to the latest list that showed the item, in the experiment or not."""
    tallies: dict[str, _Tally] = {}
    for imp in shown:
        t = tallies.get(imp.user_id) or tallies.setdefault(imp.user_id, _Tally())
        t.lists += 1
        t.first_ts = min(t.first_ts, imp.ts)
    ours = {imp.recommendation_id for imp in shown}
    # a click naming a list that was not logged (a placement that logs no impressions) answers
    # that list: it must not fall back to an experiment list that showed the same item
    for imp, o in attribute(every_list, outcomes, window_s, unknown_falls_back=False):
        if imp.recommendation_id not in ours:
            continue
        t = tallies[imp.user_id]
        if counts is not None:
            counts[o.type] = counts.get(o.type, 0) + 1
        t.engaged.add((o.session_id, o.item_id))
        if o.type == "click":
            t.clicks += 1
            t.clicked.add(imp.recommendation_id)
        elif o.type == "add_to_cart":
            t.carted.add(imp.recommendation_id)
        elif o.type == "purchase":
            t.purchases += 1
            amount = o.value if o.value is not None else o.price if o.price is not None else price_of(o.item_id)
            t.revenue += float(amount or 0.0)
    for user, t in tallies.items():
        t.sessions = events_by_user.get(user, set())
    return tallies


def _behaviour(outcomes: Iterable[Outcome], lists: Iterable[ImpressionRecord], sessions: dict[str, set[str]],
               price_of: Callable[[str], float | None]) -> dict[str, _Tally]:
    """Per-user tallies of behaviour before the start, attributed or not: sessions stand in for
    lists (a session with a click counts as a clicked list), because lists served before an
    experiment are logged only on placements that log impressions. ``exposures`` counts the
    lists that were logged."""
    tallies: dict[str, _Tally] = {}
    for imp in lists:
        t = tallies.get(imp.user_id) or tallies.setdefault(imp.user_id, _Tally())
        t.lists += 1
    for o in outcomes:
        t = tallies.get(o.user_id) or tallies.setdefault(o.user_id, _Tally())
        visit = o.session_id if o.session_id is not None else ""
        t.engaged.add((o.session_id, o.item_id))
        if o.type == "click":
            t.clicks += 1
            t.clicked.add(visit)
        elif o.type == "add_to_cart":
            t.carted.add(visit)
        elif o.type == "purchase":
            t.purchases += 1
            amount = o.value if o.value is not None else o.price if o.price is not None else price_of(o.item_id)
            t.revenue += float(amount or 0.0)
    for user, t in tallies.items():
        t.sessions = sessions.get(user, set())
    return tallies


def _list_metrics(shown: Iterable[ImpressionRecord], catalog_size: int | None,
                  category_of: Callable[[str], str | None]) -> ListMetrics:
    lists, items, diversities = 0, set(), []
    for imp in shown:
        lists += 1
        items.update(imp.items)
        n = len(imp.items)
        cats = [category_of(i) for i in imp.items]
        if n > 1 and any(c is not None for c in cats):
            keys = [c if c is not None else f"\x00{i}" for i, c in zip(imp.items, cats)]  # unknown: its own
            _, sizes = np.unique(np.array(keys, dtype=object), return_counts=True)
            diversities.append((n * n - float((sizes ** 2).sum())) / (n * (n - 1)))
    coverage = len(items) / catalog_size if catalog_size else math.nan
    return ListMetrics(lists, len(items), coverage, float(np.mean(diversities)) if diversities else math.nan)


def user_metrics(experiment_id: str, impressions: Sequence[ImpressionRecord], events: Iterable[Event],
                 start: float, end: float, window_s: float = DEFAULT_WINDOW_S,
                 pre_period_s: float = DEFAULT_PRE_PERIOD_S, placements: Iterable[str] | None = None,
                 price_of: Callable[[str], float | None] = lambda item: None,
                 category_of: Callable[[str], str | None] = lambda item: None,
                 catalog_size: int | None = None,
                 traits_of: Callable[[str], Mapping[str, Any] | None] = lambda user: None) -> Attribution:
    """The per-user table of ``experiment_id`` over ``[start, end)`` from impressions and
    events already read (:func:`attribute_experiment` reads them from the stores).

    ``placements`` (None: all) bounds the pre-period lists; outcomes count up to
    ``end + window_s`` at the latest (each still inside its own list's window). Segments for
    the breakdown: ``pre_period`` (returning / new) and each of :data:`SEGMENT_KEYS` that some
    user has, from the context of the user's first event in the period that carries it, else
    the user's trait of that name (``traits_of``), else ``unknown``."""
    wanted = None if placements is None or ALL_PLACEMENTS in placements else set(placements)
    pre_start = start - pre_period_s
    every_list = [i for i in impressions if pre_start <= i.ts < end]
    variant_of: dict[str, str] = {}
    shown: dict[str, list[ImpressionRecord]] = {}
    users_by_variant: dict[str, set[str]] = {}
    crossovers: set[str] = set()
    for imp in sorted(every_list, key=lambda i: (i.ts, i.recommendation_id)):
        variant = experiment_variant(imp, experiment_id) if imp.ts >= start else None
        if variant is None:
            continue
        first = variant_of.setdefault(imp.user_id, variant)
        if first != variant:
            crossovers.add(imp.user_id)
            continue
        shown.setdefault(variant, []).append(imp)
        users_by_variant.setdefault(variant, set()).add(imp.user_id)
    pre_lists = [i for i in every_list if i.ts < start and i.user_id in variant_of
                 and (wanted is None or i.placement in wanted)]
    outcomes: list[Outcome] = []
    sessions: dict[str, set[str]] = {}
    pre_sessions: dict[str, set[str]] = {}
    labels: dict[str, dict[str, str]] = {}  # segment key -> user -> value from the request context
    for e in events:
        if e.user_id not in variant_of or e.timestamp is None or not pre_start <= e.timestamp < end + window_s:
            continue
        if e.session_id is not None and e.timestamp < end:
            (sessions if e.timestamp >= start else pre_sessions).setdefault(e.user_id, set()).add(e.session_id)
        if e.type in OUTCOME_TYPES:
            outcomes.extend(outcomes_from_event(e))
        if e.context and start <= e.timestamp < end:
            for key in SEGMENT_KEYS:
                value = e.context.get(key)
                if isinstance(value, str) and value:
                    labels.setdefault(key, {}).setdefault(e.user_id, value)
    counts: dict[str, int] = {}
    post_outcomes = [o for o in outcomes if o.ts >= start]
    post = _tally([i for lists in shown.values() for i in lists], every_list, post_outcomes, sessions, window_s,
                  price_of, counts)
    pre = _behaviour([o for o in outcomes if o.ts < start], pre_lists, pre_sessions, price_of)
    users = sorted(variant_of, key=lambda u: (post[u].first_ts, u))
    empty = _Tally().row()
    values = np.array([post[u].row() for u in users], np.float64).reshape(len(users), len(METRICS))
    before = np.array([pre[u].row(per_session=True) if u in pre else empty for u in users], np.float64).reshape(
        len(users), len(METRICS))
    table = UserMetrics(
        user_id=np.array(users, dtype=object), variant=np.array([variant_of[u] for u in users], dtype=object),
        exposure_ts=np.array([post[u].first_ts for u in users], np.float64),
        metrics={m: values[:, j] for j, m in enumerate(METRICS)},
        covariates={f"pre_{m}": before[:, j] for j, m in enumerate(METRICS)},
        # for the per-segment breakdown: users served lists before the start, and new ones
        segments={"pre_period": np.array(["returning" if u in pre else "new" for u in users], dtype=object),
                  **_segments(users, labels, traits_of)})
    lists = {v: _list_metrics(shown[v], catalog_size, category_of) for v in sorted(shown)}
    return Attribution(table, lists, start, end, window_s, len(crossovers), counts)


def _segments(users: Sequence[str], labels: dict[str, dict[str, str]],
              traits_of: Callable[[str], Mapping[str, Any] | None]) -> dict[str, np.ndarray]:
    """Per :data:`SEGMENT_KEYS`: each user's value from the context, else the trait, else
    ``unknown``; a key nobody has is left out."""
    traits = {u: traits_of(u) or {} for u in users}
    out = {}
    for key in SEGMENT_KEYS:
        column = [labels.get(key, {}).get(u) or (str(traits[u][key]) if traits[u].get(key) else "unknown")
                  for u in users]
        if any(v != "unknown" for v in column):
            out[key] = np.array(column, dtype=object)
    return out


def attribute_experiment(stores: Stores, experiment: Experiment, now: float,
                         window_s: float = DEFAULT_WINDOW_S, pre_period_s: float = DEFAULT_PRE_PERIOD_S) -> Attribution:
    """:func:`user_metrics` of ``experiment`` read from the stores, bounded by its window
    (:meth:`Experiment.window`: from when it started running, or its scheduled start if later,
    to when it stopped, its scheduled stop or ``now``; one stored before starts were recorded
    begins at its earliest tagged list), events from the first pre-period list's log position
    on. Runs anywhere but the event loop (it reads the logs)."""
    start, end = experiment.window(now)
    if stores.impressions is None:
        return user_metrics(experiment.id, [], [], end if start is None else start, end, window_s, pre_period_s)
    if start is None:  # never recorded as started (stored before starts were): from its first tagged list
        start = min((i.ts for i in stores.impressions.read_experiment(experiment.id, until_ts=end)), default=end)
    impressions = stores.impressions.read(None, since_ts=start - pre_period_s, until_ts=end)
    # events from the pre-period's start on (its behaviour is the covariate), and every list's
    after_seq = min(position_before(stores.events, start - pre_period_s - CLOCK_SLACK_S),
                    min((i.log_seq for i in impressions), default=stores.events.last_seq()))
    items: dict[str, Any] = {}

    def item(item_id: str) -> Any:
        if item_id not in items:
            items[item_id] = stores.items.get(item_id)
        return items[item_id]

    def price_of(item_id: str) -> float | None:
        found = item(item_id)
        return found.price if found is not None else None

    def category_of(item_id: str) -> str | None:
        found = item(item_id)
        return found.categories[0] if found is not None and found.categories else None

    def traits_of(user_id: str) -> Mapping[str, Any] | None:
        found = stores.users.get(user_id)
        return found.traits if found is not None else None

    return user_metrics(experiment.id, impressions, _events_after(stores, after_seq), start, end, window_s,
                        pre_period_s, experiment.placements, price_of, category_of, stores.items.count() or None,
                        traits_of)


def position_before(events: EventLog, ts: float) -> int:
    """A log position after which come all events stamped at or after ``ts``: the smallest
    position whose next event is stamped ``>= ts``, by bisection (``O(log n)`` reads). Live
    events are appended in time order; an import of older events later in the log is found by
    the slack callers give ``ts``, not by this search."""
    lo, hi = 0, events.last_seq()
    while lo < hi:
        mid = (lo + hi) // 2
        rows = events.read_since(mid, 1)
        if rows and rows[0][1].timestamp is not None and rows[0][1].timestamp < ts:
            lo = rows[0][0]  # that event is before ts: start after it
        else:
            hi = mid
    return lo


def _events_after(stores: Stores, seq: int, page: int = 10_000) -> Iterable[Event]:
    while True:
        rows = stores.events.read_since(seq, page)
        if not rows:
            return
        for _, e in rows:
            yield e
        seq = rows[-1][0]
