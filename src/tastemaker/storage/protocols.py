"""One protocol per storage concern. Callers depend on these, never on a backend.

The embedded backend (SQLite in WAL mode) implements all of them; scaled-out backends
(PostgreSQL, Redis) implement the same protocols and pass the same contract tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchema
# the stores of operators' decisions live beside: re-exported, callers import them from here
from tastemaker.storage.decision_protocols import (QUARANTINE_STATUSES, ExperimentConflict,  # noqa: F401
                                                   ExperimentRecord, ExperimentStore, QuarantinedUser,
                                                   QuarantineRecord, QuarantineStore, SegmentConflict,
                                                   SegmentRecord, SegmentStore)


class StorageFull(OSError):
    """A write failed for lack of space: a full disk, a quota, a database at its size limit.

    Backends raise it (as ``StorageFull(errno.ENOSPC, detail)``) instead of their own error,
    so callers can tell "no space" from a bug without knowing the backend. It is an OSError
    with errno ENOSPC, so one ``except OSError`` that checks the errno covers it and a file
    write's own ENOSPC alike.
    """


@dataclass
class AppendResult:
    """What an append did: the new events with their log positions, and how many were resent."""

    accepted: list[tuple[int, Event]] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key or an OAuth client (``kind``: ``key`` | ``client``). ``scopes`` holds the
    role names it grants (api.auth.ROLES); ``placements``, when set, are the only placements it
    may ask recommendations for; ``user_id``, when set, binds a browser key to that one user."""

    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: float
    revoked: bool = False
    kind: str = "key"
    user_id: str | None = None
    placements: frozenset[str] | None = None


@dataclass
class ImpressionRecord:
    """One served list, as the learned ranker's training data needs it: the items in display
    order and their feature rows as computed when serving (float32, ``len(items)`` rows x
    ``len(feature_names)``; None when the placement logs no features). ``log_seq`` is the
    event-log position the answer was computed at: outcomes come after it. ``experiments``:
    the experiments the request was in, as the response carries them
    (``[{"id", "variant", "propensity"}]``, experiments.assignment)."""

    recommendation_id: str
    placement: str
    user_id: str
    ts: float
    items: list[str]
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    log_seq: int = 0
    experiments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ModelVersion:
    """One trained model in the registry: what was fitted on which data, how it scored, where
    its artifact lives, and whether it serves (``candidate``, ``serving`` or ``retired``)."""

    version: int
    family: str
    params: dict[str, Any]
    created_at: float
    data_from_seq: int
    data_to_seq: int
    n_events: int
    metrics: dict[str, Any]
    artifact: str
    status: str = "candidate"
    promoted_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"}


