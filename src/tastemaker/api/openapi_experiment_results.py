"""The OpenAPI entry of ``GET /v1/experiments/{id}/results`` and its schema."""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.openapi_schemas import _n, _obj, _s, ref

RESULTS_DESCRIPTION = (
    "Joins the experiment's outcome events (click, add_to_cart, purchase) to the lists it served, by "
    "`recommendation_id` (or `context.recommendation_id`), else by user and item within the attribution window after "
    "the latest earlier list, over its window (start to stop, or now); computes one row of metrics per user (users are "
    "the randomization unit) with pre-period covariates for CUPED, then the analysis: SRM, guardrails, the primary "
    "metric's effect with intervals and the mSPRT sequential test, the verdict. `format=html` answers the report with "
    "plots instead. Computed on request, off the event loop; cost grows with the lists and events in the window.")

_NUM_OR_NULL = {"type": ["number", "null"]}


def results_schemas() -> dict[str, Any]:
    figures = _obj({
        "users": _n("Users whose first list of the experiment was in this variant", "integer"),
        "lists": _n("Lists served to them in the experiment", "integer"),
        "ctr": {**_NUM_OR_NULL, "description": "Share of lists with an attributed click"},
        "clicks_per_list": {**_NUM_OR_NULL, "description": "Attributed clicks per list"},
        "add_to_cart_rate": {**_NUM_OR_NULL, "description": "Share of lists with an attributed add-to-cart"},
        "conversion": {**_NUM_OR_NULL, "description": "Share of users with an attributed purchase"},
        "revenue_per_user": {**_NUM_OR_NULL, "description": "Attributed purchase value per user"},
        "items_per_session": {**_NUM_OR_NULL, "description": "Distinct items engaged with from lists, per session"},
        "distinct_items": _n("Distinct items shown", "integer"),
        "coverage": {**_NUM_OR_NULL, "description": "Distinct items shown / catalogue size"},
        "diversity": {**_NUM_OR_NULL, "description": "Mean share of a list's item pairs in different categories"},
    }, ["users", "lists", "ctr"], "Observed figures of one variant")
    results = _obj({
        "experiment_id": _s("The experiment"),
        "status": {"type": "string", "enum": ["draft", "running", "stopped"]},
        "start": _n("Start of the analysed window (epoch seconds)"),
        "end": _n("End of the window: the stop time, or now"),
        "as_of": _n("When the results were computed"),
        "attribution_window_s": _n("Seconds after a list in which its outcomes count"),
        "pre_period_s": _n("Seconds before the start whose behaviour is the CUPED covariate"),
        "users": _n("Users in the experiment", "integer"),
        "crossovers": _n("Users served under more than one variant (kept in their first)", "integer"),
        "outcomes": {"type": "object", "additionalProperties": {"type": "integer"},
                     "description": "Attributed outcome events by type"},
        "metrics": {"type": "object", "additionalProperties": ref("VariantFigures"),
                    "description": "Variant name -> observed figures"},
        "verdict": {"type": ["string", "null"],
                    "enum": ["ship", "keep_control", "no_difference_yet", "stop_guardrail", "invalid_srm", None]},
        "winner": {"type": ["string", "null"], "description": "The variant to ship, when the verdict is `ship`"},
        "analysis": {"type": ["object", "null"], "description": "The full analysis: reason, SRM, per treatment the "
                     "effect of each metric with intervals, CUPED, sequential test, probability to beat control, "
                     "guardrail checks; cumulative curves; per-segment breakdown; settings"},
        "analysis_error": _s("Why there is no analysis (only when `analysis` is null)"),
        "seconds": _n("Time taken to compute"),
    }, ["experiment_id", "status", "start", "end", "users", "metrics", "verdict", "analysis"],
        "An experiment's results: observed figures per variant and the analysis")
    return {"VariantFigures": figures, "ExperimentResults": results}


EXAMPLE = {"experiment_id": "blend-test", "status": "running", "start": 1733400000.0, "end": 1733486400.0,
           "as_of": 1733486400.0, "attribution_window_s": 86400.0, "pre_period_s": 1209600.0, "users": 2000,
           "crossovers": 0, "outcomes": {"click": 2210, "add_to_cart": 640, "purchase": 330},
           "metrics": {"control": {"users": 1004, "lists": 8032, "ctr": 0.124, "clicks_per_list": 0.131},
                       "more-trending": {"users": 996, "lists": 7968, "ctr": 0.142, "clicks_per_list": 0.151}},
           "verdict": "ship", "winner": "more-trending", "analysis": {"reason": "more-trending beats control on ctr"},
           "seconds": 0.41}


def add_results_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], query: Callable[..., dict[str, Any]],
                      path: Callable[..., dict[str, Any]]) -> None:
    seconds = {"type": "number", "exclusiveMinimum": 0, "maximum": 366 * 86400}
    get = op("GET /v1/experiments/{id}/results", "Experiments", "An experiment's results: verdict, effects, guardrails, SRM",
             "admin", {"200": ("The results (JSON), or the HTML report with `format=html`", ref("ExperimentResults"))},
             [("400", "Invalid parameter", "Invalid parameter", "format", "must be one of json, html, got 'pdf'"),
              ("404", "Unknown experiment", "Unknown experiment", "id", "no experiment 'blend-test'")],
             parameters=[path("id", "The experiment id", "blend-test"),
                         query("format", "`json` (default) or `html`: the report with plots",
                               {"type": "string", "enum": ["json", "html"]}),
                         query("window_s", "Attribution window in seconds (default 86400)", seconds),
                         query("pre_period_s", "CUPED pre-period in seconds (default 1209600)", seconds)],
             description=RESULTS_DESCRIPTION)
    ok = get["responses"]["200"]
    ok["content"]["application/json"]["example"] = EXAMPLE
    ok["content"]["text/html"] = {"schema": {"type": "string"}}
    paths["/v1/experiments/{id}/results"] = {"get": get}
