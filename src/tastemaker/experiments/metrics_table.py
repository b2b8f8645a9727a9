"""The per-user metric table that analysis reads: one row per user (the randomization unit).

Columnar numpy arrays, all of the same length ``n``:

* ``user_id`` — unique ids (any dtype, usually ``str``);
* ``variant`` — the variant each user was assigned (``str``);
* ``exposure_ts`` — the user's first exposure, seconds since the epoch (``float``); it orders
  users for the cumulative-effect curve and the sequential looks;
* ``metrics`` — metric name -> per-user ``float`` values measured after exposure: ``ctr``,
  ``clicks``, ``conversion`` (0/1), ``revenue``, ``items_per_session`` ...;
* ``covariates`` — ``pre_<metric>`` -> the same metric over a pre-period before the
  experiment, used by CUPED for ``<metric>`` (optional);
* ``segments`` — segment column -> a per-user label (``str``), e.g. ``{"device": [...]}`` for
  the per-segment breakdown (optional).

Values must be finite: a user with no defined value for a metric should not be in the table
(or carry 0 where 0 is the truth, like revenue).

Example:
    >>> import numpy as np
    >>> t = UserMetrics(user_id=np.array(["u1", "u2", "u3"]), variant=np.array(["control", "b", "b"]),
    ...                 exposure_ts=np.array([1.0, 2.0, 3.0]),
    ...                 metrics={"conversion": np.array([0.0, 1.0, 1.0])})
    >>> t.variants(), t.values("conversion", "b").tolist()
    (['b', 'control'], [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COVARIATE_PREFIX = "pre_"


@dataclass
class UserMetrics:
    """One row per user, columnar: ``metrics[name][i]`` is user ``user_id[i]``'s value."""

    user_id: np.ndarray
    variant: np.ndarray
    exposure_ts: np.ndarray
    metrics: dict[str, np.ndarray]
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    segments: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user_id = np.asarray(self.user_id)
        self.variant = np.asarray(self.variant).astype(str)
        self.exposure_ts = np.asarray(self.exposure_ts, dtype=np.float64)
        self.metrics = {k: np.asarray(v, dtype=np.float64) for k, v in self.metrics.items()}
        self.covariates = {k: np.asarray(v, dtype=np.float64) for k, v in self.covariates.items()}
        self.segments = {k: np.asarray(v).astype(str) for k, v in self.segments.items()}
        n = len(self.user_id)
        columns = {"user_id": self.user_id, "variant": self.variant, "exposure_ts": self.exposure_ts,
                   **{f"metrics.{k}": v for k, v in self.metrics.items()},
                   **{f"covariates.{k}": v for k, v in self.covariates.items()},
                   **{f"segments.{k}": v for k, v in self.segments.items()}}
        for name, col in columns.items():
            if col.ndim != 1 or len(col) != n:
                raise ValueError(f"column {name} has shape {col.shape}; every column needs {n} rows")
        for name, col in columns.items():
            if col.dtype.kind == "f" and not np.isfinite(col).all():
                raise ValueError(f"column {name} has NaN or infinite values at rows "
                                 f"{np.flatnonzero(~np.isfinite(col))[:5].tolist()}")
        if len(np.unique(self.user_id)) != n:
            raise ValueError("user_id must be unique: users are the randomization unit, one row each")

    def __len__(self) -> int:
        return len(self.user_id)

    def variants(self) -> list[str]:
        return sorted(np.unique(self.variant).tolist())

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.variant, return_counts=True)
        return {str(k): int(c) for k, c in zip(names, counts)}

    def values(self, metric: str, variant: str | None = None) -> np.ndarray:
        if metric not in self.metrics:
            raise KeyError(f"no metric {metric!r} in the table (has {sorted(self.metrics)})")
        col = self.metrics[metric]
        return col if variant is None else col[self.variant == variant]

    def covariate(self, metric: str) -> np.ndarray | None:
        """The pre-period covariate of ``metric`` (``covariates['pre_<metric>']``), if any."""
        return self.covariates.get(COVARIATE_PREFIX + metric)

    def subset(self, mask: np.ndarray) -> UserMetrics:
        """The rows where ``mask`` is true (a boolean array or an index array)."""
        return UserMetrics(self.user_id[mask], self.variant[mask], self.exposure_ts[mask],
                           {k: v[mask] for k, v in self.metrics.items()},
                           {k: v[mask] for k, v in self.covariates.items()},
                           {k: v[mask] for k, v in self.segments.items()})

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], metrics: Iterable[str],
                     segments: Iterable[str] = ()) -> UserMetrics:
        """Build from dict rows ``{"user_id", "variant", "exposure_ts", <metric>..., pre_<metric>...,
        <segment>...}``; a missing ``pre_<metric>`` drops that covariate for everybody."""
        rows = list(records)
        metrics, segments = list(metrics), list(segments)
        pre = [COVARIATE_PREFIX + m for m in metrics if rows and all(COVARIATE_PREFIX + m in r for r in rows)]
        try:
            return cls(user_id=np.array([r["user_id"] for r in rows]),
                       variant=np.array([str(r["variant"]) for r in rows]),
                       exposure_ts=np.array([float(r["exposure_ts"]) for r in rows]),
                       metrics={m: np.array([float(r[m]) for r in rows]) for m in metrics},
                       covariates={c: np.array([float(r[c]) for r in rows]) for c in pre},
                       segments={s: np.array([str(r[s]) for r in rows]) for s in segments})
        except KeyError as e:
            raise ValueError(f"a record lacks the column {e.args[0]!r}") from None
