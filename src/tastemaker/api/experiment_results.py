"""``GET /v1/experiments/{id}/results`` (admin, analyst): the analysis of an experiment.

Answers the results document of :func:`tastemaker.experiments.results.experiment_results`
(verdict, effects with intervals, guardrails, SRM, the sequential boundary, and the observed
figures per variant), or with ``format=html`` the report with its plots. The work (reading
the impression and event logs over the experiment's window, the statistics) runs in a worker
thread, never on the event loop; impressions still buffered in this process are written first
so the answer includes every list served before the request.

Query parameters: ``format`` (``json`` default, ``html``), ``window_s`` (attribution window,
default a day) and ``pre_period_s`` (the CUPED pre-period, default 14 days).
"""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tastemaker.api.responses import JSONResponse, problem
from tastemaker.engine import Engine
from tastemaker.experiments.attribution import DEFAULT_PRE_PERIOD_S, DEFAULT_WINDOW_S
from tastemaker.experiments.results import experiment_results, html_report, load_experiment
from tastemaker.schema.errors import FieldError

FORMATS = ("json", "html")
MAX_SECONDS = 366 * 86_400.0


def _seconds(request: Request, name: str, default: float) -> float | FieldError:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:
        return FieldError(name, f"must be a number of seconds in (0, {MAX_SECONDS:.0f}], got {raw!r}")
    return value


async def get_results(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    experiment_id = request.path_params["id"]
    fmt = request.query_params.get("format", "json")
    errors = [] if fmt in FORMATS else [FieldError("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")]
    window_s = _seconds(request, "window_s", DEFAULT_WINDOW_S)
    pre_period_s = _seconds(request, "pre_period_s", DEFAULT_PRE_PERIOD_S)
    errors += [e for e in (window_s, pre_period_s) if isinstance(e, FieldError)]
    if errors:
        return problem(400, "Invalid parameter", errors=errors)
    try:
        experiment = load_experiment(engine.stores, experiment_id)
    except LookupError:
        return problem(404, "Unknown experiment", errors=[FieldError("id", f"no experiment '{experiment_id}'")])

    def compute() -> dict:
        impressions = engine.recommender.impressions
        if impressions is not None:
            impressions.flush()  # lists served by this process before the request count
        return experiment_results(engine.stores, experiment, window_s=window_s,  # type: ignore[arg-type]
                                  pre_period_s=pre_period_s)  # type: ignore[arg-type]

    doc = await run_in_threadpool(compute)
    if fmt == "html":
        html = await run_in_threadpool(html_report, doc, experiment)
        return HTMLResponse(html)
    return JSONResponse(doc)
