"""``/v1/models``: list versions, train (in a worker process), promote, roll back."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.body import read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, from_msgspec
from tastemaker.training.job import DEFAULT_FAMILY, run_train_job


class TrainRequest(msgspec.Struct, forbid_unknown_fields=True):
    family: str = DEFAULT_FAMILY
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    promote: Literal["if_better", "always", "never"] = "if_better"


_pool: ProcessPoolExecutor | None = None


def _training_pool() -> ProcessPoolExecutor:
    # A separate process: fitting must not take the GIL from the requests being served.
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def shutdown_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


async def retrain_periodically(engine, every_s: float, family: str = DEFAULT_FAMILY) -> None:
    """Background task: retrain every ``every_s`` seconds; a better model is swapped in."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every_s)
        try:
            await loop.run_in_executor(_training_pool(), run_train_job, str(engine.settings.data_dir), family, {}, "if_better")
            await swap_in(engine)
        except Exception:  # a failed run must not stop later ones; it is logged
            logging.getLogger(__name__).exception("periodic retraining failed")


async def swap_in(engine) -> None:
    """Wait, off the event loop, until the registry's serving version is loaded, warmed and serving."""
    await asyncio.get_running_loop().run_in_executor(None, engine.refresh_model, True)


async def list_models(request: Request) -> Response:
    engine = request.app.state.engine
    return JSONResponse({"serving": engine.serving_version, "versions": [v.to_dict() for v in engine.models.list()]})


async def train_model(request: Request) -> Response:
    engine = request.app.state.engine
    body = await read_body(request)
    try:
        spec = msgspec.json.decode(body, type=TrainRequest) if body.strip() else TrainRequest()
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_msgspec(exc) from None
    from tastemaker.models.registry_of_families import FAMILIES

    if spec.family not in FAMILIES:
        return problem(422, "Unknown model family", errors=[FieldError("/family", f"known: {', '.join(sorted(FAMILIES))}")])
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(
            _training_pool(), run_train_job, str(engine.settings.data_dir), spec.family, spec.params, spec.promote
        )
    except ValueError as exc:
        return problem(409, "Cannot train", str(exc))
    await swap_in(engine)
    return JSONResponse(result, status_code=201)


async def promote_model(request: Request) -> Response:
    engine = request.app.state.engine
    raw = request.path_params["version"]
    # ASCII digits only ('²'.isdigit() is true but int() refuses it), and at most 18 of them:
    # versions are SQLite integers, and a longer number cannot name one.
    if not (raw.isascii() and raw.isdigit()):
        return problem(400, "Invalid version", errors=[FieldError("version", "must be an integer")])
    if len(raw) > 18:
        return problem(404, "Unknown model version", errors=[FieldError("version", f"no version {raw}")])
    try:
        record = engine.models.promote(int(raw))
    except KeyError:
        return problem(404, "Unknown model version", errors=[FieldError("version", f"no version {raw}")])
    await swap_in(engine)
    return JSONResponse(record.to_dict())


async def rollback_model(request: Request) -> Response:
    engine = request.app.state.engine
    try:
        record = engine.models.rollback()
    except LookupError as exc:
        return problem(409, "Nothing to roll back to", str(exc))
    await swap_in(engine)
    return JSONResponse(record.to_dict())
