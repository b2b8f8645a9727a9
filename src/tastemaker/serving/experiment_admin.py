"""Managing experiments: create, change status and shares, stop, start a model canary, and
roll a canary back when a guardrail breaks. The API, the CLI and the engine's canary check
all go through :class:`ExperimentAdmin`, so every change is validated the same way.

Rules: an experiment is created as written (``draft`` by default; ``running`` starts it at
once); its status moves draft -> running -> stopped only (:data:`~tastemaker.experiments.spec.TRANSITIONS`,
anything else is an :class:`InvalidTransition`, 409); shares may change while draft or
running; the experiments of an exclusion group get disjoint bucket ranges (``offset``,
the first free one at creation; a full group is a 409).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Mapping

from tastemaker.experiments.assignment import free_offset
from tastemaker.experiments.canary import canary_experiment
from tastemaker.experiments.spec import Experiment, experiment_from_json, transition, with_shares
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.experiments import ExperimentRouter, check_experiment
from tastemaker.serving.placements import Placement
from tastemaker.storage.protocols import AuditLog, ExperimentConflict, ExperimentRecord, ExperimentStore

PATCH_FIELDS = ("status", "shares", "stop", "name", "description", "status_reason")


class InvalidTransition(Exception):
    """A change the experiment's state forbids (the API answers 409 with this message)."""


