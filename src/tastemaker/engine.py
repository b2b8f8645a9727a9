"""The composition root: stores, online state, ingest and serving for one data dir."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from tastemaker.config import Settings
from tastemaker.features.refold import ensure_definitions, refold
from tastemaker.features.registry import FeatureRegistry
from tastemaker.features.state import StateConfig
from tastemaker.features.toplists import TopListCache
from tastemaker.features.guard import Guard
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.ingest.quarantine import QuarantineAdmin, restore_guard
from tastemaker.ingest.service import IngestService
from tastemaker.models.popularity import PopularityModel
from tastemaker.privacy.consent import ANALYTICS, PERSONALIZATION, ConsentIndex
from tastemaker.privacy.erasure import Eraser
from tastemaker.privacy.pseudonyms import Pseudonyms
from tastemaker.privacy.retention import Retainer
from tastemaker.privacy.tombstones import Tombstones, load_key
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.registry import EventSchema, EventSchemaRegistry
from tastemaker.experiments.bandit_registry import ArtifactPosteriors, BanditRegistry
from tastemaker.serving.bandits import BanditServing
from tastemaker.serving.experiment_admin import ExperimentAdmin
from tastemaker.serving.experiment_config import read_document, seed
from tastemaker.serving.feature_config import write_features, read_features
from tastemaker.serving.experiments import MAX_POOLED_VERSIONS, ExperimentRouter
from tastemaker.serving.fields import attach_fields
from tastemaker.serving.impressions import ImpressionLogger
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.rankers import RankerSet
from tastemaker.serving.next_best_action import NbaServing
from tastemaker.serving.segments import SegmentBook
from tastemaker.serving.learned import LearnedModel
from tastemaker.serving.recommender import Recommender
from tastemaker.serving.request import RecommendationRequest
from tastemaker.training.leases import NodeLeases, node_name
from tastemaker.training.model_registry import ModelRegistry
from tastemaker.storage.factory import Stores, open_lease, open_stores, placement_document

log = logging.getLogger(__name__)
MODEL_CHECK_S = 1.0  # how often a server asks the registry which version serves


class UnknownItem(ValidationFailed):
    pass


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
        try:  # an invalid placement or experiments document refuses the start (ValidationFailed naming lines)
            document_store, key = placement_document(settings, self.stores.artifacts)
            placements = PlacementRegistry(document_store, key)
            declared = read_document(document_store)  # experiments.yaml beside the placement document
            self.features = FeatureRegistry(read_features(document_store))  # and features.yaml
            self._feature_document = document_store
        except BaseException:
            self.stores.close()
            raise
        self.event_schemas = EventSchemaRegistry(self.stores.schemas.load_all(), rating_scale=settings.rating_scale)
        config = StateConfig(session_timeout_s=settings.session_timeout_s, features=self.features.definitions)
        self.processor = StreamProcessor.open(
            self.stores, settings.snapshot_key, config, progress=progress, snapshot_every=settings.snapshot_every_events
        )
        # a snapshot folded other feature definitions (features.yaml changed while down): refold
        ensure_definitions(self.processor.state, self.stores.events.read_rows_since, self.features.definitions)
        self.processor.state.covisitation.row_ttl_s = settings.covisitation_row_ttl_s
        if settings.bot_detection:  # bots and shilling quarantined on the write path (features.guard)
            self.processor.guard = Guard()
            restore_guard(self.processor.guard, self.processor)
        self.quarantine = QuarantineAdmin(self.processor)
        self.toplists = TopListCache(ttl=toplist_ttl)
        self.recommender = Recommender(
            self.processor.state, PopularityModel(self.toplists), self.toplists, placements, settings.require_catalog,
            rankers=RankerSet(self.stores.artifacts),
            impressions=ImpressionLogger(self.stores.impressions, retention_s=settings.impression_retention_days * 86_400.0)
            if self.stores.impressions is not None else None,
        )
        self.tombstones = Tombstones(self.stores.erased, load_key(settings.data_dir))
        # user ids as keyed HMACs from the API's edge on (privacy.pseudonyms); None: ids as sent
        self.pseudonyms = Pseudonyms.open(settings.data_dir) if settings.pseudonymize else None
        erased_raw = self.pseudonyms.erased_filter(self.tombstones.erased) if self.pseudonyms else self.tombstones.erased
        self.ingest = IngestService(self.processor, self.event_schemas, settings.input_limits, erased=erased_raw,
                                    pseudonymize=self.pseudonyms)
        # bandit placements: posteriors kept in the artifact store, fed by the events ingest applies
        self.recommender.bandits = BanditServing(BanditRegistry(store=ArtifactPosteriors(self.stores.artifacts)))
        self.ingest.after_apply = self.recommender.bandits.observe
        impressions = self.recommender.impressions
        if impressions is not None:
            impressions.erased = self.tombstones.erased
        self.eraser = Eraser(self.stores, self.processor.state, self.tombstones, snapshot=self._write_snapshot,
                             snapshot_key=settings.snapshot_key, forget_caches=self._forget_cached,
                             flush=impressions.flush if impressions is not None else lambda: 0)
        self.retention = Retainer(self.stores, self.processor.state, settings.retention,
                                  impression_retention_s=settings.impression_retention_days * 86_400.0,
                                  snapshot=self._write_snapshot, after_swap=self._after_state_swap,
                                  erasing_since=self._erasing_since)
        # who withheld which purpose, in memory: a recommendation never asks the store
        self.consent = ConsentIndex(self.stores.users, settings.consent_required)
        self.models = ModelRegistry(self.stores.models, self.stores.artifacts)
        # training and retention run on one node of the deployment at a time (training.leases)
        self.leases = NodeLeases(lambda name: open_lease(settings, name, node_name()))
        self._serving_version: int | None = None
        # model versions experiments serve beside the serving one: loaded and warmed like it
        self._pool: dict[int, LearnedModel] = {}
        self._pool_loading: dict[int, Future] = {}
        self._pool_failed: set[int] = set()
        self._pool_lock = threading.Lock()
        self._pool_loader = ThreadPoolExecutor(1, thread_name_prefix="experiment-models")
        self.recommender.experiments = ExperimentRouter(self.stores.experiments, self._pooled_models,
                                                        settings.experiment_holdout)
        # segments (rule, lifecycle, predictive): experiments' populations and rules' user.segments
        self.segments = SegmentBook(lambda: self.processor.state, self.stores.segments, self.stores.users,
                                    self.stores.artifacts)
        self.recommender.segments = self.segments
        self.recommender.nba = NbaServing(self.stores.impressions)  # placements that choose an action
        self.recommender.experiments.segments = self.segments.membership
        self.experiments = ExperimentAdmin(self.stores.experiments, self.recommender.experiments, placements.get,
                                           lambda v: self.stores.models.get(v) is not None, self.stores.audit) \
            if self.stores.experiments is not None else None
        self._next_model_check = 0.0
        self._refresh_lock = threading.Lock()
        self._model_loader = ThreadPoolExecutor(1, thread_name_prefix="model-loader")
        self._preparing: tuple[int, Future, threading.Event] | None = None
        self.refresh_model(force=True)  # start serving with a warm model
        if self.experiments is not None and declared:
            try:  # the document's experiments must fit the deployment (placements, versions)
                seed(self.experiments, declared)
            except BaseException:
                self.close(snapshot=False)
                raise

    @property
    def serving_version(self) -> int | None:
        """The registry version being served (None: the built-in popularity model)."""
        return self._serving_version

    @property
    def state(self):
        return self.processor.state

    def catch_up(self) -> None:
        """Bring online state up to date with writes by other processes (cheap when none)."""
        # Global top lists are not cleared here: they lag by at most their ttl, as they do
        # for this process's own ingest (clearing on every catch-up recomputed them per read).
        self.processor.catch_up()
        if time.monotonic() >= self._next_model_check:
            self.refresh_model()

    def recommend(self, request: RecommendationRequest) -> dict[str, Any]:
        """The response body of ``GET /v1/recommendations`` for ``request``: the state caught
        up with other writers, the placement's pipeline, then the catalogue ``fields`` asked
        for. Every entry point (HTTP fast path and route, CLI, evaluation) goes through here.
        A user without ``personalization`` consent gets an unknown user's list; one without
        ``analytics`` consent is served but not written to the impression log."""
        self.ingest.reads_served += 1  # ingest yields to reads (IngestService._run_sliced)
        self.catch_up()
        consent = self.consent
        consent.refresh()  # a shared-memory read unless a user document changed somewhere
        user_id = request.user_id
        body = self.recommender.recommend(request, consent.allows(user_id, PERSONALIZATION),
                                          consent.allows(user_id, ANALYTICS))
        if request.fields:
            attach_fields(body["items"], request.fields, self.stores.items.get)
        return body

    def similar(self, item_id: str, n: int, fields: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The items of ``GET /v1/items/{id}/similar`` (404 :class:`UnknownItem` for an id
        neither the online state nor the item store knows), with the catalogue ``fields``."""
        self.catch_up()
        if self.state.index.get(item_id) is None and self.stores.items.get(item_id) is None:
            raise UnknownItem([FieldError("id", f"no item '{item_id}'")], title="Unknown item", status=404)
        return attach_fields(self.recommender.similar(item_id, n), fields, self.stores.items.get)

    def refresh_model(self, force: bool = False) -> bool:
        """Swap in the registry's serving version if it changed (promotion, rollback, other worker).

        A new version is loaded and warmed (every active user's candidates precomputed) in a
        background thread while the current one keeps serving; a later call swaps it in
        once ready. ``force`` checks now and blocks until the swap (async callers run it in
        an executor so the event loop keeps serving meanwhile). The swap is one reference
        assignment between requests, so no request ever sees a mix of two versions and none
        fails during it. Returns True when this call swapped.
        """
        if not self._refresh_lock.acquire(blocking=force):
            return False  # another thread is refreshing
        try:
            self._next_model_check = time.monotonic() + MODEL_CHECK_S
            serving = self.models.serving()
            version = serving.version if serving else None
            if version == self._serving_version:
                return False
            if serving is None:
                self._cancel_preparing()
                self._swap(PopularityModel(self.toplists), None)
                return True
            pending = self._preparing
            if pending is None or pending[0] != version:
                self._cancel_preparing()
                stop = threading.Event()
                future = self._model_loader.submit(self._prepare_model, version, stop)
                pending = self._preparing = (version, future, stop)
            if force:
                pending[1].result()
            if not pending[1].done():
                return False
            self._preparing = None
            try:
                model = pending[1].result()
            except (OSError, KeyError) as exc:
                log.error("cannot load model v%s, keeping the current one: %s", version, exc)
                self._serving_version = version  # do not retry every second; a new promotion retries
                return False
            self._swap(model, version)
            return True
        finally:
            self._refresh_lock.release()

    def _prepare_model(self, version: int, stop: threading.Event) -> LearnedModel:
        started = time.perf_counter()
        model = LearnedModel(self.models.load(version), version, self.state.index)
        warmed = model.warm(self.state, should_stop=stop.is_set)
        log.info("model v%s ready: %d users warmed in %.1fs", version, warmed, time.perf_counter() - started)
        return model

    def _pooled_models(self, versions: set[int]) -> dict[int, Any]:
        """The loaded models of ``versions`` (experiments' variants); the others start loading
        in the background (at most MAX_POOLED_VERSIONS besides the serving one), and the
        router is told when each is ready. Versions no experiment wants any more are dropped."""
        out: dict[int, Any] = {}
        with self._pool_lock:
            for v in [v for v in self._pool if v not in versions]:
                del self._pool[v]
            for v in sorted(versions):
                if v == self._serving_version and self.recommender.model.version == str(v):
                    out[v] = self.recommender.model
                elif v in self._pool:
                    out[v] = self._pool[v]
                elif v not in self._pool_loading and v not in self._pool_failed \
                        and len(self._pool) + len(self._pool_loading) < MAX_POOLED_VERSIONS:
                    self._pool_loading[v] = self._pool_loader.submit(self._load_pooled, v)
        return out

    def _load_pooled(self, version: int) -> None:
        try:
            model = self._prepare_model(version, threading.Event())
        except (OSError, KeyError) as exc:
            log.error("cannot load model v%s for an experiment; its experiments stay out: %s", version, exc)
            with self._pool_lock:
                self._pool_failed.add(version)
                self._pool_loading.pop(version, None)
            return
        with self._pool_lock:
            self._pool[version] = model
            self._pool_loading.pop(version, None)
        self.recommender.experiments.invalidate()  # the next request installs the experiments it completes

    def wait_for_experiment_models(self, timeout: float | None = None) -> None:
        """Block until the model versions running experiments asked for are loaded (the API
        answers a start once its variants can serve)."""
        router = self.recommender.experiments
        router.refresh(force=True)
        with self._pool_lock:
            pending = list(self._pool_loading.values())
        for future in pending:
            future.result(timeout)
        router.refresh(force=True)

    def check_canaries(self, metrics: dict | None = None) -> list[tuple[str, str]]:
        """Roll back the canaries (and monitored experiments) whose guardrail broke."""
        return self.experiments.check_canaries(metrics) if self.experiments is not None else []

    def canary_served_metrics(self, now: float | None = None) -> dict[str, dict[str, dict]]:
        """Per running canary whose arms each have enough users (``canary_min_users``, or the
        design's sample size per variant), the served metrics its results' analysis judged
        (:func:`tastemaker.experiments.canary.served_metrics`), for :meth:`check_canaries`.
        Reads the logs: call it off the event loop."""
        from tastemaker.experiments.canary import served_metrics
        from tastemaker.experiments.results import experiment_results
        from tastemaker.experiments.statistics.power import sample_size_proportions

        router = self.recommender.experiments
        if router is None or self.stores.impressions is None:
            return {}
        out = {}
        for exp_id in sorted(router.monitored):
            experiment = router.running.get(exp_id)
            if experiment is None or experiment.kind != "canary":
                continue
            need = self.settings.canary_min_users
            if experiment.design is not None:
                d = experiment.design
                need = sample_size_proportions(d["baseline"], relative_lift=d["mde"], alpha=experiment.alpha,
                                               power=d["power"])
            if self.recommender.impressions is not None:
                self.recommender.impressions.flush()
            doc = experiment_results(self.stores, experiment, now=now)
            users = {v: f["users"] for v, f in doc["metrics"].items()}
            if all(users.get(v.name, 0) >= need for v in experiment.variants):
                out[exp_id] = served_metrics(doc)
        return out

    def _cancel_preparing(self) -> None:
        if self._preparing is not None:
            self._preparing[2].set()
            self._preparing = None

    def _swap(self, model, version: int | None) -> None:
        self.recommender.model = model
        self._serving_version = version
        self.recommender.experiments.invalidate()  # a variant of the new serving version uses it
        log.info("serving model %s", model.name + "-" + str(model.version))

    def _write_snapshot(self) -> None:
        """A new snapshot now, even with no new event (an erasure changed the state, not the log)."""
        self.processor.wait_for_snapshot()  # a background writer may hold the state from before
        self.processor._last_snapshot_seq = -1
        self.processor.maybe_snapshot(force=True)

    def _forget_cached(self, user) -> None:
        """Drop serving caches that hold an erased user's state."""
        for model in (self.recommender.model, *list(self._pool.values())):
            if isinstance(model, LearnedModel):
                model.forget(user)

    def _after_state_swap(self) -> None:
        """Online state was rebuilt (retention): drop caches that hold the replaced one."""
        self.state.covisitation.row_ttl_s = self.settings.covisitation_row_ttl_s
        self.toplists.clear()
        for model in (self.recommender.model, *list(self._pool.values())):
            if isinstance(model, LearnedModel):
                model.forget_all()

    def _erasing_since(self, since: float) -> bool:
        """Whether an erasure was running at any time after ``since`` (retention's swap waits)."""
        return any(j.status == "running" or j.created_at >= since or (j.finished_at or 0.0) >= since
                   for j in list(self.eraser.jobs.values()))

    def set_features(self, custom: list) -> None:
        """Replace the user-defined streaming features: checked (ValidationFailed, nothing
        written), written to features.yaml, then every feature refolded from the log on this
        thread (the state's). Other workers take the document on their next start."""
        self.features.set_custom(custom)
        write_features(self._feature_document, list(self.features.custom))
        self.processor.wait_for_snapshot()  # a background writer may hold the old store
        refold(self.state, self.stores.events.read_rows_since, self.features.definitions)

    def register_schema(self, schema: EventSchema) -> EventSchema:
        self.event_schemas.register(schema)  # raises SchemaConflict before anything is stored
        self.stores.schemas.save(schema)
        return schema

    def close(self, snapshot: bool = True) -> None:
        self._cancel_preparing()
        self._model_loader.shutdown(wait=True)
        self._pool_loader.shutdown(wait=True)
        self.ingest.close()
        self.recommender.bandits.registry.save()
        if self.recommender.impressions is not None:
            self.recommender.impressions.close()  # writes what is still buffered
        if snapshot:
            self.processor.maybe_snapshot(force=True)
        self.leases.close()
        self.stores.close()


def open_engine(data_dir: Path | str, **kwargs) -> Engine:
    return Engine(Settings(data_dir=Path(data_dir)), **kwargs)
