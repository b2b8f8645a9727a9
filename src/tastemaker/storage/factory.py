"""Build the stores for the configured backend; the only place that knows backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tastemaker.config import Settings
from tastemaker.storage.backup import Backup
from tastemaker.storage.protocols import QuarantineStore
from tastemaker.storage.protocols import (ArtifactStore, AuditLog, ErasedUsers, EventLog, ExperimentStore, ImpressionLog,
                                          ItemCatalog, KeyStore, Lease, ModelStore, RateLimiter, SchemaStore,
                                          SegmentStore, UserStore)


@dataclass
class Stores:
    events: EventLog
    items: ItemCatalog
    users: UserStore
    keys: KeyStore
    schemas: SchemaStore
    models: ModelStore
    artifacts: ArtifactStore  # model pickles, rankers, placements, snapshots
    close: Callable[[], None]
    impressions: ImpressionLog | None = None  # served lists, for training the learned ranker
    audit: AuditLog | None = None  # admin actions, hash-chained (every backend provides one)
    erased: ErasedUsers | None = None  # tombstones of erased users (keyed digests)
    reclaim: Callable[[], None] = lambda: None  # make deleted rows leave the backend's files
    experiments: ExperimentStore | None = None  # A/B/n tests and canaries (definitions, status)
    segments: SegmentStore | None = None  # rule segments defined through /v1/segments
    quarantine: QuarantineStore | None = None  # flagged events (bots, shilling) and operators' decisions
    # user ids rewritten in place in the event log, impressions and key bindings (privacy.rekey)
    rename_user_ids: Callable[[Callable[[str], str]], dict[str, int]] | None = None
    # follow(after_seq, deliver) -> stop: a log shared by workers on several machines pushes every
    # row appended after after_seq to deliver, in log order (ingest.follower); None: each read
    # asks the log whether it changed (SQLite: one PRAGMA)
    follow: Callable[[int, Callable[[list[tuple]], None]], Callable[[], None]] | None = None

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EMBEDDED, DISTRIBUTED = "embedded", "distributed"
_DEPLOYMENTS = {"embedded": EMBEDDED, "sqlite": EMBEDDED, "distributed": DISTRIBUTED}


def deployment(settings: Settings) -> str:
    """``embedded`` or ``distributed`` (``TASTEMAKER_BACKEND``; ``sqlite`` names the embedded one).

    >>> deployment(Settings(backend="sqlite"))
    'embedded'
    """
    try:
        return _DEPLOYMENTS[settings.backend]
    except KeyError:
        raise ValueError(f"unknown backend {settings.backend!r}; available: embedded (alias sqlite), "
                         "distributed") from None


def open_artifacts(settings: Settings) -> ArtifactStore:
    """The deployment's artifact store alone, for checks before a start (distributed: it opens
    its own small pool; close it with ``.close()``)."""
    if deployment(settings) == DISTRIBUTED:
        from tastemaker.storage.postgres.artifacts import PostgresArtifactStore
        from tastemaker.storage.postgres.database import PostgresDatabase

        return PostgresArtifactStore(PostgresDatabase(settings.postgres_url, max_size=2), owns_db=True)
    from tastemaker.storage.local.artifacts import LocalArtifactStore

    return LocalArtifactStore(settings.data_dir)


def open_rate_limiter(settings: Settings) -> RateLimiter:
    """The rate-limit counters: in this process for the embedded deployment (each worker
    counts its own); in Redis (``TASTEMAKER_REDIS_URL``) for the distributed one, so every
    worker of the deployment spends the same buckets, taken a batch per round trip
    (:mod:`tastemaker.storage.redis.batched`: never overspent, small limits exact)."""
    if deployment(settings) == DISTRIBUTED:
        from tastemaker.storage.redis.batched import BatchedRateLimiter
        from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

        return BatchedRateLimiter(RedisRateLimiter(settings.redis_url, prefix=f"{settings.redis_prefix}rl:"))
    from tastemaker.storage.local.rate_limiter import LocalRateLimiter

    return LocalRateLimiter()


def placement_document(settings: Settings, artifacts: ArtifactStore) -> tuple[ArtifactStore, str]:
    """Where the placement document lives: a file the operator named (``--placements FILE``,
    ``TASTEMAKER_PLACEMENTS``), read and written in place; else ``placements.yaml`` in the
    deployment's ``artifacts``."""
    if settings.placements_file is None:
        return artifacts, "placements.yaml"
    from tastemaker.storage.local.artifacts import LocalArtifactStore

    path = settings.placements_file.resolve()
    return LocalArtifactStore(path.parent), path.name


