"""``/v1/models``: list versions, train (a job run by a worker process), promote, roll back.

``POST /v1/models/train`` answers 202 at once with a train job (:mod:`tastemaker.training.train_jobs`);
the server's one training worker runs jobs one at a time, so a job posted while another runs
waits as ``queued``. A background task awaits each job and swaps a promoted version in.
"""

from __future__ import annotations

import asyncio
import logging
import typing
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.validation import decode_json
from tastemaker.training.job import DEFAULT_FAMILY, run_train_job
from tastemaker.training.leases import TRAIN, LeaseHeld
from tastemaker.training.train_jobs import ID_RULE, LIST_LIMIT, TrainJob, TrainJobs, valid_job_id


class TrainRequest(msgspec.Struct, forbid_unknown_fields=True):
    family: str = DEFAULT_FAMILY
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    promote: Literal["if_better", "always", "never"] = "if_better"


_decode_train = msgspec.json.Decoder(TrainRequest).decode
_pool: ProcessPoolExecutor | None = None
# Jobs this process submitted that have not ended (their store, to record a stop), and the
# tasks that await them: both are for shutdown_pool.
_unfinished: dict[str, TrainJobs] = {}
_followers: set[asyncio.Task] = set()
LEASE_RETRY_S = 5.0  # periodic retraining refused the lease (another node trains): asks again this often


