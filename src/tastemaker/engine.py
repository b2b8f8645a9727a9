"""The composition root: stores, online state, ingest and serving for one data dir."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from tastemaker.config import Settings
from tastemaker.features.state import StateConfig
from tastemaker.features.toplists import TopListCache
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.ingest.service import IngestService
from tastemaker.models.popularity import PopularityModel
from tastemaker.schema.registry import EventSchema, EventSchemaRegistry
from tastemaker.serving.placements import PlacementRegistry
from tastemaker.serving.learned import LearnedModel
from tastemaker.serving.recommender import Recommender
from tastemaker.training.registry import ModelRegistry
from tastemaker.storage.factory import Stores, open_stores

log = logging.getLogger(__name__)
MODEL_CHECK_S = 1.0  # how often a server asks the registry which version serves


class Engine:
    """Everything one server process needs, opened from :class:`Settings`.

    >>> import tempfile
    >>> engine = Engine(Settings(data_dir=Path(tempfile.mkdtemp())))
    >>> engine.stores.events.count()
    0
    >>> engine.close()
    """

    def __init__(self, settings: Settings, progress: Callable[[int, int], None] | None = None, toplist_ttl: float = 1.0):
        self.settings = settings
        self.stores: Stores = open_stores(settings)
        self.registry = EventSchemaRegistry(self.stores.schemas.load_all())
        config = StateConfig(session_timeout_s=settings.session_timeout_s)
        self.processor = StreamProcessor.open(
            self.stores, settings.snapshot_path, config, progress=progress, snapshot_every=settings.snapshot_every_events
        )
        self.toplists = TopListCache(ttl=toplist_ttl)
        self.recommender = Recommender(
            self.processor.state, PopularityModel(self.toplists), self.toplists, PlacementRegistry(), settings.require_catalog
        )
        self.ingest = IngestService(self.processor, self.registry)
        self.models = ModelRegistry(self.stores.models, settings.models_dir)
        self._serving_version: int | None = None
        self._next_model_check = 0.0
        self.refresh_model(force=True)

    @property
    def serving_version(self) -> int | None:
        """The registry version being served (None: the built-in popularity model)."""
        return self._serving_version

    @property
    def state(self):
        return self.processor.state

    def catch_up(self) -> None:
        """Bring online state up to date with writes by other processes (cheap when none)."""
        if self.processor.catch_up():
            self.toplists.clear()
        if time.monotonic() >= self._next_model_check:
            self.refresh_model()

    def refresh_model(self, force: bool = False) -> bool:
        """Swap in the registry's serving version if it changed (promotion, rollback, other worker).

        The swap is one reference assignment between requests, so no request ever sees a
        mix of two versions and none fails during it.
        """
        self._next_model_check = time.monotonic() + MODEL_CHECK_S
        serving = self.models.serving()
        version = serving.version if serving else None
        if version == self._serving_version and not force:
            return False
        if serving is None:
            self.recommender.model = PopularityModel(self.toplists)
        else:
            try:
                artifact = self.models.load(serving.version)
            except (OSError, KeyError) as exc:
                log.error("cannot load model v%s, keeping the current one: %s", serving.version, exc)
                return False
            self.recommender.model = LearnedModel(artifact, serving.version, self.state.index)
        self._serving_version = version
        log.info("serving model %s", self.recommender.model.name + "-" + str(self.recommender.model.version))
        return True

    def register_schema(self, schema: EventSchema) -> EventSchema:
        self.registry.register(schema)  # raises SchemaConflict before anything is stored
        self.stores.schemas.save(schema)
        return schema

    def close(self, snapshot: bool = True) -> None:
        self.ingest.close()
        if snapshot:
            self.processor.maybe_snapshot(force=True)
        self.stores.close()


def open_engine(data_dir: Path | str, **kwargs) -> Engine:
    return Engine(Settings(data_dir=Path(data_dir)), **kwargs)
