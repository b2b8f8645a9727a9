"""``/v1/experiments``: create, list, read and change experiments (admin to change).

``POST`` takes an experiment (:mod:`tastemaker.experiments.spec`); an invalid body is refused
whole with a 422 naming each field as a JSON pointer, an id that exists or an exclusion group
with no room is a 409. ``PATCH /v1/experiments/{id}`` changes ``status`` (draft -> running ->
stopped; anything else 409), ``shares`` (``{variant: share}``), ``stop``, ``name``,
``description``. Every change is recorded in the audit log (``experiments.create``,
``experiments.update``); a start with model versions answers once those are loaded.

Each experiment is answered with its ``sample_size`` when its ``design`` gives a baseline
and a lift to detect (statsmodels power, :mod:`tastemaker.experiments.statistics.power`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.experiments.spec import NAME, STATUSES, Experiment
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.experiment_admin import InvalidTransition
from tastemaker.storage.protocols import ExperimentRecord

log = logging.getLogger(__name__)
MODELS_WAIT_S = 300.0  # a start waits this long for its model versions to load, then answers anyway
CANARY_CHECK_S = 1.0  # how often a server checks its canaries' guardrails


def sample_size(experiment: Experiment) -> dict[str, Any] | None:
    """Users needed per variant to detect the design's lift of the primary metric with its
    power at the experiment's alpha (two-sided z-test of two proportions, each treatment
    against control), and in all (control's count over its share). None without a design."""
    design = experiment.design
    if design is None:
        return None
    from tastemaker.experiments.statistics.power import sample_size_proportions

    control = experiment.variants[0]
    per: dict[str, int] = {}
    for v in experiment.variants[1:]:
        ratio = v.share / control.share
        try:
            n = sample_size_proportions(design["baseline"], relative_lift=design["mde"], alpha=experiment.alpha,
                                        power=design["power"], ratio=ratio)
        except ValueError as exc:  # a lift that takes the rate out of (0, 1)
            return {"error": str(exc)}
        per[control.name] = max(per.get(control.name, 0), n)
        per[v.name] = int(math.ceil(n * ratio))
    total = max(int(math.ceil(n / experiment.variant(name).share)) for name, n in per.items())
    return {"users_per_variant": per, "total_users": total, "metric": experiment.primary_metric.metric, **design,
            "alpha": experiment.alpha}


def public(record: ExperimentRecord, experiment: Experiment) -> dict[str, Any]:
    return {**experiment.to_json(), "created_at": record.created_at, "updated_at": record.updated_at,
            "version": record.version, "sample_size": sample_size(experiment)}


def _admin(request: Request):
    admin = request.app.state.engine.experiments
    if admin is None:
        raise ValidationFailed([FieldError("", "this backend keeps no experiments")], title="Not available", status=404)
    return admin


def _id(request: Request) -> str:
    exp_id = request.path_params["id"]
    if not NAME.fullmatch(exp_id):
        raise ValidationFailed([FieldError("id", "an experiment id is 1-64 of a-z, 0-9, '-', '_'")],
                               title="Invalid experiment id", status=400)
    return exp_id


async def _json_body(request: Request) -> tuple[Any, bytes]:
    body = await read_body(request, body_limit(request, "small"))
    try:
        return msgspec.json.decode(body), body
    except msgspec.DecodeError as exc:
        raise ValidationFailed([FieldError("", f"malformed JSON: {exc}")], title="Malformed JSON", status=400) from None


async def _models_ready(request: Request, experiment: Experiment) -> None:
    """Wait (off the loop) until a running experiment's model versions serve."""
    if experiment.status == "running" and any(v.override.model_version is not None for v in experiment.variants):
        engine = request.app.state.engine
        await asyncio.get_running_loop().run_in_executor(None, engine.wait_for_experiment_models, MODELS_WAIT_S)


async def list_experiments(request: Request) -> Response:
    status = request.query_params.get("status")
    unknown = [k for k in request.query_params if k != "status"]
    if unknown or (status is not None and status not in STATUSES):
        field = unknown[0] if unknown else "status"
        reason = "unknown parameter (known: status)" if unknown else f"must be one of: {', '.join(STATUSES)}"
        return problem(400, "Invalid experiment query", errors=[FieldError(field, reason)])
    listed = await asyncio.get_running_loop().run_in_executor(None, _admin(request).experiments, status)
    return JSONResponse({"experiments": [public(r, e) for r, e in listed]})


async def get_experiment(request: Request) -> Response:
    exp_id = _id(request)
    found = _admin(request).get(exp_id)
    if found is None:
        return problem(404, "Unknown experiment", errors=[FieldError("id", f"no experiment '{exp_id}'")])
    return JSONResponse(public(*found))


async def post_experiment(request: Request) -> Response:
    admin = _admin(request)
    doc, body = await _json_body(request)
    try:
        record, experiment = admin.create(doc)  # 422 naming the fields
    except InvalidTransition as exc:
        return problem(409, "Experiment conflict", str(exc))
    audit.record(request, "experiments.create", experiment.id,
                 {"status": experiment.status, "body_sha256": hashlib.sha256(body).hexdigest()})
    await _models_ready(request, experiment)
    return JSONResponse(public(record, experiment), status_code=201, headers={"Location": f"/v1/experiments/{experiment.id}"})


async def patch_experiment(request: Request) -> Response:
    admin = _admin(request)
    exp_id = _id(request)
    doc, _ = await _json_body(request)
    try:
        changed = admin.patch(exp_id, doc)
    except InvalidTransition as exc:
        return problem(409, "Invalid experiment change", str(exc))
    if changed is None:
        return problem(404, "Unknown experiment", errors=[FieldError("id", f"no experiment '{exp_id}'")])
    record, experiment, change = changed
    audit.record(request, "experiments.update", exp_id, change)
    await _models_ready(request, experiment)
    return JSONResponse(public(record, experiment))


async def check_canaries_periodically(engine, every_s: float = CANARY_CHECK_S) -> None:
    """Background task: roll back canaries whose guardrail broke (the check reads this
    process's measurements; the store write and audit record run off the loop)."""
    served = asyncio.create_task(check_served_metrics_periodically(engine, engine.settings.canary_check_s))
    try:
        await _check_in_process(engine, every_s)
    finally:
        served.cancel()


async def check_served_metrics_periodically(engine, every_s: float) -> None:
    """Background task: every ``every_s`` (TASTEMAKER_CANARY_CHECK_S) while a canary runs,
    analyse its served metrics (results from the logs, in a worker thread) and roll it back
    when the analysis finds the candidate worse beyond a guardrail (or the primary metric
    significantly worse). The analysis reads the deployment's shared logs: one node runs a
    round (the ``canary-metrics`` lease), a node refused it skips that round."""
    from tastemaker.training.leases import CANARY_METRICS, LeaseHeld

    def check() -> list[tuple[str, str]]:
        lease = engine.leases[CANARY_METRICS]
        try:
            lease.hold()
        except LeaseHeld as exc:
            log.info("canary served metrics: this round is another node's (%s)", exc.holder)
            return []
        try:
            metrics = engine.canary_served_metrics()
            return engine.check_canaries(metrics) if metrics else []
        finally:
            lease.let_go()

    await _every(engine, every_s, check, "checking canaries' served metrics failed")


async def _check_in_process(engine, every_s: float) -> None:
    await _every(engine, every_s, engine.check_canaries, "checking canaries failed")


async def _every(engine, every_s: float, check, failure: str) -> None:
    """Run ``check`` (in a worker thread) every ``every_s`` while an experiment is monitored;
    log each rollback it returns. A failed round is logged; the next one tries again."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every_s)
        router = engine.recommender.experiments
        if router is None or not router.monitored:
            continue
        try:
            for exp_id, reason in await loop.run_in_executor(None, check):
                log.warning("experiment %s rolled back: %s", exp_id, reason)
        except Exception:
            log.exception(failure)
