"""The impression log's reads and deletes over any SQL database, written once.

Tables (created by each backend's schema): ``impressions`` (one row per served list: items as
JSON, features as float32 bytes, the experiments as JSON), ``impression_features`` (each
distinct tuple of feature names once) and ``impression_exposures`` (one row per experiment a
list was served in, read by index). A backend supplies ``append``, its ``_names_id`` (how it
upserts a names row), ``_rows``, ``_write_transaction`` and its placeholder; queries here are
written with ``?`` and translated once per backend.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import msgspec
import numpy as np

from tastemaker.storage.protocols import ImpressionRecord

FIELDS = "recommendation_id, placement, user_id, ts, log_seq, items, features_id, features, experiments"
SELECT = f"SELECT {FIELDS} FROM impressions"
encode = msgspec.json.Encoder().encode
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_experiments = msgspec.json.Decoder(list[dict]).decode


def row_of(r: ImpressionRecord, features_id: int | None) -> tuple:
    """The ``impressions`` row of ``r`` in :data:`FIELDS` order (features as float32 bytes)."""
    blob = None
    if features_id is not None:
        blob = np.ascontiguousarray(r.features, dtype=np.float32).tobytes()
    return (r.recommendation_id, r.placement, r.user_id, float(r.ts), int(r.log_seq), encode(list(r.items)).decode(),
            features_id, blob, encode(r.experiments).decode() if r.experiments else None)


def exposures_of(r: ImpressionRecord) -> list[tuple]:
    """The ``impression_exposures`` rows of ``r``: one per experiment it was served in."""
    return [(r.recommendation_id, str(x["id"]), str(x["variant"]), float(r.ts)) for x in r.experiments]


class SqlImpressionLog:
    """Reads, counts and deletes of :class:`~tastemaker.storage.protocols.ImpressionLog`."""

    placeholder = "?"

    def __init__(self) -> None:
        self._name_ids: dict[tuple[str, ...], int] = {}
        self._names: dict[int, tuple[str, ...]] = {}

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        raise NotImplementedError

    def _write_transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _features_id(self, conn: Any, r: ImpressionRecord) -> int | None:
        """The names row id of ``r``'s features (None: it carries none)."""
        if r.features is None or not r.feature_names:
            return None
        names = tuple(r.feature_names)
        got = self._name_ids.get(names)
        if got is None:
            got = self._names_id(conn, ",".join(names))
            self._name_ids[names] = got
            self._names[got] = names
        return got

    def _names_id(self, conn: Any, text: str) -> int:
        raise NotImplementedError

    def _names_of(self, features_id: int | None) -> tuple[str, ...]:
        if features_id is None:
            return ()
        names = self._names.get(features_id)
        if names is None:
            rows = self._rows(self._sql("SELECT names FROM impression_features WHERE id = ?"), (features_id,))
            names = tuple(rows[0][0].split(",")) if rows and rows[0][0] else ()
            self._names[features_id] = names
        return names

    def _record(self, row: tuple) -> ImpressionRecord:
        rec, placement, user, ts, log_seq, items, fid, blob, experiments = row
        ids = _decode_list(items)
        names = self._names_of(fid)
        features = None
        if blob is not None and names:
            features = np.frombuffer(blob, dtype=np.float32).reshape(len(ids), len(names)).astype(np.float64)
        return ImpressionRecord(rec, placement, user, ts, ids, features, names, log_seq,
                                _decode_experiments(experiments) if experiments else [])

    def _records(self, sql: str, args: tuple) -> list[ImpressionRecord]:
        return [self._record(r) for r in self._rows(self._sql(sql), args)]

    def read(self, placement: str | None = None, since_ts: float = -math.inf,
             until_ts: float = math.inf) -> list[ImpressionRecord]:
        where, args = ["ts >= ?", "ts < ?"], [float(since_ts), float(until_ts)]
        if placement is not None:
            where.append("placement = ?")
            args.append(placement)
        return self._records(f"{SELECT} WHERE {' AND '.join(where)} ORDER BY ts, recommendation_id", tuple(args))

    def read_experiment(self, experiment_id: str, since_ts: float = -math.inf,
                        until_ts: float = math.inf) -> list[ImpressionRecord]:
        fields = ", ".join(f"i.{f.strip()}" for f in FIELDS.split(","))
        sql = (f"SELECT {fields} FROM impression_exposures x JOIN impressions i ON i.recommendation_id = x.recommendation_id"
               " WHERE x.experiment_id = ? AND x.ts >= ? AND x.ts < ? ORDER BY x.ts, x.recommendation_id")
        return self._records(sql, (experiment_id, float(since_ts), float(until_ts)))

    def read_user(self, user_id: str, after: tuple[float, str] | None = None, limit: int = 1000) -> list[ImpressionRecord]:
        """A page of the impressions served to ``user_id`` (a scan: no index by user, as reads
        by user are rare: export)."""
        ts, rec = after if after is not None else (-math.inf, "")
        sql = f"{SELECT} WHERE user_id = ? AND (ts, recommendation_id) > (?, ?) ORDER BY ts, recommendation_id LIMIT ?"
        return self._records(sql, (user_id, float(ts), rec, limit))

    def count(self, placement: str | None = None) -> int:
        if placement is None:
            return int(self._rows("SELECT COUNT(*) FROM impressions", ())[0][0])
        return int(self._rows(self._sql("SELECT COUNT(*) FROM impressions WHERE placement = ?"), (placement,))[0][0])

    def erase_user(self, user_id: str) -> int:
        """Drop every impression served to ``user_id``; returns how many."""
        with self._write_transaction() as conn:
            conn.execute(self._sql("DELETE FROM impression_exposures WHERE recommendation_id IN "
                                   "(SELECT recommendation_id FROM impressions WHERE user_id = ?)"), (user_id,))
            return conn.execute(self._sql("DELETE FROM impressions WHERE user_id = ?"), (user_id,)).rowcount

    def delete_before(self, ts: float) -> int:
        with self._write_transaction() as conn:
            conn.execute(self._sql("DELETE FROM impression_exposures WHERE ts < ?"), (float(ts),))
            return conn.execute(self._sql("DELETE FROM impressions WHERE ts < ?"), (float(ts),)).rowcount
