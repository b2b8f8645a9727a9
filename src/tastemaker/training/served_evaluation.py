"""The served figure of a deployment's data, per placement: what ``tastemaker evaluate`` reports
beside the per-family table.

A model's offline score is a diagnosis; what a user gets is the placement's list. This
measures that list as an external client would, without leaving the process and without a
second implementation of anything:

1. a quarter of the log's (user, item) cells is held out (the test split): per user at random
   (``protocol="random"``), the latest quarter of all cells after one time cut
   (``"temporal"``), or what each user touched in their last visit after its opening event
   (``"visit"``: the click of a moment ago is known, where real-time sources can pay);
2. the train job itself (:func:`tastemaker.training.job.train`) runs on the rest, into a
   scratch registry: it fits the family, carves its own validation cut from that part and
   learns each placement's blend, exactly as ``POST /v1/models/train`` would on a deployment
   that had only received the rest;
3. the online state is replayed from the rest (the ingest code), the trained version put
   behind the serving :class:`~tastemaker.serving.recommender.Recommender`, and each test
   user's list is asked for on every placement, scored against the held-out items, with the
   learned blend ("served") and with the placement's own weights ("unlearned"); and the
   trained model's own list through the same pipeline ("model alone": the model as the only
   source), so the report shows what the real-time sources add.

``bench/served_quality.py`` measures the same over HTTP; the two agree within the noise of the
split (a test asserts it on a small data set).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.config import Settings
from tastemaker.datasets.interactions import InteractionData, build_interactions
from tastemaker.datasets.snapshot import snapshot_events
from tastemaker.evaluation.served import (
    HeldOutLog,
    HeldOutUser,
    replay_state,
    served_ndcg,
    served_recommender,
)
from tastemaker.evaluation.splits import next_in_visit_split, random_split, temporal_split
from tastemaker.serving.learned import LearnedModel
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import Placement, SourceSpec
from tastemaker.storage.factory import Stores, open_stores
from tastemaker.training.job import DEFAULT_FAMILY, train, training_snapshot
from tastemaker.training.model_registry import ModelRegistry
from tastemaker.training.served_validation import held_out_items

TEST_USERS = 1_000  # test users served per placement (a seeded sample above it)
PROTOCOLS = ("random", "temporal", "visit")
#: the trained model's list through the serving pipeline, no other source
MODEL_ALONE = Placement("model-alone", {"user_model": SourceSpec(1.0, 100, explicit=True)})


def evaluate_served(stores: Stores, family: str = DEFAULT_FAMILY, params: dict[str, Any] | None = None, *,
                    placements: PlacementRegistry | None = None, require_catalog: bool = True,
                    test_fraction: float = 0.25, seed: int = 0, max_users: int = TEST_USERS,
                    protocol: str = "random", progress: Callable[[str], None] | None = None,
                    consent_required: bool = False) -> dict[str, Any]:
    """Served nDCG@10 per placement on a held-out quarter of ``stores``' log (module doc).

    Returns ``{"family", "protocol", "version_metrics", "users", "model_alone", "placements":
    {name: {"served", "unlearned", "blend"}}}``: ``served`` with the blend the train job
    learned, ``unlearned`` with the placement's own weights, ``blend`` the learned weights
    (None: nothing to learn); ``model_alone`` the trained model as the only source.
    The deployment's registry is not touched (the train job writes to a scratch one). Users
    who withheld ``training`` consent are neither trained on nor among the test users.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    say = progress or (lambda message: None)
    placements = placements or PlacementRegistry(stores.artifacts)
    to_seq = stores.events.last_seq()
    held = stores.quarantine.excluded(to_seq=to_seq) if stores.quarantine is not None else set()
    snapshot, _ = training_snapshot(stores, snapshot_events(stores.events, to_seq, held), consent_required)
    data = build_interactions(snapshot.columns()) if len(snapshot) else None
    if data is None or not data.matrix.nnz:
        raise ValueError("the event log has no interactions to evaluate")
    _, test = held_out_split(data, snapshot.columns(), protocol, test_fraction, seed)
    held = held_out_items(data, test)
    part = HeldOutLog(stores.events, held, to_seq)
    say(f"held out {test.nnz:,} of {data.matrix.nnz:,} cells; training {family} on the rest")
    with tempfile.TemporaryDirectory(prefix="tastemaker-served-") as scratch_dir:
        # embedded whatever the deployment: the held-out model is scratch, never the shared registry
        with open_stores(Settings(data_dir=Path(scratch_dir), backend="embedded", durable=False)) as scratch:
            rest = dataclasses.replace(stores, events=part, models=scratch.models, artifacts=scratch.artifacts)
            result = train(rest, family, params, promote="always", placements=placements,
                           require_catalog=require_catalog, progress=lambda step: say(str(step)),
                           consent_required=consent_required)
            artifact = ModelRegistry(scratch.models, scratch.artifacts).load(result.version.version)
            say("replaying the online state of the training part")
            state = replay_state(rest)
    ids = sorted(u for u in held if u in state.users)
    if len(ids) > max_users:
        ids = sorted(np.random.default_rng(seed).choice(ids, max_users, replace=False).tolist())
    users = [HeldOutUser(u, held[u]) for u in ids]
    learned = LearnedModel(artifact, result.version.version, state.index)
    unlearned = LearnedModel(dataclasses.replace(artifact, blends={}), result.version.version, state.index)
    out: dict[str, Any] = {}
    for name in placements.names():
        say(f"serving {len(users):,} test users on {name}")
        blend = artifact.blends.get(name)
        out[name] = {
            "served": served_ndcg(served_recommender(state, learned, placements, require_catalog), users, name),
            "unlearned": served_ndcg(served_recommender(state, unlearned, placements, require_catalog), users, name),
            "blend": None if blend is None else {s: w for s, w in blend["weights"].items() if w > 0},
        }
    alone = PlacementRegistry(placements={MODEL_ALONE.name: MODEL_ALONE})
    model_alone = served_ndcg(served_recommender(state, unlearned, alone, require_catalog), users, MODEL_ALONE.name)
    return {"family": family, "protocol": protocol, "users": len(users), "model_alone": model_alone,
            "version_metrics": result.version.metrics, "placements": out}


