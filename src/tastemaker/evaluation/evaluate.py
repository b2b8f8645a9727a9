"""Offline evaluation: fit a model on train, rank unseen items, measure against test.

The protocol is the one the published ML-100k anchors use: binary relevance, items seen in
training removed from the ranking, metrics averaged over users with >= 1 test item.
Hyperparameters are chosen by :func:`tune` on a validation split carved from the training
matrix (never from test).

A *factory* is a zero-argument callable returning an unfitted model that follows
``models.family.ModelFamily`` (``fit(csr)``, ``score(csr rows) -> dense``); if it accepts a
``seed`` keyword, :func:`evaluate_families` passes each run's seed.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> class Oracle:  # scores = the test matrix itself
    ...     def fit(self, m): return self
    ...     def score(self, rows): return TEST[ROWS].toarray()
    >>> TEST = sp.csr_matrix(np.eye(4, dtype=np.float32)); ROWS = slice(None)
    >>> train = sp.csr_matrix(np.roll(np.eye(4, dtype=np.float32), 1, axis=1))
    >>> evaluate_model(Oracle, train, TEST, k=2)["ndcg@2"]
    1.0
"""

from __future__ import annotations

import inspect
import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tastemaker.datasets.interactions import InteractionData
from tastemaker.evaluation import metrics as M
from tastemaker.evaluation.splits import Protocol, split, validation_split
from tastemaker.models.topk import top_k

Factory = Callable[..., Any]
#: Fixed BLAS thread count while scoring: timings stay comparable between runs and the
#: scoring matmuls do not oversubscribe cores that a model's own threads already use.
DEFAULT_BLAS_THREADS = max(1, min(8, os.cpu_count() or 1))


def recommend_top_k(model: Any, train: sp.csr_matrix, users: np.ndarray, k: int = 10,
                    batch_size: int = 1024, exclude_train: bool = True,
                    blas_threads: int | None = DEFAULT_BLAS_THREADS,
                    exclude: sp.spmatrix | None = None) -> np.ndarray:
    """Top-k item indices (len(users), k) for *users*, scored from their train rows.

    *exclude* (same shape as *train*, e.g. ``InteractionData.negatives``) masks more cells.
    """
    train = sp.csr_matrix(train)
    exclude = None if exclude is None else sp.csr_matrix(exclude)
    out = np.full((len(users), k), -1, np.int64)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for lo in range(0, len(users), batch_size):
            rows = train[users[lo:lo + batch_size]]
            scores = np.array(model.score(rows), dtype=np.float32, copy=True)
            if exclude_train:  # seen items are not recommendations
                r = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
                scores[r, rows.indices] = -np.inf
            if exclude is not None:
                ex = exclude[users[lo:lo + batch_size]]
                scores[np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr)), ex.indices] = -np.inf
            out[lo:lo + len(rows.indptr) - 1] = top_k(scores, k)
    return out


def evaluate_top_k(topk: np.ndarray, test: sp.csr_matrix, train: sp.csr_matrix,
                   users: np.ndarray, item_features: np.ndarray | sp.spmatrix | None = None
                   ) -> dict[str, float]:
    """Mean accuracy and beyond-accuracy metrics of given lists (row i is ``users[i]``)."""
    k = topk.shape[1]
    per_user = M.ranking_metrics(topk, sp.csr_matrix(test)[users])
    pop = M.item_popularity(train)
    per_user[f"novelty@{k}"] = M.novelty(topk, pop)
    per_user[f"arp@{k}"] = M.popularity_bias(topk, pop)
    if item_features is not None:
        per_user[f"diversity@{k}"] = M.intra_list_diversity(topk, item_features)
    result = M.mean_metrics(per_user)
    result[f"coverage@{k}"] = M.catalogue_coverage(topk, train.shape[1])
    mean_pop = float(pop.mean()) if len(pop) else 0.0
    result[f"pop_lift@{k}"] = result[f"arp@{k}"] / mean_pop if mean_pop > 0 else float("nan")
    result["n_users"] = float(len(users))
    return result


