"""The distributed deployment's first schema: every store but the event log (NATS JetStream).

Applied by yoyo (storage.postgres.database.migrate) into the schema the URL names. A later
change is a new file (0002_...), never an edit of this one: yoyo records what it applied.
"""

from yoyo import step

__depends__: set = set()

steps = [
    step("""
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL DEFAULT 0);
INSERT INTO counters (name) VALUES ('items'), ('users'), ('keys'), ('experiments'), ('models'), ('audit');

CREATE TABLE items (id TEXT PRIMARY KEY, body BYTEA, version BIGINT NOT NULL);
CREATE INDEX items_version ON items (version);
CREATE TABLE users (id TEXT PRIMARY KEY, body BYTEA, version BIGINT NOT NULL);
CREATE INDEX users_version ON users (version);

CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    kind TEXT NOT NULL DEFAULT 'key',
    user_id TEXT,
    placements TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE event_schemas (type TEXT NOT NULL, version INTEGER NOT NULL, body BYTEA NOT NULL,
                            PRIMARY KEY (type, version));

CREATE TABLE model_versions (
    version INTEGER PRIMARY KEY,
    family TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    data_from_seq BIGINT NOT NULL,
    data_to_seq BIGINT NOT NULL,
    n_events BIGINT NOT NULL,
    metrics TEXT NOT NULL,
    artifact TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'candidate',
    promoted_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX model_versions_one_serving ON model_versions (status) WHERE status = 'serving';

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    address TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE erased_users (digest TEXT PRIMARY KEY, erased_at DOUBLE PRECISION NOT NULL);

CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX experiments_status ON experiments (status);

CREATE TABLE impression_features (id SERIAL PRIMARY KEY, names TEXT NOT NULL UNIQUE);
CREATE TABLE impressions (
    recommendation_id TEXT PRIMARY KEY,
    placement TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    log_seq BIGINT NOT NULL,
    items TEXT NOT NULL,
    features_id INTEGER REFERENCES impression_features (id),
    features BYTEA,
    experiments TEXT
);
CREATE INDEX impressions_placement_ts ON impressions (placement, ts);
CREATE INDEX impressions_ts ON impressions (ts);
CREATE INDEX impressions_user ON impressions (user_id, ts, recommendation_id);
CREATE TABLE impression_exposures (
    recommendation_id TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (recommendation_id, experiment_id)
);
CREATE INDEX impression_exposures_experiment ON impression_exposures (experiment_id, ts);

-- Artifacts: a row of metadata and the bytes in chunks (a value of any size, never one huge
-- bytea); a write replaces all chunks and the stamp in one transaction.
CREATE TABLE artifacts (key TEXT PRIMARY KEY, size BIGINT NOT NULL, stamp BIGINT NOT NULL);
CREATE SEQUENCE artifact_stamps;
CREATE TABLE artifact_chunks (
    key TEXT NOT NULL REFERENCES artifacts (key) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (key, n)
);
"""),
]
