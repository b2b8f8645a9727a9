"""Offline evaluation of model families: every family under every protocol on a data set
(MovieLens 100k or the event log), one row of metrics per (protocol, family).
``tastemaker evaluate`` (:mod:`tastemaker.cli.evaluate`) runs it and writes the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tastemaker.datasets.interactions import InteractionData, build_interactions

if TYPE_CHECKING:
    from tastemaker.config import Settings

PROTOCOLS = ("random", "temporal", "leave_last_out")


def protocol_params(name: str, protocol: str) -> dict[str, Any]:
    """Parameters that make a family validate the way ``protocol`` tests: a family that
    carves its own validation split (``holdout_by``, the hybrid) carves it by the same rule.

    >>> protocol_params("hybrid", "leave_last_out"), protocol_params("ease", "temporal")
    ({'holdout_by': 'last'}, {})
    """
    from tastemaker.evaluation.splits import DEFAULT_TEST_FRACTION
    from tastemaker.models.families import family_class

    if "holdout_by" not in family_class(name).param_names():
        return {}
    return {"random": {},
            "temporal": {"holdout_by": "time", "holdout": DEFAULT_TEST_FRACTION["temporal"]},
            "leave_last_out": {"holdout_by": "last"}}[protocol]


def load_movielens() -> tuple[InteractionData, list[dict[str, Any]]]:
    """MovieLens 100k as the published protocol reads it (every rating is an interaction,
    binary relevance), with the item records aligned to the matrix columns."""
    from tastemaker.datasets import load_ml100k

    ds = load_ml100k()
    data = build_interactions(ds.events, binary=True, rating_neutral=0.0)
    by_id = {item["id"]: item for item in ds.items}
    return data, [by_id.get(i, {"id": i}) for i in data.item_ids]


def load_event_log(settings: Settings) -> tuple[InteractionData, list[dict[str, Any]]]:
    """The interactions of the data dir's event log (a snapshot: later writes are not read)
    and the catalogue record of each column (``{"id": ...}`` for an item without one)."""
    import msgspec

    from tastemaker.datasets.snapshot import snapshot_events
    from tastemaker.storage.factory import open_stores

    with open_stores(settings) as stores:
        data = build_interactions(snapshot_events(stores.events).columns())
        items = []
        for item_id in data.item_ids:
            item = stores.items.get(item_id)
            items.append(msgspec.to_builtins(item) if item else {"id": item_id})
    return data, items


def evaluate_protocols(names: Sequence[str], data: InteractionData, items: list[dict[str, Any]],
                       protocols: Sequence[str], seeds: Sequence[int],
                       progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """One row per (protocol, family), metrics averaged over ``seeds``; ``progress(done,
    total, message)`` once before the first run (``done`` 0) and after each fitted run (a
    family on one seed of one protocol)."""
    from tastemaker.evaluation.evaluate import evaluate_families
    from tastemaker.evaluation.metrics import category_features
    from tastemaker.models.families import factory

    features = category_features(items, data.item_ids)
    total, done = len(protocols) * len(seeds) * len(names), 0

    def one_run(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, message)

    if progress is not None:
        progress(0, total, f"{len(names)} families x {len(seeds)} seeds x {len(protocols)} protocols")
    rows = []
    for protocol in protocols:
        factories = {n: factory(n, **protocol_params(n, protocol)) for n in names}
        for row in evaluate_families(factories, data, protocol=protocol, seeds=list(seeds),
                                     item_features=features, items=items, progress=one_run):
            rows.append({"protocol": protocol, **row})
    return rows