def evaluate_model(model_factory: Factory, train: sp.csr_matrix, test: sp.csr_matrix,
                   k: int = 10, batch_size: int = 1024, exclude_train: bool = True, *,
                   item_features: np.ndarray | sp.spmatrix | None = None, items: Any = None,
                   blas_threads: int | None = DEFAULT_BLAS_THREADS,
                   exclude: sp.spmatrix | None = None,
                   timestamps: sp.spmatrix | None = None,
                   max_users: int | None = None) -> dict[str, float]:
    """Fit ``model_factory()`` on *train*, recommend k unseen items, score against *test*.

    Only users with at least one test item are evaluated. ``items`` (item records aligned
    with the columns) is passed to ``fit`` for content-aware families. The result holds
    ``precision@k, recall@k, ndcg@k, map@k, mrr@k, hit_rate@k, novelty@k, arp@k,
    pop_lift@k, coverage@k`` (+ ``diversity@k`` given item features), ``n_users``,
    ``fit_s`` and ``score_s``. *exclude* masks further cells (e.g. disliked items).
    *timestamps* (csr shaped like *train*: each cell's event time) is passed to models that
    use event times (``uses_timestamps``, e.g. session-aware families and the hybrid).
    *max_users* scores a fixed random sample (seed 0) of that many test users instead of all
    of them: the same sample for every model evaluated on the same split.
    """
    _same_shape(train, test)  # before a fit that may take minutes
    t0 = time.perf_counter()
    model = fit_model(model_factory(), train, items, timestamps)
    fit_s = time.perf_counter() - t0
    result = evaluate_fitted(model, train, test, k, batch_size, exclude_train, item_features=item_features,
                             blas_threads=blas_threads, exclude=exclude, max_users=max_users)
    result["fit_s"] = fit_s
    return result


def _same_shape(train: sp.spmatrix, test: sp.spmatrix) -> None:
    if train.shape != test.shape:
        raise ValueError(f"train {train.shape} and test {test.shape} differ in shape")


def fit_model(model: Any, train: sp.spmatrix, items: Any = None, timestamps: sp.spmatrix | None = None) -> Any:
    """Fit ``model`` on *train*, passing ``items`` and *timestamps* to the families that use them."""
    train = sp.csr_matrix(train)
    if timestamps is not None and model.uses_timestamps:
        return model.fit(train, items, timestamps=sp.csr_matrix(timestamps)) or model
    return (model.fit(train) if items is None else model.fit(train, items=items)) or model


def evaluate_fitted(model: Any, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10, batch_size: int = 1024,
                    exclude_train: bool = True, *, item_features: np.ndarray | sp.spmatrix | None = None,
                    blas_threads: int | None = DEFAULT_BLAS_THREADS, exclude: sp.spmatrix | None = None,
                    max_users: int | None = None) -> dict[str, float]:
    """:func:`evaluate_model` of a model already fitted on *train* (``score_s`` timed, no ``fit_s``)."""
    train, test = sp.csr_matrix(train), sp.csr_matrix(test)
    _same_shape(train, test)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
    t1 = time.perf_counter()
    topk = recommend_top_k(model, train, users, k, batch_size, exclude_train, blas_threads, exclude)
    result = evaluate_top_k(topk, test, train, users, item_features)
    result["score_s"] = time.perf_counter() - t1
    return result


def _with_seed(factory: Factory, seed: int) -> Callable[[], Any]:
    """Bind ``seed`` when the factory takes one, so runs differ by seed and repeat exactly."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory
    if "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return lambda: factory(seed=seed)
    return factory


def _cell_times(data: InteractionData | sp.spmatrix, train: sp.csr_matrix) -> sp.csr_matrix | None:
    """Each training cell's event time (csr shaped like *train*), when *data* has times."""
    if not isinstance(data, InteractionData) or data.timestamps is None:
        return None
    sub = data.subset(train)
    return sp.csr_matrix((sub.timestamps, sub.matrix.indices, sub.matrix.indptr), shape=sub.matrix.shape)