class EventLog(Protocol):
    """The durable, ordered, deduplicated log of everything users did."""

    def append(self, events: Sequence[Event]) -> AppendResult:
        """Durably append events not seen before (by ``id``); return them with their positions."""

    def append_columns(self, batches: Iterable[dict[str, list]]) -> tuple[int, int]:
        """Bulk-append column batches (import) atomically; returns (inserted, duplicates).

        Ids already logged (by either method) or repeated in the batches are duplicates.
        The iterator may be advanced on another thread (in order, one step at a time, so
        producing the next batch overlaps writing this one): it must not rely on
        thread-local state such as the store's own connection.
        """

    def read_rows_since(self, seq: int, limit: int = 100_000) -> list[tuple]:
        """Raw rows ``(seq, type, user_id, session_id, item_id, item_ids_json, value, ts, context_json, query)``."""

    def read_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, Event]]:
        """Events with position > ``seq`` in log order."""

    def last_seq(self) -> int: ...

    def count(self) -> int: ...

    def changed(self) -> bool:
        """Cheap check: has anyone written since the last call? (False negatives never.)"""

    def events_for_user(self, user_id: str, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        """A page of ``user_id``'s events (every field) with position > ``after_seq``, in log
        order, wherever they are kept (API rows, bulk-import segments), at most ``limit``;
        fewer than ``limit`` means the log was read to its end. Page on with the last
        position (export, data portability)."""

    def user_rows(self, user_id: str) -> list[tuple]:
        """Every event of ``user_id`` as raw rows (like :meth:`read_rows_since`), in log order."""

    def erase_user(self, user_id: str) -> int:
        """Delete every event of ``user_id`` wherever it is kept (rows, bulk-import segments,
        the idempotency index), in one transaction; returns how many. Seqs are never reused."""

    def expire(self, cutoffs: dict[str, float], default: float | None, dry_run: bool = False) -> dict[str, int]:
        """Delete every event whose timestamp is below its type's cut-off (``cutoffs``; other
        types: ``default``, None keeps them) wherever it is kept, in one transaction; returns
        ``{type: how many}``. ``dry_run`` counts without deleting (retention)."""


class ImpressionLog(Protocol):
    """What was shown to whom, for training rankers on outcomes (append-mostly, small rows)."""

    def append(self, impressions: Sequence[ImpressionRecord]) -> int:
        """Store a batch in one transaction (a repeated ``recommendation_id`` is ignored);
        returns how many were new."""

    def read(self, placement: str | None = None, since_ts: float = -math.inf,
             until_ts: float = math.inf) -> list[ImpressionRecord]:
        """Impressions (of ``placement``, or all) with ``since_ts <= ts < until_ts``, by time."""

    def read_user(self, user_id: str, after: tuple[float, str] | None = None, limit: int = 1000) -> list[ImpressionRecord]:
        """Up to ``limit`` impressions served to ``user_id``, by (``ts``, ``recommendation_id``),
        after the ``after`` pair (export; page on with the last record's pair)."""

    def count(self, placement: str | None = None) -> int: ...

    def read_experiment(self, experiment_id: str, since_ts: float = -math.inf,
                        until_ts: float = math.inf) -> list[ImpressionRecord]:
        """The impressions served in experiment ``experiment_id`` (any of its variants), with
        ``since_ts <= ts < until_ts``, by (``ts``, ``recommendation_id``): attribution's input."""

    def delete_before(self, ts: float) -> int:
        """Retention: drop impressions older than ``ts``; returns how many."""

    def erase_user(self, user_id: str) -> int:
        """Drop every impression served to ``user_id``; returns how many."""


class ItemCatalog(Protocol):
    def upsert(self, items: Sequence[Item]) -> int:
        """Insert or replace items atomically; returns the new catalog version."""

    def get(self, item_id: str) -> Item | None: ...

    def delete(self, item_id: str) -> bool: ...

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, Item | None]]]:
        """(current version, [(id, item or None when deleted)]) changed after ``version``."""

    def count(self) -> int: ...

    def iter_all(self) -> Iterator[Item]: ...


class UserStore(Protocol):
    def upsert(self, users: Sequence[User]) -> int: ...

    def get(self, user_id: str) -> User | None: ...

    def delete(self, user_id: str) -> bool: ...

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, User | None]]]: ...

    def count(self) -> int: ...

    def erase_user(self, user_id: str) -> int:
        """Remove the user's row entirely (no tombstone naming them); 1 when there was one."""

    def change_token(self) -> bytes:
        """A cheap value that every user write (upsert, delete), in any process, changes: the
        consent index checks it on every recommendation request and reads changes only then."""


class KeyStore(Protocol):
    def create(self, name: str, scopes: frozenset[str], secret_hash: str, key_id: str, *, kind: str = "key",
               user_id: str | None = None, placements: frozenset[str] | None = None) -> ApiKeyRecord: ...

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        """The key and its stored hash, or None."""

    def list(self) -> list[ApiKeyRecord]: ...

    def revoke(self, key_id: str) -> bool: ...

    def erase_user(self, user_id: str) -> int:
        """Remove the keys bound to ``user_id`` (browser keys); returns how many."""

    def change_token(self) -> bytes:
        """A cheap value that every key write (create, revoke), in any process, changes:
        a verifier that caches keys checks it on every request so a revocation holds at once."""


class ErasedUsers(Protocol):
    """Tombstones of erased users: keyed digests of their ids (privacy.tombstones), never the
    ids, so later ingest and imports can refuse them without the data dir naming them."""

    def add(self, digest: str, ts: float | None = None) -> bool:
        """Record a digest (idempotent); True when it is new."""

    def contains(self, digest: str) -> bool: ...

    def all(self) -> set[str]: ...

    def count(self) -> int: ...


class SchemaStore(Protocol):
    def save(self, schema: EventSchema) -> None: ...

    def load_all(self) -> list[EventSchema]: ...