def open_stores(settings: Settings) -> Stores:
    """Open the stores of the configured deployment (``embedded``, the default, or ``distributed``)."""
    if deployment(settings) == DISTRIBUTED:
        return _open_distributed(settings)
    return _open_embedded(settings)


def _open_embedded(settings: Settings) -> Stores:
    from tastemaker.storage.sqlite import Database
    from tastemaker.storage.sqlite.audit import SQLiteAuditLog
    from tastemaker.storage.sqlite.documents import SQLiteItemCatalog, SQLiteUserStore
    from tastemaker.storage.sqlite.erasure import SQLiteErasedUsers, reclaim
    from tastemaker.storage.sqlite.events import SQLiteEventLog
    from tastemaker.storage.sqlite.experiments import SQLiteExperimentStore
    from tastemaker.storage.sqlite.user_segments import SQLiteSegmentStore
    from tastemaker.storage.sqlite.impressions import SQLiteImpressionLog
    from tastemaker.storage.sqlite.keys import SQLiteKeyStore
    from tastemaker.storage.sqlite.models import SQLiteModelStore
    from tastemaker.storage.sqlite.rekey import rename_user_ids
    from tastemaker.storage.sqlite.quarantine import SQLiteQuarantineStore
    from tastemaker.storage.sqlite.schemas import SQLiteSchemaStore

    db = Database(settings.db_path, durable=settings.durable)
    users = SQLiteUserStore(db)
    if settings.pii_traits:  # sealed before any backend sees them (storage.pii)
        from tastemaker.storage.pii import EncryptedUserStore, PiiCipher, load_keys

        users = EncryptedUserStore(users, PiiCipher(load_keys(settings.data_dir)), settings.pii_traits)
    return Stores(
        events=SQLiteEventLog(db),
        items=SQLiteItemCatalog(db),
        users=users,
        keys=SQLiteKeyStore(db),
        schemas=SQLiteSchemaStore(db),
        models=SQLiteModelStore(db),
        artifacts=open_artifacts(settings),
        close=db.close,
        impressions=SQLiteImpressionLog(db),
        audit=SQLiteAuditLog(db),
        erased=SQLiteErasedUsers(db),
        reclaim=lambda: reclaim(db),
        experiments=SQLiteExperimentStore(db),
        segments=SQLiteSegmentStore(db),
        quarantine=SQLiteQuarantineStore(db),
        rename_user_ids=lambda rename: rename_user_ids(db, rename),
    )


def open_lease(settings: Settings, name: str, owner: str, ttl_s: float = 30.0) -> Lease:
    """A handle on the deployment-wide lease ``name`` (who trains, who applies retention),
    ``owner`` naming this node to a refused contender: embedded, a ``flock`` in the data dir
    (workers on this machine); distributed, a Redis lease (``ttl_s``: how long a dead
    holder keeps it), or a PostgreSQL advisory lock when ``TASTEMAKER_REDIS_URL`` is empty."""
    if deployment(settings) == EMBEDDED:
        from tastemaker.storage.local.lease import LocalLease

        return LocalLease(settings.data_dir, name, owner)
    if settings.redis_url:
        from tastemaker.storage.postgres.database import split_schema
        from tastemaker.storage.redis.lease import RedisLease

        # one deployment per Redis prefix and PostgreSQL schema: both are in the key
        prefix = f"{settings.redis_prefix}lease:{split_schema(settings.postgres_url)[1]}:"
        return RedisLease(settings.redis_url, name, ttl_s=ttl_s, prefix=prefix, owner=owner)
    from tastemaker.storage.postgres.lease import PostgresLease

    return PostgresLease(settings.postgres_url, name, owner)