def evaluate_families(families: Mapping[str, Factory], data: InteractionData | sp.spmatrix,
                      protocol: Protocol = "random", seeds: Sequence[int] = (0, 1, 2),
                      k: int = 10, *, test_fraction: float | None = None,
                      item_features: np.ndarray | sp.spmatrix | None = None, items: Any = None,
                      progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One row per family: every metric averaged over *seeds* (plus ``ndcg@k_std``).

    Each seed draws its own split (shared by all families, so they are compared on the
    same cells) and is passed to factories that accept ``seed``. With ``InteractionData``
    that has timestamps, time-aware models get the training cells' event times.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> class Pop:
        ...     def fit(self, m): self.s = np.asarray(m.sum(0)).ravel(); return self
        ...     def score(self, rows): return np.tile(self.s, (rows.shape[0], 1))
        >>> m = sp.csr_matrix((np.arange(48).reshape(6, 8) % 3 == 0).astype(np.float32))
        >>> rows = evaluate_families({"pop": Pop}, m, seeds=[0, 1], k=2)
        >>> rows[0]["family"], rows[0]["protocol"], rows[0]["seeds"]
        ('pop', 'random', [0, 1])
    """
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in families}
    for seed in seeds:
        train, test = split(data, protocol, seed=seed, test_fraction=test_fraction)
        times = _cell_times(data, train)
        for name, factory in families.items():
            res = evaluate_model(_with_seed(factory, seed), train, test, k,
                                 item_features=item_features, items=items, timestamps=times)
            runs[name].append(res)
            if progress is not None:
                progress(f"{protocol} seed={seed} {name}: ndcg@{k}={res[f'ndcg@{k}']:.4f}")
    rows = []
    for name, results in runs.items():
        row: dict[str, Any] = {"family": name, "protocol": protocol, "k": k, "seeds": list(seeds)}
        for key in results[0]:
            row[key] = float(np.mean([r[key] for r in results]))
        row[f"ndcg@{k}_std"] = float(np.std([r[f"ndcg@{k}"] for r in results]))
        rows.append(row)
    return rows


@dataclass
class TuneResult:
    """Outcome of :func:`tune`: the best parameters and every trial's metrics."""

    best_params: dict[str, Any]
    best_score: float
    metric: str
    trials: list[tuple[dict[str, Any], dict[str, float]]] = field(default_factory=list)


def _grid(grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(grid, Mapping):
        names = list(grid)
        return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]
    return [dict(p) for p in grid]


def tune(factory_with_params: Factory, grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]],
         train: InteractionData | sp.spmatrix, k: int = 10, metric: str | None = None, *,
         fraction: float = 0.25, seed: int = 0, protocol: Protocol = "random",
         items: Any = None) -> TuneResult:
    """Pick the parameters that maximise *metric* on a validation split of *train*.

    *grid* is ``{name: [values]}`` (Cartesian product) or a list of parameter dicts. The
    test split is never seen: the caller refits ``factory_with_params(**best_params)`` on
    the full training matrix afterwards. Ties keep the first trial.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> class Const:
        ...     def __init__(self, bias): self.bias = bias
        ...     def fit(self, m): self.s = np.asarray(m.sum(0)).ravel() * self.bias; return self
        ...     def score(self, rows): return np.tile(self.s, (rows.shape[0], 1))
        >>> nested = np.arange(8)[None, :] <= np.arange(24)[:, None] % 8  # item 0 most popular
        >>> m = sp.csr_matrix(nested.astype(np.float32))
        >>> tune(Const, {"bias": [1.0, -1.0]}, m, k=2).best_params
        {'bias': 1.0}
    """
    metric = metric or f"ndcg@{k}"
    fit, val = validation_split(train, fraction, seed=seed, protocol=protocol)
    trials = []
    for params in _grid(grid):
        res = evaluate_model(lambda p=params: factory_with_params(**p), fit, val, k, items=items)
        trials.append((params, res))
    if not trials:
        raise ValueError("empty grid")
    best = max(range(len(trials)), key=lambda i: (trials[i][1][metric], -i))
    return TuneResult(trials[best][0], trials[best][1][metric], metric, trials)
