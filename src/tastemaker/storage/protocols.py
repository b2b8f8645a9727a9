"""One protocol per storage concern. Callers depend on these, never on a backend.

The embedded backend (SQLite in WAL mode) implements all of them; scaled-out backends
(PostgreSQL, Redis) implement the same protocols and pass the same contract tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol, Sequence

from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchema


@dataclass
class AppendResult:
    """What an append did: the new events with their log positions, and how many were resent."""

    accepted: list[tuple[int, Event]] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: float
    revoked: bool = False


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


class KeyStore(Protocol):
    def create(self, name: str, scopes: frozenset[str], secret_hash: str, key_id: str) -> ApiKeyRecord: ...

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        """The key and its stored hash, or None."""

    def list(self) -> list[ApiKeyRecord]: ...

    def revoke(self, key_id: str) -> bool: ...


class SchemaStore(Protocol):
    def save(self, schema: EventSchema) -> None: ...

    def load_all(self) -> list[EventSchema]: ...