def held_out_split(data: InteractionData, events: dict[str, Any], protocol: str, test_fraction: float = 0.25,
                   seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(train, test) cells of ``data`` under ``protocol`` (one of :data:`PROTOCOLS`); ``events``
    are the raw columns the matrix was built from (the visit protocol reads their times)."""
    if protocol == "random":
        return random_split(data, test_fraction, seed)
    if protocol == "temporal":
        return temporal_split(data, test_fraction)
    return next_in_visit_split(data, events)


def format_served(reports: list[dict[str, Any]], seeds: list[int]) -> str:
    """The per-placement table ``tastemaker evaluate`` prints: the mean over the split seeds,
    each seed's figure, and the first seed's learned blend."""
    first = reports[0]
    alone = [r["model_alone"] for r in reports]
    lines = [f"served nDCG@10 per placement ({first['family']}, {first['protocol']} split, {first['users']:,} test "
             "users; per seed, the train job ran on a 75% part and the held-out quarter was served)",
             f"{'placement':<14} {'served':>8} {'unlearned':>10}  {'per seed':<{8 * len(seeds)}} learned blend (seed {seeds[0]})"]
    for name, row in first["placements"].items():
        served = [r["placements"][name]["served"] for r in reports]
        unlearned = [r["placements"][name]["unlearned"] for r in reports]
        blend = "(weights written in the placement)" if row["blend"] is None else \
            " ".join(f"{s}={w:g}" for s, w in row["blend"].items())
        per_seed = " ".join(f"{v:.4f}" for v in served)
        lines.append(f"{name:<14} {np.mean(served):>8.4f} {np.mean(unlearned):>10.4f}  {per_seed:<{8 * len(seeds)}} {blend}")
    per_seed = " ".join(f"{v:.4f}" for v in alone)
    lines.append(f"{'(model alone)':<14} {np.mean(alone):>8.4f} {'':>10}  {per_seed:<{8 * len(seeds)}} user_model only")
    return "\n".join(lines)