def check_family_params(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``family``'s declaration (its ``__init__`` signature, read by
    ``families.family_class`` and ``ModelFamily.check_params``, as the train job checks it):
    names known, values of the declared types.

    Raises :class:`ValidationFailed` (422) naming the family or each bad parameter, with
    what is known; returns the params converted to the declared types (a JSON list to a tuple).

    >>> check_family_params("popularity", {"weighted": True})
    {'weighted': True}
    >>> check_family_params("popularity", {"bogus": 1})
    Traceback (most recent call last):
    ...
    tastemaker.schema.errors.ValidationFailed: /params/bogus: unknown parameter of family 'popularity'; known: weighted
    """
    from tastemaker.models.families import UnknownFamily, family_class
    from tastemaker.models.family import UnknownParameter

    try:
        cls = family_class(family)
    except UnknownFamily as exc:
        raise ValidationFailed([FieldError("/family", str(exc))], title="Unknown model family") from None
    unknown: dict[str, str] = {}
    try:
        cls.check_params(params)
    except UnknownParameter as exc:
        unknown = {name: exc.reason for name in exc.names}
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that cannot be resolved: check names only
        hints = {}
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for name, value in params.items():  # the errors in the request's order
        if name in unknown:
            errors.append(FieldError(f"/params/{name}", unknown[name]))
            continue
        try:
            out[name] = msgspec.convert(value, hints[name]) if name in hints else value
        except msgspec.ValidationError as exc:
            errors.append(FieldError(f"/params/{name}", str(exc)))
        except TypeError:  # a type msgspec cannot check (a model object): the family checks it
            out[name] = value
    if errors:
        raise ValidationFailed(errors, title="Invalid training parameters")
    return out


def _training_pool() -> ProcessPoolExecutor:
    # A separate process: fitting must not take the GIL from the requests being served.
    global _pool
    if _pool is not None and getattr(_pool, "_broken", False):  # its worker was killed: start afresh
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_init_worker)
    return _pool


def _init_worker() -> None:
    """In the training worker: progress bars (tqdm, used by fitting libraries) take a thread
    lock, not their default named semaphore, which a worker terminated on shutdown would
    leave registered with the resource tracker (one more "leaked semaphore")."""
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def shutdown_pool() -> None:
    """Stop the training worker and release the pool's queues (on lifespan shutdown, e.g. SIGTERM).

    uvicorn re-raises SIGTERM after the lifespan shutdown, so no atexit hook runs: any named
    semaphore not released here stays registered with the resource tracker, which then
    reports it as leaked (the issue saw the five of the pool's two queues). A training run in
    progress is abandoned (registering the version is its last step, so nothing half-written
    remains): the worker is terminated, ``shutdown(wait=True)`` joins the manager thread (a
    first ``shutdown(wait=False)`` would have made it forget the thread), and the queues'
    semaphores are released explicitly rather than whenever the last reference goes.
    """
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    queues = [getattr(pool, "_call_queue", None), getattr(pool, "_result_queue", None)]
    if getattr(pool, "_pending_work_items", None):  # an idle worker exits by itself, cleanly
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    for task in list(_followers):
        task.cancel()
    pool.shutdown(wait=True, cancel_futures=True)
    _release_semaphores([q for q in queues if q is not None])
    # no worker writes any more: a job it did not end ends here, never left "running"
    for job_id, jobs in list(_unfinished.items()):
        try:
            jobs.fail_unfinished(job_id, "Server stopped", "the server stopped before the training run finished")
        except OSError:  # the job then reads as failed once its owner is gone (TrainJobs.abandoned)
            logging.getLogger(__name__).warning("could not record the end of train job %s", job_id, exc_info=True)
    _unfinished.clear()


def _release_semaphores(queues: list[Any]) -> None:
    """Run the finalizers of the queues' semaphores now: unlink and unregister each, once.

    Each ``multiprocessing`` lock registers a finalizer (``util.Finalize``) that unlinks
    its named semaphore and tells the resource tracker; calling it early is what the
    interpreter's exit would do, and it never runs twice.
    """
    from multiprocessing import util

    locks = {id(lock) for q in queues for lock in (getattr(q, n, None) for n in ("_rlock", "_wlock", "_sem")) if lock is not None}
    for finalizer in list(getattr(util, "_finalizer_registry", {}).values()):
        target = finalizer._weakref() if getattr(finalizer, "_weakref", None) is not None else None
        if target is not None and id(target) in locks:
            finalizer()


async def retrain_periodically(engine, every_s: float, family: str = DEFAULT_FAMILY) -> None:
    """Background task: every ``every_s`` seconds after the previous run ended, a train job
    (listed with the others); a better model is swapped in. While another node holds the
    training lease it waits, asking again every :data:`LEASE_RETRY_S`."""
    while True:
        await asyncio.sleep(every_s)
        try:
            while True:
                try:
                    job, follower = await start_training(engine, family, {}, {}, "if_better")
                    break
                except LeaseHeld as exc:
                    logging.getLogger(__name__).info("periodic retraining waits: %s", exc)
                    await asyncio.sleep(LEASE_RETRY_S)
            audit.record_server(engine, "models.train", job.id, {"family": family, "promote": "if_better",
                                                                "periodic_every_s": every_s})
            await follower
        except Exception:  # a failed start must not stop later ones; it is logged
            logging.getLogger(__name__).exception("periodic retraining failed")


def train_jobs(engine) -> TrainJobs:
    """The deployment's train jobs (documents in its artifact store, seen by every process)."""
    return TrainJobs(engine.stores.artifacts)


async def start_training(engine, family: str, params: dict[str, Any], requested: dict[str, Any],
                         promote: str, actor: str = "server", address: str | None = None) -> tuple[TrainJob, asyncio.Task]:
    """Create a queued job, hand it to the training worker, follow it; returns the new job
    and the task that follows it (done once the job ended and a promoted version serves).

    ``params`` are the checked parameters the worker gets, ``requested`` the ones the request
    named (the job shows those). A promotion by the job is audited for ``actor`` (who asked
    for the job; ``server`` for the periodic retrain) from ``address``.

    Training runs on one node of the deployment at a time: this node holds the ``train``
    lease from here until its job ended (its own jobs queue under that hold); raises
    :class:`LeaseHeld` naming the holder, before any job exists, when another node has it.
    """
    loop = asyncio.get_running_loop()
    lease = engine.leases[TRAIN]
    await loop.run_in_executor(None, lease.hold)
    try:
        jobs = train_jobs(engine)
        job = await loop.run_in_executor(
            None, jobs.create, {"family": family, "params": requested, "promote": promote})
    except BaseException:
        await loop.run_in_executor(None, lease.let_go)
        raise
    try:
        # a promotion by the job is audited by the worker, for who asked (api.audit)
        # fenced: the worker publishes only while this node's hold is still the lease's holder
        future = _training_pool().submit(run_train_job, engine.settings, family, params, promote, job.id,
                                         (actor, address or audit.server_address()), fence=(TRAIN, lease.holder_id))
    except BaseException as exc:  # no worker will ever take it: it must not stay "queued"
        await loop.run_in_executor(None, jobs.fail_unfinished, job.id, "Training failed",
                                   f"could not start the training worker: {type(exc).__name__}: {exc}")
        await loop.run_in_executor(None, lease.let_go)
        raise
    _unfinished[job.id] = jobs
    task = asyncio.create_task(_follow(engine, jobs, job.id, future), name=f"train-job-{job.id}")
    _followers.add(task)
    task.add_done_callback(_followers.discard)
    return job, task


async def _follow(engine, jobs: TrainJobs, job_id: str, future: Any) -> None:
    """Await the worker; swap a promoted version in. If the worker could not end the job
    itself (it died, or could not open the stores), the job ends failed here. The job's hold
    on the training lease ends with it (the engine's close releases it on shutdown)."""
    try:
        await _await_job(engine, jobs, job_id, future)
    finally:
        # on the loop itself (one round trip at a job's end): on shutdown the task is
        # cancelled and the default executor may already refuse work
        engine.leases[TRAIN].let_go()


async def _await_job(engine, jobs: TrainJobs, job_id: str, future: Any) -> None:
    loop = asyncio.get_running_loop()
    try:
        final = await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        raise  # the server is stopping: shutdown_pool records the job
    except Exception as exc:
        logging.getLogger(__name__).error("train job %s: the worker failed: %r", job_id, exc)
        await loop.run_in_executor(None, jobs.fail_unfinished, job_id, "Worker stopped",
                                   f"the training worker failed: {type(exc).__name__}: {exc}")
        return
    finally:
        _unfinished.pop(job_id, None)
    if final.get("status") == "succeeded":
        try:
            await swap_in(engine)
        except Exception:  # the engine also polls the registry every second: it will catch up
            logging.getLogger(__name__).exception("train job %s: swapping the new version in failed", job_id)


async def swap_in(engine) -> None:
    """Wait, off the event loop, until the registry's serving version is loaded, warmed and serving."""
    await asyncio.get_running_loop().run_in_executor(None, engine.refresh_model, True)


async def list_models(request: Request) -> Response:
    engine = request.app.state.engine
    return JSONResponse({"serving": engine.serving_version, "versions": [v.to_dict() for v in engine.models.list()]})


async def train_model(request: Request) -> Response:
    engine = request.app.state.engine
    body = await read_body(request, body_limit(request, "small"))
    spec = decode_json(_decode_train, body) if body.strip() else TrainRequest()
    params = check_family_params(spec.family, spec.params)  # 422 before any job exists
    try:
        job, _ = await start_training(engine, spec.family, params, spec.params, spec.promote, audit.actor(request),
                                      request.client.host if request.client else "unknown")
    except LeaseHeld as exc:
        return problem(409, "Training runs on another node", str(exc))
    audit.record(request, "models.train", job.id, {"family": spec.family, "params": spec.params, "promote": spec.promote})
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/v1/models/train/jobs/{job.id}"})


async def get_train_job(request: Request) -> Response:
    job_id = request.path_params["id"]
    if not valid_job_id(job_id):
        return problem(400, "Invalid job id", errors=[FieldError("id", ID_RULE)])
    jobs = train_jobs(request.app.state.engine)
    job = await asyncio.get_running_loop().run_in_executor(None, jobs.get, job_id)
    if job is None:
        return problem(404, "Unknown train job", errors=[FieldError("id", f"no train job '{job_id}'")])
    return JSONResponse(job.public())


async def list_train_jobs(request: Request) -> Response:
    jobs = train_jobs(request.app.state.engine)
    listed = await asyncio.get_running_loop().run_in_executor(None, jobs.list, LIST_LIMIT)
    return JSONResponse({"jobs": [job.public() for job in listed]})


async def promote_model(request: Request) -> Response:
    engine = request.app.state.engine
    raw = request.path_params["version"]
    # ASCII digits only ('²'.isdigit() is true but int() refuses it), and at most 18 of them:
    # versions are SQLite integers, and a longer number cannot name one.
    if not (raw.isascii() and raw.isdigit()):
        return problem(400, "Invalid version", errors=[FieldError("version", "must be an integer")])
    if len(raw) > 18:
        return problem(404, "Unknown model version", errors=[FieldError("version", f"no version {raw}")])
    if engine.stores.models.get(int(raw)) is None:
        return problem(404, "Unknown model version", errors=[FieldError("version", f"no version {raw}")])
    canary = _canary_parameters(request)
    if canary is not None:
        return await _start_canary(request, int(raw), canary)
    previous = engine.models.serving()
    try:
        record = engine.models.promote(int(raw))
    except KeyError:
        return problem(404, "Unknown model version", errors=[FieldError("version", f"no version {raw}")])
    audit.record(request, "models.promote", str(record.version), {"previous": previous.version if previous else None})
    if engine.experiments is not None:  # its canary, if one runs, has done its job
        engine.experiments.end_canaries_of(record.version, f"v{record.version} promoted", audit.actor(request),
                                           request.client.host if request.client else "unknown")
    await swap_in(engine)
    return JSONResponse(record.to_dict())


CANARY_PARAMETERS = {"canary": (0.0001, 0.9999), "max_error_rate": (0.0, 1.0), "latency_budget_ms": (0.001, 60_000.0)}


def _canary_parameters(request: Request) -> dict[str, float] | None:
    """``?canary=SHARE[&max_error_rate=R][&latency_budget_ms=MS]`` (400 naming a bad one);
    None without ``canary``: promote outright."""
    params = request.query_params
    errors = [FieldError(k, f"unknown parameter (known: {', '.join(CANARY_PARAMETERS)})") for k in params
              if k not in CANARY_PARAMETERS]
    out: dict[str, float] = {}
    for name, (lo, hi) in CANARY_PARAMETERS.items():
        if name in params:
            try:
                out[name] = float(params[name])
            except ValueError:
                out[name] = float("nan")
            if not lo <= out[name] <= hi:
                errors.append(FieldError(name, f"must be a number from {lo:g} to {hi:g}"))
    if "canary" not in out and out:
        errors.append(FieldError("canary", "max_error_rate and latency_budget_ms set a canary's guardrails: give canary=SHARE"))
    if errors:
        raise ValidationFailed(errors, title="Invalid promotion", status=400)
    return out or None


async def _start_canary(request: Request, version: int, canary: dict[str, float]) -> Response:
    """Promote as a canary: an experiment serving ``version`` to the canary share (201)."""
    from tastemaker.api.experiments import public
    from tastemaker.serving.experiment_admin import InvalidTransition

    engine = request.app.state.engine
    if engine.experiments is None:
        return problem(409, "Canaries unavailable", "this backend keeps no experiments")
    serving = engine.models.serving()
    kwargs = {k: canary[k] for k in ("max_error_rate", "latency_budget_ms") if k in canary}
    try:
        record, experiment = engine.experiments.start_canary(version, canary["canary"], serving.version if serving else None,
                                                             **kwargs)
    except InvalidTransition as exc:
        return problem(409, "Canary refused", str(exc))
    audit.record(request, "models.canary", str(version), {"experiment": experiment.id, **canary})
    await asyncio.get_running_loop().run_in_executor(None, engine.wait_for_experiment_models, 300.0)
    return JSONResponse(public(record, experiment), status_code=201, headers={"Location": f"/v1/experiments/{experiment.id}"})


async def rollback_model(request: Request) -> Response:
    engine = request.app.state.engine
    previous = engine.models.serving()
    try:
        record = engine.models.rollback()
    except LookupError as exc:
        return problem(409, "Nothing to roll back to", str(exc))
    audit.record(request, "models.rollback", str(record.version), {"previous": previous.version if previous else None})
    await swap_in(engine)
    return JSONResponse(record.to_dict())
