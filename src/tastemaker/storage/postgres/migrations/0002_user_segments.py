"""Rule segments (``/v1/segments``): their table and the ``segments`` change counter."""

from yoyo import step

__depends__ = {"0001_initial"}

steps = [
    step("""
CREATE TABLE user_segments (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    version INTEGER NOT NULL
);
INSERT INTO counters (name) VALUES ('segments');
""", "DROP TABLE user_segments; DELETE FROM counters WHERE name = 'segments';"),
]
