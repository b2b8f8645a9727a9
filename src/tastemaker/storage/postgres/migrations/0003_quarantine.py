"""Quarantined events (storage.postgres.quarantine): one row per flagged event, by log position."""

from yoyo import step

__depends__ = {"0001_initial"}

steps = [
    step("""
CREATE TABLE quarantine (
    seq BIGINT PRIMARY KEY,
    user_id TEXT NOT NULL,
    item_id TEXT,
    type TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    flagged_at DOUBLE PRECISION NOT NULL,
    decided_at DOUBLE PRECISION
);
CREATE INDEX quarantine_user ON quarantine (user_id);
CREATE INDEX quarantine_status ON quarantine (status, seq);
""", "DROP TABLE quarantine"),
]