class ExperimentAdmin:
    def __init__(self, store: ExperimentStore, router: ExperimentRouter, placements: Callable[[str], Placement | None],
                 version_exists: Callable[[int], bool], audit: AuditLog | None = None,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.router = router
        self.placements = placements
        self.version_exists = version_exists
        self.audit = audit
        self.clock = clock

    def experiments(self, status: str | None = None) -> list[tuple[ExperimentRecord, Experiment]]:
        return [(r, experiment_from_json(r.definition)) for r in self.store.list(status)]

    def get(self, experiment_id: str) -> tuple[ExperimentRecord, Experiment] | None:
        record = self.store.get(experiment_id)
        return None if record is None else (record, experiment_from_json(record.definition))

    def _group_offset(self, experiment: Experiment) -> Experiment:
        if not experiment.exclusion_group:
            return experiment
        members = [e for _, e in self.experiments() if e.exclusion_group == experiment.exclusion_group
                   and e.layer == experiment.layer and e.id != experiment.id]
        taken = [(e.offset, e.offset + e.buckets) for e in members if e.status != "stopped"]
        mine = (experiment.offset, experiment.offset + experiment.buckets)
        if experiment.offset and all(mine[1] <= lo or hi <= mine[0] for lo, hi in taken):
            return experiment  # an offset written in the document, clear of the others
        offset = free_offset(members, experiment.buckets)
        if offset is None:
            raise InvalidTransition(f"exclusion group '{experiment.exclusion_group}' has no room for shares adding up to "
                                    f"{experiment.buckets / 10_000:g}: stop one of its experiments first")
        return experiment_from_json({**experiment.to_json(), "offset": offset})

    def _check_room(self, experiment: Experiment) -> None:
        """409 when ``experiment``'s range overlaps another live member of its group."""
        lo, hi = experiment.offset, experiment.offset + experiment.buckets
        for _, e in self.experiments():
            if e.id != experiment.id and e.status != "stopped" and e.exclusion_group == experiment.exclusion_group \
                    and e.layer == experiment.layer and lo < e.offset + e.buckets and e.offset < hi:
                raise InvalidTransition(f"the new shares would overlap experiment '{e.id}' of exclusion group "
                                        f"'{experiment.exclusion_group}'")

    def create(self, doc: Any) -> tuple[ExperimentRecord, Experiment]:
        """Validate (422), place it in its exclusion group (409 when full) and store it (409
        when the id exists). The server records when it started (created ``running``) or
        stopped; a document's own ``started_at`` / ``stopped_at`` are not taken."""
        experiment = experiment_from_json(doc)
        now = self.clock()
        experiment = replace(experiment, started_at=now if experiment.status == "running" else None,
                             stopped_at=now if experiment.status == "stopped" else None)
        check_experiment(experiment, self.placements, self.version_exists)
        experiment = self._group_offset(experiment)
        try:
            record = self.store.create(experiment.id, experiment.to_json())
        except ExperimentConflict as exc:
            raise InvalidTransition(str(exc)) from None
        self.router.refresh()
        return record, experiment

    def patch(self, experiment_id: str, doc: Any) -> tuple[ExperimentRecord, Experiment, dict[str, Any]] | None:
        """Apply a PATCH body (``status``, ``shares``, ``stop``, ``name``, ``description``,
        ``status_reason``); None when there is no such experiment. Returns the change made."""
        if not isinstance(doc, dict) or not doc:
            raise ValidationFailed([FieldError("", f"must be an object with some of: {', '.join(PATCH_FIELDS)}")],
                                   title="Invalid experiment change")
        unknown = [FieldError(f"/{k}", f"cannot be changed (changeable: {', '.join(PATCH_FIELDS)})")
                   for k in doc if k not in PATCH_FIELDS]
        if unknown:
            raise ValidationFailed(unknown, title="Invalid experiment change")
        for _ in range(5):  # another writer may change it meanwhile: read again and re-apply
            found = self.get(experiment_id)
            if found is None:
                return None
            record, experiment = found
            changed = self._apply(experiment, doc)
            if "status" in doc and doc["status"] == "running" and experiment.exclusion_group:
                changed = self._group_offset(changed)
            try:
                stored = self.store.update(experiment_id, changed.to_json(), record.version)
            except ExperimentConflict:
                continue
            self.router.refresh()
            return stored, changed, {k: doc[k] for k in doc}
        raise InvalidTransition(f"experiment '{experiment_id}' keeps changing under this request: try again")

    def _apply(self, experiment: Experiment, doc: Mapping[str, Any]) -> Experiment:
        out = experiment
        if "shares" in doc:
            if out.status == "stopped":
                raise InvalidTransition("a stopped experiment's shares cannot change (its data is final)")
            if not isinstance(doc["shares"], dict) or not doc["shares"]:
                raise ValidationFailed([FieldError("/shares", "must map variant names to shares")], title="Invalid experiment change")
            out = with_shares(out, doc["shares"])
            if out.exclusion_group and out.buckets > experiment.buckets:
                self._check_room(out)
        body = out.to_json()
        for key in ("stop", "name", "description"):
            if key in doc:
                body[key] = doc[key]
        try:
            out = experiment_from_json(body)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.errors, title="Invalid experiment change") from None
        if "status" in doc:
            reason = doc.get("status_reason")
            if reason is not None and not isinstance(reason, str):
                raise ValidationFailed([FieldError("/status_reason", "must be a string")], title="Invalid experiment change")
            try:
                out = transition(out, doc["status"], reason, now=self.clock())
            except ValueError as exc:
                raise InvalidTransition(str(exc)) from None
            if out.status == "running" and experiment.status != "running":
                check_experiment(out, self.placements, self.version_exists)  # the deployment may have changed
        return out

    def stop(self, experiment_id: str, reason: str, actor: str, action: str = "experiments.stop",
             address: str = "internal") -> bool:
        """Stop a running experiment (no-op for a stopped one), with ``reason``, audited."""
        found = self.get(experiment_id)
        if found is None or found[1].status == "stopped":
            return False
        try:
            self.patch(experiment_id, {"status": "stopped", "status_reason": reason})
        except InvalidTransition:
            return False
        if self.audit is not None:
            self.audit.append(actor, action, experiment_id, {"reason": reason}, address)
        return True

    def start_canary(self, version: int, share: float, serving_version: int | None,
                     max_error_rate: float = 0.01, latency_budget_ms: float = 100.0) -> tuple[ExperimentRecord, Experiment]:
        """A running canary of ``version`` on ``share`` of users (409 while another runs)."""
        if not 0 < share < 1:
            raise ValidationFailed([FieldError("canary", "must be a share between 0 and 1 (exclusive)")],
                                   title="Invalid canary", status=400)
        if version == serving_version:
            raise InvalidTransition(f"version {version} serves already")
        exp = canary_experiment(version, share, serving_version, max_error_rate, latency_budget_ms, now=self.clock())
        return self.create(exp.to_json())

    def end_canaries_of(self, version: int, reason: str, actor: str, address: str = "internal") -> list[str]:
        """Stop the running canaries of ``version`` (it was promoted or rolled back by hand)."""
        ended = []
        for _, e in self.experiments("running"):
            if e.kind == "canary" and e.variants[-1].override.model_version == version:
                if self.stop(e.id, reason, actor, "experiments.stop", address):
                    ended.append(e.id)
        return ended

    def check_canaries(self, metrics: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, str]]:
        """Roll back every monitored experiment whose guardrail broke: ``[(id, reason)]``.
        ``metrics``: served metrics per experiment and variant (attribution), if any."""
        router = self.router
        router.refresh()
        stopped = []
        for exp_id in sorted(router.monitored):
            experiment = router.running.get(exp_id)
            if experiment is None:
                continue
            reason = router.monitor.check(experiment, (metrics or {}).get(exp_id))
            if reason and self.stop(exp_id, f"rolled back: {reason}", "canary-monitor", "experiments.rollback"):
                stopped.append((exp_id, reason))
        return stopped