def open_backup(settings: Settings) -> Backup:
    """The backup of ``settings.backend``'s deployment: the embedded one copies the data dir
    (SQLite online backup plus its files); the distributed deployment's (a PostgreSQL dump and a
    JetStream snapshot, storage.distributed_backup) behind the same :class:`~tastemaker.storage.backup.Backup`."""
    if deployment(settings) == DISTRIBUTED:
        from tastemaker.storage.distributed_backup import DistributedBackup

        return DistributedBackup(settings)
    from tastemaker.storage.sqlite.backup import EmbeddedBackup

    return EmbeddedBackup(settings)


def _open_distributed_events(settings: Settings) -> tuple[EventLog, Callable[[], None], Callable[[], None]]:
    """The distributed deployment's event log, its close and its reclaim: the JetStream stream
    ``TASTEMAKER_NATS_STREAM`` on ``TASTEMAKER_NATS_URL`` (created on first open), subjects
    ``TASTEMAKER_NATS_SUBJECT_PREFIX.<partition>``. Every worker appends to and follows the same
    stream, so stream sequences are the deployment's log positions. JetStream overwrites deleted
    messages itself: nothing to reclaim here."""
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the worker's own files (keys) live there still
    log = NatsEventLog(settings.nats_url, StreamSpec(name=settings.nats_stream,
                                                     subject_prefix=settings.nats_subject_prefix))
    return log, log.close, lambda: None


def _open_distributed(settings: Settings) -> Stores:
    """Every store but the event log on one PostgreSQL pool (``TASTEMAKER_POSTGRES_URL``)."""
    from tastemaker.storage.postgres.artifacts import PostgresArtifactStore
    from tastemaker.storage.postgres.audit import PostgresAuditLog
    from tastemaker.storage.postgres.database import PostgresDatabase
    from tastemaker.storage.postgres.documents import PostgresItemCatalog, PostgresUserStore
    from tastemaker.storage.postgres.erasure import PostgresErasedUsers, reclaim
    from tastemaker.storage.postgres.experiments import PostgresExperimentStore
    from tastemaker.storage.postgres.user_segments import PostgresSegmentStore
    from tastemaker.storage.postgres.impressions import PostgresImpressionLog
    from tastemaker.storage.postgres.keys import PostgresKeyStore
    from tastemaker.storage.postgres.models import PostgresModelStore
    from tastemaker.storage.postgres.quarantine import PostgresQuarantineStore
    from tastemaker.storage.postgres.schemas import PostgresSchemaStore

    db = PostgresDatabase(settings.postgres_url)
    try:
        events, close_events, reclaim_events = _open_distributed_events(settings)
    except BaseException:
        db.close()
        raise
    users = PostgresUserStore(db)
    if settings.pii_traits:  # sealed before any backend sees them (storage.pii)
        from tastemaker.storage.pii import EncryptedUserStore, PiiCipher, load_keys

        users = EncryptedUserStore(users, PiiCipher(load_keys(settings.data_dir)), settings.pii_traits)

    def close() -> None:
        try:
            close_events()
        finally:
            db.close()

    def reclaim_all() -> None:
        reclaim_events()
        reclaim(db)

    return Stores(
        events=events,
        items=PostgresItemCatalog(db),
        users=users,
        keys=PostgresKeyStore(db),
        schemas=PostgresSchemaStore(db),
        models=PostgresModelStore(db),
        artifacts=PostgresArtifactStore(db),
        close=close,
        impressions=PostgresImpressionLog(db),
        audit=PostgresAuditLog(db),
        erased=PostgresErasedUsers(db),
        reclaim=reclaim_all,
        experiments=PostgresExperimentStore(db),
        segments=PostgresSegmentStore(db),
        quarantine=PostgresQuarantineStore(db),
        rename_user_ids=None,  # privacy.rekey on PostgreSQL: not yet (see docs/architecture.md)
        follow=getattr(events, "follow", None),
    )
