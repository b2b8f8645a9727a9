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
