"""The placements in force: the built-ins overlaid by a YAML document, reloaded when it
changes, so edits apply without a restart; an invalid document is refused whole (the previous
placements keep serving). The document is an artifact (``placements.yaml`` in the deployment's
artifact store, or a file the operator names): every process sees the same one and notices a
change by its stamp. What a placement is lives in :mod:`tastemaker.serving.placements`, how a
document becomes one in :mod:`tastemaker.serving.placement_config`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placement_config import load_placements, placement_from_json
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, Placement
from tastemaker.storage.protocols import ArtifactStore

log = logging.getLogger(__name__)


@dataclass
class PlacementRegistry:
    """The placements in force: the built-ins, overlaid by the YAML document ``key`` of
    ``artifacts`` when there is a store (none: the built-ins only, nothing persisted).

    ``reload_if_changed()`` is cheap (the artifact's stamp, at most every ``check_every_s``)
    and is meant to run before each request; an invalid document is logged and ignored, the
    previous table keeps serving (``last_error`` holds the refusal). ``put``/``delete`` change
    one placement and store the whole document atomically, so other workers pick the change
    up by their own reload.
    """

    artifacts: ArtifactStore | None = None
    key: str = "placements.yaml"
    check_every_s: float = 1.0
    placements: dict[str, Placement] = field(default_factory=lambda: dict(DEFAULT_PLACEMENTS))
    last_error: ValidationFailed | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._checked = 0.0
        self._documents: dict[str, Any] = {}
        if self.artifacts is not None:
            self.reload(strict=True)

    def get(self, name: str) -> Placement | None:
        return self.placements.get(name)

    def names(self) -> list[str]:
        return sorted(self.placements)

    # -- the document ---------------------------------------------------------------------
    def reload(self, strict: bool = False) -> bool:
        """Read the document now; True when the table changed. ``strict`` raises on a bad one."""
        if self.artifacts is None:
            return False
        with self._lock:
            stamp = self.artifacts.stamp(self.key)
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            data = self.artifacts.get(self.key) if stamp is not None else None
            try:
                loaded = {} if data is None else load_placements(data.decode(), self.key)
            except ValidationFailed as exc:
                self.last_error = exc
                log.error("placement document %s refused, keeping the previous placements: %s", self.key, exc)
                if strict:
                    raise
                return False
            self.last_error = None
            self._documents = {name: p.config for name, p in loaded.items()}
            self.placements = {**DEFAULT_PLACEMENTS, **loaded}
            return True

    def reload_if_changed(self) -> bool:
        if self.artifacts is None:
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
        """Validate and install one placement (raises ``ValidationFailed``); persisted in the
        document when there is a store."""
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
        if self.artifacts is None:
            return
        import yaml

        text = yaml.safe_dump({"placements": self._documents}, sort_keys=False, allow_unicode=True)
        self.artifacts.put(self.key, text.encode())
        self._stamp = self.artifacts.stamp(self.key)
