"""The impression log in SQLite: one small row per served list (the learned ranker's data).

Rows are written in batches by :class:`tastemaker.serving.impressions.ImpressionLogger`
(one transaction per batch, off the request path). Features are float32 bytes; each
distinct tuple of feature names is stored once in ``impression_features``. The experiments
a list was served in are a JSON column (``experiments``, added in place to an older file) and
one row each in ``impression_exposures`` (experiment, recommendation id, variant, time), so
an experiment's impressions are read by index (``read_experiment``), never by a scan.
"""

from __future__ import annotations

import math
from typing import Sequence

import msgspec
import numpy as np

from tastemaker.storage.protocols import ImpressionRecord
from tastemaker.storage.sqlite.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS impression_features (
    id INTEGER PRIMARY KEY,
    names TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS impressions (
    recommendation_id TEXT PRIMARY KEY,
    placement TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts REAL NOT NULL,
    log_seq INTEGER NOT NULL,
    items TEXT NOT NULL,
    features_id INTEGER,
    features BLOB
);
CREATE INDEX IF NOT EXISTS impressions_placement_ts ON impressions(placement, ts);
CREATE INDEX IF NOT EXISTS impressions_ts ON impressions(ts);
CREATE TABLE IF NOT EXISTS impression_exposures (
    recommendation_id TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (recommendation_id, experiment_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS impression_exposures_experiment ON impression_exposures(experiment_id, ts);
"""
# Columns added after the first release: added in place to an older file (NULL for old rows).
_ADDED = (("experiments", "TEXT"),)
_INSERT = ("INSERT OR IGNORE INTO impressions (recommendation_id, placement, user_id, ts, log_seq, items, features_id,"
           " features, experiments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_EXPOSURE = "INSERT OR IGNORE INTO impression_exposures (recommendation_id, experiment_id, variant, ts) VALUES (?, ?, ?, ?)"
_FIELDS = "recommendation_id, placement, user_id, ts, log_seq, items, features_id, features, experiments"
_SELECT = f"SELECT {_FIELDS} FROM impressions"
_encode = msgspec.json.Encoder().encode
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_experiments = msgspec.json.Decoder(list[dict]).decode


class SQLiteImpressionLog:
    """:class:`~tastemaker.storage.protocols.ImpressionLog` on SQLite.

    >>> import tempfile, pathlib
    >>> log = SQLiteImpressionLog(Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"))
    >>> log.append([ImpressionRecord("r1", "home", "u", 1.0, ["a", "b"], np.ones((2, 1)), ("blend",))])
    1
    >>> [(r.items, r.features.tolist(), r.feature_names) for r in log.read("home")]
    [(['a', 'b'], [[1.0], [1.0]], ('blend',))]
    """

    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)
        self._add_columns()
        self._name_ids: dict[tuple[str, ...], int] = {}
        self._names: dict[int, tuple[str, ...]] = {}

    def _add_columns(self) -> None:
        conn = self.db.conn()
        have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('impressions')")}
        if all(name in have for name, _ in _ADDED):
            return
        with self.db.transaction() as conn:
            have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('impressions')")}  # another process?
            for name, decl in _ADDED:
                if name not in have:
                    conn.execute(f"ALTER TABLE impressions ADD COLUMN {name} {decl}")

    def _names_id(self, conn, names: tuple[str, ...]) -> int | None:
        if not names:
            return None
        got = self._name_ids.get(names)
        if got is None:
            text = ",".join(names)
            conn.execute("INSERT OR IGNORE INTO impression_features (names) VALUES (?)", (text,))
            got = conn.execute("SELECT id FROM impression_features WHERE names = ?", (text,)).fetchone()[0]
            self._name_ids[names] = got
            self._names[got] = names
        return got

    def _names_of(self, features_id: int | None) -> tuple[str, ...]:
        if features_id is None:
            return ()
        names = self._names.get(features_id)
        if names is None:
            row = self.db.conn().execute("SELECT names FROM impression_features WHERE id = ?", (features_id,)).fetchone()
            names = tuple(row[0].split(",")) if row and row[0] else ()
            self._names[features_id] = names
        return names

    def append(self, impressions: Sequence[ImpressionRecord]) -> int:
        if not impressions:
            return 0
        with self.db.transaction() as conn:
            rows, exposed = [], []
            for r in impressions:
                blob = None
                fid = None
                if r.features is not None and r.feature_names:
                    fid = self._names_id(conn, tuple(r.feature_names))
                    blob = np.ascontiguousarray(r.features, dtype=np.float32).tobytes()
                row = (r.recommendation_id, r.placement, r.user_id, float(r.ts), int(r.log_seq),
                       _encode(list(r.items)).decode(), fid, blob, _encode(r.experiments).decode() if r.experiments else None)
                (exposed if r.experiments else rows).append((row, r))
            before = conn.total_changes  # name inserts above are not impressions
            conn.executemany(_INSERT, [row for row, _ in rows])
            new = conn.total_changes - before
            for row, r in exposed:  # one at a time: a repeated id must not gain the repeat's exposures
                if conn.execute(_INSERT, row).rowcount:
                    new += 1
                    conn.executemany(_INSERT_EXPOSURE, [(r.recommendation_id, str(x["id"]), str(x["variant"]), float(r.ts))
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
        where, args = ["ts >= ?", "ts < ?"], [since_ts, until_ts]
        if placement is not None:
            where.append("placement = ?")
            args.append(placement)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY ts, recommendation_id"
        return [self._record(r) for r in self.db.conn().execute(sql, args)]

    def read_experiment(self, experiment_id: str, since_ts: float = -math.inf,
                        until_ts: float = math.inf) -> list[ImpressionRecord]:
        fields = ", ".join(f"i.{f.strip()}" for f in _FIELDS.split(","))
        sql = (f"SELECT {fields} FROM impression_exposures x JOIN impressions i ON i.recommendation_id = x.recommendation_id"
               " WHERE x.experiment_id = ? AND x.ts >= ? AND x.ts < ? ORDER BY x.ts, x.recommendation_id")
        return [self._record(r) for r in self.db.conn().execute(sql, (experiment_id, since_ts, until_ts))]

    def read_user(self, user_id: str, after: tuple[float, str] | None = None, limit: int = 1000) -> list[ImpressionRecord]:
        """A page of the impressions served to ``user_id`` (a scan: no index by user, as reads
        by user are rare: export)."""
        ts, rec = after if after is not None else (-math.inf, "")
        sql = f"{_SELECT} WHERE user_id = ? AND (ts, recommendation_id) > (?, ?) ORDER BY ts, recommendation_id LIMIT ?"
        return [self._record(r) for r in self.db.conn().execute(sql, (user_id, ts, rec, limit))]

    def count(self, placement: str | None = None) -> int:
        if placement is None:
            return self.db.conn().execute("SELECT COUNT(*) FROM impressions").fetchone()[0]
        return self.db.conn().execute("SELECT COUNT(*) FROM impressions WHERE placement = ?", (placement,)).fetchone()[0]

    def erase_user(self, user_id: str) -> int:
        """Drop every impression served to ``user_id``; returns how many."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM impression_exposures WHERE recommendation_id IN "
                         "(SELECT recommendation_id FROM impressions WHERE user_id = ?)", (user_id,))
            return conn.execute("DELETE FROM impressions WHERE user_id = ?", (user_id,)).rowcount

    def delete_before(self, ts: float) -> int:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM impression_exposures WHERE ts < ?", (ts,))
            return conn.execute("DELETE FROM impressions WHERE ts < ?", (ts,)).rowcount
