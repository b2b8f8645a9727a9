"""storage.sqlite.impressions: small rows, float32 features, feature names stored once."""

from __future__ import annotations

import numpy as np

from tastemaker.storage.protocols import ImpressionRecord
from tastemaker.storage.sqlite.database import Database
from tastemaker.storage.sqlite.impressions import SQLiteImpressionLog


def test_feature_names_are_interned_and_features_are_float32(tmp_path):
    db = Database(tmp_path / "t.db", durable=False)
    try:
        log = SQLiteImpressionLog(db)
        X = np.array([[0.1, 2.0], [np.nan, 1e6]])
        log.append([ImpressionRecord(f"r{i}", "home", "u", float(i), ["a", "b"], X, ("blend", "margin")) for i in range(3)])
        log.append([ImpressionRecord("r9", "home", "u", 9.0, ["a", "b"], X, ("blend", "margin"))])
        assert db.conn().execute("SELECT COUNT(*) FROM impression_features").fetchone()[0] == 1
        blob = db.conn().execute("SELECT features FROM impressions WHERE recommendation_id = 'r0'").fetchone()[0]
        assert len(blob) == 4 * X.size
        back = SQLiteImpressionLog(db).read()[0].features  # a fresh store reads the names back
        assert back.dtype == np.float64 and np.isnan(back[1, 0])
        assert np.allclose(back[~np.isnan(back)], X.astype(np.float32)[~np.isnan(X)])
    finally:
        db.close()


def test_an_older_file_gains_the_experiments_column_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "t.db"
    old = sqlite3.connect(path)  # the impressions table as the first release wrote it, with a row
    old.executescript("""
        CREATE TABLE impressions (recommendation_id TEXT PRIMARY KEY, placement TEXT NOT NULL, user_id TEXT NOT NULL,
            ts REAL NOT NULL, log_seq INTEGER NOT NULL, items TEXT NOT NULL, features_id INTEGER, features BLOB);
        INSERT INTO impressions VALUES ('old', 'home', 'u', 1.0, 3, '["a"]', NULL, NULL);""")
    old.commit()
    old.close()
    db = Database(path, durable=False)
    try:
        log = SQLiteImpressionLog(db)
        SQLiteImpressionLog(db)  # a second opener finds the column there
        log.append([ImpressionRecord("new", "home", "u", 2.0, ["b"], experiments=[{"id": "e", "variant": "a", "propensity": 0.5}])])
        got = {r.recommendation_id: r for r in log.read()}
        assert got["old"].experiments == [] and got["old"].items == ["a"] and got["old"].log_seq == 3
        assert got["new"].experiments == [{"id": "e", "variant": "a", "propensity": 0.5}]
        assert [r.recommendation_id for r in log.read_experiment("e")] == ["new"]
    finally:
        db.close()
