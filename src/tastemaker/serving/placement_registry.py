"""The placements in force: the built-ins overlaid by a YAML file, reloaded when it changes,
so edits apply without a restart; an invalid file is refused whole (the previous placements
keep serving). What a placement is lives in :mod:`tastemaker.serving.placements`, how a
document becomes one in :mod:`tastemaker.serving.placement_config`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placement_config import load_placements, placement_from_json
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, Placement

log = logging.getLogger(__name__)


@dataclass
class PlacementRegistry:
    """The placements in force: the built-ins, overlaid by a YAML file when ``path`` is set.

    ``reload_if_changed()`` is cheap (a ``stat`` at most every ``check_every_s``) and is
    meant to run before each request; an invalid file is logged and ignored, the previous
    table keeps serving (``last_error`` holds the refusal). ``put``/``delete`` change one
    placement and, with a file, write the whole file atomically, so other workers pick the
    change up by their own reload.
    """

    placements: dict[str, Placement] = field(default_factory=lambda: dict(DEFAULT_PLACEMENTS))
    path: Path | None = None
    check_every_s: float = 1.0
    last_error: ValidationFailed | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._documents: dict[str, Any] = {}
        if self.path is not None:
            self.path = Path(self.path)
            self.reload(strict=True)

    def get(self, name: str) -> Placement | None:
        return self.placements.get(name)

    def names(self) -> list[str]:
        return sorted(self.placements)

    # -- the file -------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()  # type: ignore[union-attr]
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self, strict: bool = False) -> bool:
        """Read the file now; True when the table changed. ``strict`` raises on a bad file."""
        if self.path is None:
            return False
        with self._lock:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                loaded = {} if stamp is None else load_placements(self.path.read_text(), str(self.path))
            except ValidationFailed as exc:
                self.last_error = exc
                log.error("placement file %s refused, keeping the previous placements: %s", self.path, exc)
                if strict:
                    raise
                return False
            self.last_error = None
            self._documents = {name: p.config for name, p in loaded.items()}
            self.placements = {**DEFAULT_PLACEMENTS, **loaded}
            return True

    def reload_if_changed(self) -> bool:
        if self.path is None:
            return False
        now = time.monotonic()
        if now - self._checked < self.check_every_s:
            return False
        self._checked = now
        return self.reload()

    # -- admin ----------------------------------------------------------------------------
    def config(self, name: str) -> Any:
        """The configuration document of a placement (None for a built-in one)."""
        p = self.placements.get(name)
        return None if p is None else p.config

    def put(self, name: str, body: Any) -> Placement:
        """Validate and install one placement (raises ``ValidationFailed``); persisted to
        the file when there is one."""
        placement = placement_from_json(name, body)
        with self._lock:
            self.placements = {**self.placements, name: placement}
            self._documents = {**self._documents, name: body}
            self._write()
        return placement

    def delete(self, name: str) -> bool:
        """Remove a configured placement (a built-in one comes back to its default)."""
        with self._lock:
            if name not in self._documents:
                return False
            docs = {k: v for k, v in self._documents.items() if k != name}
            self._documents = docs
            table = dict(self.placements)
            table.pop(name, None)
            if name in DEFAULT_PLACEMENTS:
                table[name] = DEFAULT_PLACEMENTS[name]
            self.placements = table
            self._write()
            return True

    def _write(self) -> None:
        if self.path is None:
            return
        import yaml

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".placements-")
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump({"placements": self._documents}, fh, sort_keys=False, allow_unicode=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._stamp = self._file_stamp()
