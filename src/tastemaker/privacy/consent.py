"""Per-purpose consent: the policy (what an absent purpose means) and the in-memory index
every request reads.

A user document carries ``consent``: purpose -> granted. Three purposes are enforced
(:data:`PERSONALIZATION`, :data:`TRAINING`, :data:`ANALYTICS`); any other key (``marketing``,
...) is stored, audited and exported but gates nothing in the engine.

The default is opt-out: a purpose the document does not name, and a user with no document,
is allowed. With ``TASTEMAKER_CONSENT_REQUIRED=1`` (``Settings.consent_required``) purposes
must be granted explicitly: absent means refused, so a user nobody wrote a document for
gets nothing personalised, is not trained on and is not logged.

:class:`ConsentIndex` keeps, per enforced purpose, the ids whose document decides it
against the default (opt-out: the ids that refused; required: the ids that granted), so a
recommendation request asks a Python set, never the store. It follows the store's writes by
its change token (a shared memory read per request) and reads only the changed documents.
"""

from __future__ import annotations

import threading
from typing import Iterable, Mapping

from tastemaker.storage.protocols import UserStore

PERSONALIZATION = "personalization"
TRAINING = "training"
ANALYTICS = "analytics"
PURPOSES: tuple[str, ...] = (PERSONALIZATION, TRAINING, ANALYTICS)


def allows(consent: Mapping[str, bool] | None, purpose: str, required: bool = False) -> bool:
    """Whether a user with this ``consent`` document allows ``purpose``.

    >>> allows({}, "training"), allows({}, "training", required=True)
    (True, False)
    >>> allows({"personalization": False}, "personalization"), allows({"training": True}, "training", True)
    (False, True)
    """
    value = (consent or {}).get(purpose)
    return (not required) if value is None else bool(value)


class ConsentIndex:
    """Which users allow which enforced purpose, in memory, kept in step with a :class:`UserStore`.

    ``allows(user_id, purpose)`` is two set look-ups after :meth:`refresh`, which costs a
    memory read of the store's change token when no user document changed anywhere.
    """

    def __init__(self, store: UserStore, required: bool = False):
        self.store = store
        self.required = required
        # purpose -> ids whose document decides against the default (see the module doc)
        self._exceptions: dict[str, set[str]] = {p: set() for p in PURPOSES}
        self._version = 0
        self._token: bytes | None = None
        self._lock = threading.Lock()  # the event loop and executor threads both refresh
        self.refresh()

    def refresh(self) -> int:
        """Apply user documents written since the last call (by any process); returns how many."""
        token = self.store.change_token()
        if token == self._token:
            return 0
        with self._lock:
            token = self.store.change_token()  # read before the changes: a later write moves it again
            if token == self._token:
                return 0
            version, changes = self.store.changes_since(self._version)
            for user_id, user in changes:
                self._set(user_id, user.consent if user is not None else None)
            self._version, self._token = version, token
            return len(changes)

    def forget(self, user_id: str) -> None:
        """Drop ``user_id`` from memory: an erasure removes the user's row, which
        :meth:`refresh` (following changes) never sees go."""
        with self._lock:
            self._set(user_id, None)

    def _set(self, user_id: str, consent: Mapping[str, bool] | None) -> None:
        for purpose, ids in self._exceptions.items():
            value = (consent or {}).get(purpose)
            if value is not None and bool(value) == self.required:
                ids.add(user_id)  # decides against the default
            else:
                ids.discard(user_id)

    def allows(self, user_id: str, purpose: str) -> bool:
        """Whether ``user_id`` allows ``purpose`` as of the last refresh (call it first)."""
        return (user_id in self._exceptions[purpose]) == self.required

    def withheld(self, purpose: str, user_ids: Iterable[str]) -> set[str]:
        """The ids among ``user_ids`` that do not allow ``purpose``."""
        return {u for u in user_ids if not self.allows(u, purpose)}

    def exceptions(self, purpose: str) -> frozenset[str]:
        """The ids whose documents decide ``purpose`` against the default (opt-out: refused it;
        required: granted it)."""
        return frozenset(self._exceptions[purpose])