class ModelStore(Protocol):
    """Versions of trained models; exactly one (or none) has status ``serving``."""

    def add(self, record: ModelVersion) -> ModelVersion:
        """Record a new version, numbered in the same transaction that stores it (two trainers
        that finish at once get two numbers); ``record.version`` is ignored. Returns the record
        with its number."""

    def get(self, version: int) -> ModelVersion | None: ...

    def list(self) -> list[ModelVersion]:
        """Every version, oldest first."""

    def serving(self) -> ModelVersion | None: ...

    def promote(self, version: int) -> ModelVersion:
        """Make ``version`` the serving one (the previous serving version is retired); KeyError
        when there is no such version."""

    def previous_serving(self) -> ModelVersion | None:
        """The version that served before the current one (by promotion time)."""


class ArtifactStore(Protocol):
    """Named blobs every process of a deployment shares: model artifacts, learned rankers,
    the placement file, online-state snapshots. Keys are ``/``-separated relative names
    (``models/sha256-….pkl``); a write is atomic (a reader sees the old bytes or the new,
    never a mix) and durable before it returns."""

    def put(self, key: str, data: bytes) -> None: ...

    def put_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        """Store what ``write`` writes to the file it is given (large values, no copy in
        memory); if ``write`` raises, nothing is stored and the old value stays."""

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None."""

    def open(self, key: str) -> BinaryIO | None:
        """A readable binary stream of ``key`` (the caller closes it), or None."""

    def delete(self, key: str) -> bool:
        """Remove ``key``; False when it was absent."""

    def list(self, prefix: str = "") -> list[str]:
        """The keys that start with ``prefix``, sorted."""

    def stamp(self, key: str) -> str | None:
        """A cheap token that changes whenever ``key`` is replaced or removed (None when
        absent): a reader polls it to notice a change made by another process."""


class RateLimiter(Protocol):
    """Token buckets, one per (limit, key): ``scope`` names the limit (``read``, ``public``,
    ...), ``key`` whose bucket it is (a key id, a client address). A bucket starts full
    (``burst`` tokens) and refills at ``rate`` tokens a second. In process for the embedded
    deployment (each worker counts its own); a shared backend (Redis) when scaled out."""

    def acquire(self, scope: str, key: str, rate: float, burst: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is there (nothing taken)."""


class Lease(Protocol):
    """One holder at a time of a named job (who trains) across a deployment; freed when its holder dies."""

    def acquire(self) -> bool:
        """Take it if free (or renew it if ours); True when this handle holds it now."""

    def renew(self) -> bool:
        """Extend it by its ttl; False when it is no longer ours (check before publishing)."""

    def release(self) -> bool:
        """Give it back; False when it was not ours."""

    def holder(self) -> str | None:
        """Who holds it now, by the owner name it was taken with (None: free)."""


@dataclass(frozen=True)
class AuditRecord:
    """One admin action: who (``actor``, a key id or ``cli``), what (``action``, ``target``,
    a small ``summary``), when (``ts``), from where (``address``). ``hash`` is
    sha256(``prev_hash`` + the record's canonical JSON) (storage.audit_chain)."""

    seq: int
    ts: float
    actor: str
    action: str
    target: str
    summary: dict[str, Any]
    address: str
    prev_hash: str
    hash: str


class AuditLog(Protocol):
    """The append-only, hash-chained trail of admin actions (keys, placements, models,
    event schemas, consent). Records are never changed or removed; ``seq`` counts from 1."""

    def append(self, actor: str, action: str, target: str, summary: dict[str, Any], address: str,
               ts: float | None = None) -> AuditRecord:
        """Chain a new record to the last one, in one transaction (appenders in several
        processes chain in turn); ``ts`` defaults to now."""

    def read(self, cursor: int | None = None, limit: int = 100, action: str | None = None,
             target: str | None = None, descending: bool = True) -> list[AuditRecord]:
        """Up to ``limit`` records after ``cursor`` (a ``seq``: below it when ``descending``,
        above it otherwise), matching ``action`` (exact, or a prefix ending in ``.``) and ``target``."""

    def iter_all(self) -> Iterator[AuditRecord]:
        """Every record, oldest first (for verification)."""

    def count(self) -> int: ...
