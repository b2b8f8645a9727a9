"""The impression log in PostgreSQL: one row per served list, as the SQLite log keeps it.

Features are float32 bytes; each distinct tuple of feature names is stored once in
``impression_features``. The experiments a list was served in are a JSON column and one row
each in ``impression_exposures``, read by index (``read_experiment``).
"""

from __future__ import annotations

import math
from typing import Sequence

import msgspec
import numpy as np

from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import ImpressionRecord

_FIELDS = "recommendation_id, placement, user_id, ts, log_seq, items, features_id, features, experiments"
_INSERT = (f"INSERT INTO impressions ({_FIELDS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
           "ON CONFLICT (recommendation_id) DO NOTHING RETURNING recommendation_id")
_INSERT_EXPOSURE = ("INSERT INTO impression_exposures (recommendation_id, experiment_id, variant, ts) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")
_SELECT = f"SELECT {_FIELDS} FROM impressions"
_encode = msgspec.json.Encoder().encode
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_experiments = msgspec.json.Decoder(list[dict]).decode


def _float(ts: float) -> float:
    """PostgreSQL's double precision holds infinities; the bounds of open reads are those."""
    return float(ts)


class PostgresImpressionLog:
    """:class:`~tastemaker.storage.protocols.ImpressionLog` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase):
        self.db = db
        self._name_ids: dict[tuple[str, ...], int] = {}
        self._names: dict[int, tuple[str, ...]] = {}

    def _names_id(self, conn, names: tuple[str, ...]) -> int | None:
        if not names:
            return None
        got = self._name_ids.get(names)
        if got is None:
            text = ",".join(names)
            # DO UPDATE (a no-op) so RETURNING gives the id of an existing row too
            got = conn.execute("INSERT INTO impression_features (names) VALUES (%s) ON CONFLICT (names) "
                               "DO UPDATE SET names = excluded.names RETURNING id", (text,)).fetchone()[0]
            self._name_ids[names] = got
            self._names[got] = names
        return got

    def _names_of(self, features_id: int | None) -> tuple[str, ...]:
        if features_id is None:
            return ()
        names = self._names.get(features_id)
        if names is None:
            row = self.db.read_one("SELECT names FROM impression_features WHERE id = %s", (features_id,))
            names = tuple(row[0].split(",")) if row and row[0] else ()
            self._names[features_id] = names
        return names

    def append(self, impressions: Sequence[ImpressionRecord]) -> int:
        if not impressions:
            return 0
        new = 0
        with self.db.transaction() as conn, conn.cursor() as cur:
            for r in impressions:
                blob = fid = None
                if r.features is not None and r.feature_names:
                    fid = self._names_id(conn, tuple(r.feature_names))
                    blob = np.ascontiguousarray(r.features, dtype=np.float32).tobytes()
                cur.execute(_INSERT, (r.recommendation_id, r.placement, r.user_id, float(r.ts), int(r.log_seq),
                                      _encode(list(r.items)).decode(), fid, blob,
                                      _encode(r.experiments).decode() if r.experiments else None))
                if cur.fetchone() is None:
                    continue  # a repeated id: it must not gain the repeat's exposures either
                new += 1
                if r.experiments:
                    cur.executemany(_INSERT_EXPOSURE, [(r.recommendation_id, str(x["id"]), str(x["variant"]), float(r.ts))
                                                       for x in r.experiments])
        return new

    def _record(self, row: tuple) -> ImpressionRecord:
        rec, placement, user, ts, log_seq, items, fid, blob, experiments = row
        ids = _decode_list(items)
        names = self._names_of(fid)
        features = None
        if blob is not None and names:
            features = np.frombuffer(blob, dtype=np.float32).reshape(len(ids), len(names)).astype(np.float64)
        return ImpressionRecord(rec, placement, user, ts, ids, features, names, log_seq,
                                _decode_experiments(experiments) if experiments else [])

    def read(self, placement: str | None = None, since_ts: float = -math.inf,
             until_ts: float = math.inf) -> list[ImpressionRecord]:
        where, args = ["ts >= %s", "ts < %s"], [_float(since_ts), _float(until_ts)]
        if placement is not None:
            where.append("placement = %s")
            args.append(placement)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY ts, recommendation_id"
        return [self._record(r) for r in self.db.read_all(sql, tuple(args))]

    def read_experiment(self, experiment_id: str, since_ts: float = -math.inf,
                        until_ts: float = math.inf) -> list[ImpressionRecord]:
        fields = ", ".join(f"i.{f.strip()}" for f in _FIELDS.split(","))
        sql = (f"SELECT {fields} FROM impression_exposures x JOIN impressions i ON i.recommendation_id = x.recommendation_id"
               " WHERE x.experiment_id = %s AND x.ts >= %s AND x.ts < %s ORDER BY x.ts, x.recommendation_id")
        return [self._record(r) for r in self.db.read_all(sql, (experiment_id, _float(since_ts), _float(until_ts)))]

    def read_user(self, user_id: str, after: tuple[float, str] | None = None, limit: int = 1000) -> list[ImpressionRecord]:
        ts, rec = after if after is not None else (-math.inf, "")
        sql = (f"{_SELECT} WHERE user_id = %s AND (ts, recommendation_id) > (%s, %s) "
               "ORDER BY ts, recommendation_id LIMIT %s")
        return [self._record(r) for r in self.db.read_all(sql, (user_id, _float(ts), rec, limit))]

    def count(self, placement: str | None = None) -> int:
        if placement is None:
            return self.db.read_one("SELECT COUNT(*) FROM impressions")[0]
        return self.db.read_one("SELECT COUNT(*) FROM impressions WHERE placement = %s", (placement,))[0]

    def erase_user(self, user_id: str) -> int:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM impression_exposures WHERE recommendation_id IN "
                         "(SELECT recommendation_id FROM impressions WHERE user_id = %s)", (user_id,))
            return conn.execute("DELETE FROM impressions WHERE user_id = %s", (user_id,)).rowcount

    def delete_before(self, ts: float) -> int:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM impression_exposures WHERE ts < %s", (_float(ts),))
            return conn.execute("DELETE FROM impressions WHERE ts < %s", (_float(ts),)).rowcount
