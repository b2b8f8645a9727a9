"""Interned names (event types, categories) as small integer codes, for compact per-user records."""

from __future__ import annotations

import threading
from typing import Iterable

from tastemaker.features.weights import EVENT_WEIGHTS


class Codes:
    """Names <-> codes ``0..n-1`` for this process; codes are never reused.

    Snapshots store the names, so a process that interned them in another order maps the
    codes back (:mod:`tastemaker.features.user_snapshot`).

    >>> codes = Codes(["view"])
    >>> codes.code("click"), codes.code("view"), codes.names
    (1, 0, ['view', 'click'])
    """

    def __init__(self, names: Iterable[str] = (), limit: int = 2**31 - 1):
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.limit = limit
        self._lock = threading.Lock()  # two threads interning one new name must agree on its code
        for name in names:
            self.code(name)

    def code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            with self._lock:
                code = self.codes.get(name)
                if code is None:
                    if len(self.names) >= self.limit:
                        raise ValueError(f"more than {self.limit} distinct names: cannot intern {name!r}")
                    code = len(self.names)
                    self.names.append(name)  # before the mapping: a reader never sees a code past names
                    self.codes[name] = code
        return code


# The built-in types first, so their codes are the same in every process.
EVENT_TYPES = Codes(EVENT_WEIGHTS, limit=2**16)
CATEGORIES = Codes()
