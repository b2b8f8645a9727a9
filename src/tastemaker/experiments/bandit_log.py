"""A bandit placement's served lists and their outcomes as :class:`~.offpolicy.LoggedData`.

Every list a bandit placement served is in the impression log with the experiment entry
``{"id": "bandit:<placement>", "variant": arm, "propensity": p}`` (serving/bandits.py). Joined
to its outcomes by :func:`tastemaker.ranking.outcomes.attribute` (``recommendation_id``, else
user and item inside the window), each list becomes one row: the arm, the propensity it was
chosen with, and the reward of its first paying outcome (0 when none), as the live registry
counts a trial (experiments/bandit_registry.py). For item arms only outcomes on the chosen
item pay. Request contexts are not in the impression log, so the rows carry none: contextual
targets cannot be evaluated from it.

>>> from tastemaker.ranking.outcomes import Outcome
>>> from tastemaker.storage.protocols import ImpressionRecord
>>> shown = [ImpressionRecord("r1", "home", "u", 1.0, ["x"], experiments=[
...     {"id": "bandit:home", "variant": "a", "propensity": 0.5}])]
>>> log, arms = logged_bandit_data(shown, [Outcome("u", "x", "click", 2.0, "r1")], "home")
>>> arms, log.arms.tolist(), log.rewards.tolist(), log.propensities.tolist()
(['a'], [0], [1.0], [0.5])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tastemaker.ranking.outcomes import Outcome, attribute, read_outcomes
from tastemaker.storage.protocols import EventLog, ImpressionLog, ImpressionRecord

from .bandit_registry import DEFAULT_REWARDS
from .offpolicy import LoggedData


def experiment_id(placement: str) -> str:
    """The experiment id a bandit placement's lists are logged under."""
    return f"bandit:{placement}"


def logged_bandit_data(impressions: Iterable[ImpressionRecord], outcomes: Iterable[Outcome], placement: str,
                       rewards: Mapping[str, float] = DEFAULT_REWARDS, window_s: float = 3600.0,
                       item_arms: bool = False, arms: Sequence[str] | None = None) -> tuple[LoggedData, list[str]]:
    """(LoggedData, arm names) of ``placement``'s bandit lists; ``arms`` fixes the arm order
    (default: sorted arm names seen). Lists without the bandit entry are ignored."""
    key = experiment_id(placement)
    rows: list[tuple[ImpressionRecord, str, float]] = []
    for imp in impressions:
        for entry in imp.experiments or ():
            if entry.get("id") == key:
                rows.append((imp, str(entry["variant"]), float(entry["propensity"])))
                break
    if not rows:
        raise ValueError(f"no list of placement '{placement}' was served by its bandit")
    names = list(arms) if arms is not None else sorted({arm for _, arm, _ in rows})
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({arm for _, arm, _ in rows} - index.keys())
    if unknown:
        raise ValueError(f"logged arms missing from arms: {unknown}")
    chosen = {imp.recommendation_id: arm for imp, arm, _ in rows}
    paid: dict[str, float] = {}
    for imp, outcome in attribute([imp for imp, _, _ in rows], outcomes, window_s):
        rid = imp.recommendation_id
        if rid in paid or outcome.type not in rewards:
            continue  # one trial per list: its first paying outcome
        if item_arms and outcome.item_id != chosen[rid]:
            continue
        paid[rid] = float(rewards[outcome.type])
    return LoggedData(arms=np.array([index[arm] for _, arm, _ in rows], dtype=np.intp),
                      rewards=np.array([paid.get(imp.recommendation_id, 0.0) for imp, _, _ in rows]),
                      propensities=np.array([p for _, _, p in rows]), n_arms=len(names)), names


def bandit_data_from_stores(impressions: ImpressionLog, events: EventLog, placement: str,
                            since_ts: float = -math.inf, until_ts: float = math.inf,
                            **kwargs) -> tuple[LoggedData, list[str]]:
    """:func:`logged_bandit_data` over the stores: the placement's lists served in
    ``[since_ts, until_ts)`` and every outcome event of the log."""
    shown = impressions.read_experiment(experiment_id(placement), since_ts, until_ts)
    types = frozenset(kwargs.get("rewards", DEFAULT_REWARDS))
    return logged_bandit_data(shown, read_outcomes(events, types=types), placement, **kwargs)
