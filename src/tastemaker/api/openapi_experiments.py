"""The OpenAPI entries of experiments: ``/v1/experiments`` and ``/v1/experiments/{id}``, their
schemas and examples, and the canary parameters of ``POST /v1/models/{version}/promote``."""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.openapi_examples import problem_example
from tastemaker.api.openapi_schemas import _n, _obj, _s, ref
from tastemaker.experiments.spec import DIRECTIONS, KINDS, RANKERS, STATUSES

_NOW = 1764921600.0
_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
_NULL_STR = {"type": ["string", "null"]}

EXAMPLE_BODY = {
    "id": "home-trending", "name": "More trending on home", "placements": ["home"],
    "variants": [{"name": "control", "share": 0.5},
                 {"name": "more-trending", "share": 0.5, "override": {"blend": {"trending": 0.6}, "diversity": {"lambda": 0.3}}}],
    "primary_metric": {"metric": "ctr"}, "guardrails": [{"metric": "revenue", "threshold": 0.02}],
    "design": {"baseline": 0.05, "mde": 0.05},
}
EXAMPLE = {
    **EXAMPLE_BODY, "description": "", "kind": "ab", "layer": "default", "exclusion_group": None, "offset": 0,
    "variants": [{"name": "control", "share": 0.5, "override": {}},
                 {"name": "more-trending", "share": 0.5, "override": {
                     "blend": {"trending": {"weight": 0.6}},
                     "diversity": {"lambda": 0.3, "by": "categories", "calibration": 0.0, "method": "mmr"}}}],
    "population": {"segments": [], "context": {}}, "primary_metric": {"metric": "ctr", "direction": "increase"},
    "guardrails": [{"metric": "revenue", "direction": "increase", "threshold": 0.02}], "alpha": 0.05, "start": None,
    "stop": None, "status": "draft", "salt": "default:home-trending", "status_reason": None,
    "design": {"baseline": 0.05, "mde": 0.05, "power": 0.8}, "started_at": None, "stopped_at": None, "created_at": _NOW, "updated_at": _NOW, "version": 1,
    "sample_size": {"users_per_variant": {"control": 122107, "more-trending": 122107}, "total_users": 244214,
                    "metric": "ctr", "baseline": 0.05, "mde": 0.05, "power": 0.8, "alpha": 0.05},
}
RUNNING = {**EXAMPLE, "status": "running", "started_at": _NOW + 60, "updated_at": _NOW + 60, "version": 2}


def experiment_schemas() -> dict[str, Any]:
    metric = _obj({"metric": _s("ctr, add_to_cart_rate, conversion, revenue, ..., or (guardrails) error_rate, "
                                "latency_p99_ms"),
                   "direction": {"type": "string", "enum": list(DIRECTIONS), "description": "The direction that is good"},
                   "threshold": _n("Guardrails: the tolerated change the bad way, relative to control (0.02), or an "
                                   "absolute budget for error_rate and latency_p99_ms")}, ["metric"])
    override = _obj({
        "model_version": {"type": ["integer", "null"], "minimum": 1, "description": "A registered model version"},
        "blend": {"type": "object", "description": "Source -> weight, or {weight, n}: replaces the placement's",
                  "additionalProperties": {"oneOf": [{"type": "number", "minimum": 0},
                                                     _obj({"weight": {"type": "number", "minimum": 0},
                                                           "n": {"type": "integer", "minimum": 1}})]}},
        "ranker": {"type": "string", "enum": list(RANKERS)},
        "rules": {"type": "array", "items": {"type": "object"}, "description": "Rules in the placement format, replacing its own"},
        "diversity": _obj({"lambda": {"type": "number", "minimum": 0, "maximum": 1}, "by": {"type": "string"},
                           "calibration": {"type": "number", "minimum": 0, "maximum": 1}, "method": {"type": "string"}}),
    }, description="What the variant changes in the placement pipeline; empty: the placement as it is")
    variant = _obj({"name": _NAME, "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                                             "description": "Share of users (multiples of 1/10,000): also the propensity"},
                    "override": override}, ["name", "share"])
    design = _obj({"baseline": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                   "mde": {"type": "number", "exclusiveMinimum": 0, "description": "Relative lift to detect"},
                   "power": {"type": "number", "minimum": 0.5, "maximum": 0.999}}, ["baseline", "mde"],
                  "For the sample size: the primary metric's base rate and the lift to detect")
    fields = {
        "id": _NAME, "name": {"type": "string", "maxLength": 200}, "description": {"type": "string"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "placements": {"type": "array", "minItems": 1, "items": {"type": "string"},
                       "description": "Placement names; `*`: every placement"},
        "variants": {"type": "array", "minItems": 2, "items": variant, "description": "The first is the control"},
        "layer": _NAME, "exclusion_group": {"type": ["string", "null"]},
        "offset": {"type": "integer", "minimum": 0, "description": "First bucket taken in the exclusion group's space"},
        "population": _obj({"segments": {"type": "array", "items": {"type": "string"}},
                            "context": {"type": "object", "additionalProperties": {
                                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}}),
        "primary_metric": metric, "guardrails": {"type": "array", "items": metric},
        "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
        "start": {"type": ["number", "string", "null"], "description": "Epoch seconds or ISO 8601"},
        "stop": {"type": ["number", "string", "null"]},
        "status": {"type": "string", "enum": list(STATUSES)},
        "salt": {"type": "string", "description": "Assignment hashes (salt, user id); default `layer:id`"},
        "status_reason": _NULL_STR, "design": {"oneOf": [design, {"type": "null"}]},
    }
    stored = {**fields, "created_at": _n("Epoch seconds"), "updated_at": _n("Epoch seconds"),
              "version": _n("Increments with every change", "integer"),
              "sample_size": {"type": ["object", "null"], "description": "Users per variant and in all to detect the "
                              "design's lift (null without a design)"},
              "started_at": {"type": ["number", "null"], "description": "When it started running (epoch seconds, "
                             "recorded by the server); results start here, or at `start` if later"},
              "stopped_at": {"type": ["number", "null"], "description": "When it stopped (epoch seconds, recorded by "
                             "the server); results end here"}}
    return {
        "ExperimentRequest": _obj(fields, ["id", "placements", "variants"], "An A/B/n test on placements", closed=True),
        "Experiment": _obj(stored, ["id", "placements", "variants", "status", "salt", "version", "created_at"]),
        "ExperimentList": _obj({"experiments": {"type": "array", "items": ref("Experiment")}}, ["experiments"]),
        "ExperimentPatch": _obj({"status": {"type": "string", "enum": list(STATUSES)},
                                 "shares": {"type": "object", "additionalProperties": {"type": "number"}},
                                 "stop": {"type": ["number", "string", "null"]}, "name": {"type": "string"},
                                 "description": {"type": "string"}, "status_reason": {"type": "string"}},
                                description="Status (draft -> running -> stopped), shares by variant, stop time, labels",
                                closed=True),
        "ExperimentExposure": _obj({"id": _s("Experiment id (`global-holdout`: the global holdout)"),
                                    "variant": _s("The variant served"),
                                    "propensity": {"type": "number", "description": "The probability the design gave it"}},
                                   ["id", "variant", "propensity"]),
    }


def _examples(op: dict[str, Any], values: dict[str, Any], request: tuple[str, Any] | None = None) -> dict[str, Any]:
    for status, value in values.items():
        op["responses"][status]["content"]["application/json"]["example"] = value
    if request is not None:
        op["requestBody"]["content"]["application/json"]["examples"] = {"example": {"summary": request[0], "value": request[1]}}
    return op


def add_experiment_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], query: Callable[..., dict[str, Any]],
                         path: Callable[..., dict[str, Any]], problems: dict[str, tuple]) -> None:
    malformed, too_large = problems["malformed"], problems["too_large"]
    invalid = ("422", "Invalid experiment; nothing was stored", "Invalid experiment", "/variants/1/share",
               "must be between 0.0001 and 1")
    unknown = ("404", "Unknown experiment", "Unknown experiment", "id", "no experiment 'home-trending-x'")
    bad_id = ("400", "Invalid id", "Invalid experiment id", "id", "an experiment id is 1-64 of a-z, 0-9, '-', '_'")
    paths["/v1/experiments"] = {
        "get": _examples(op("GET /v1/experiments", "Experiments", "Experiments, oldest first", "read",
                            {"200": ("Every experiment (or those with `status`)", ref("ExperimentList"))},
                            [("400", "Invalid query", "Invalid experiment query", "status", "must be one of: draft, running, stopped")],
                            parameters=[query("status", "Only experiments with this status", {"type": "string", "enum": list(STATUSES)})]),
                         {"200": {"experiments": [EXAMPLE]}}),
        "post": _examples(op("POST /v1/experiments", "Experiments", "Create an experiment", "admin",
                             {"201": ("Created (`Location` is its URL)", ref("Experiment"))},
                             [malformed, ("409", "The id exists, or its exclusion group has no room", "Experiment conflict",
                                          None, None), too_large, invalid],
                             body=ref("ExperimentRequest"),
                             description="Variants split the placements' traffic by a hash of (salt, user id): stable "
                                         "across restarts and processes. Every response of a user in the experiment "
                                         "carries `experiments: [{id, variant, propensity}]`, and so does its "
                                         "impression. `status: running` starts it at once. Audited as `experiments.create`."),
                          {"201": EXAMPLE}, ("An A/B test of the home blend", EXAMPLE_BODY)),
    }
    paths["/v1/experiments/{id}"] = {
        "parameters": [path("id", "The experiment id", "home-trending", dict(_NAME))],
        "get": _examples(op("GET /v1/experiments/{id}", "Experiments", "One experiment", "read",
                            {"200": ("Found", ref("Experiment"))}, [bad_id, unknown]), {"200": EXAMPLE}),
        "patch": _examples(op("PATCH /v1/experiments/{id}", "Experiments", "Start, stop or re-share an experiment", "admin",
                              {"200": ("Changed", ref("Experiment"))},
                              [malformed, unknown, ("409", "A transition its status forbids", "Invalid experiment change",
                                                    None, None), too_large,
                               ("422", "Invalid change", "Invalid experiment change", "/shares/more-trending",
                                "must be between 0.0001 and 1")],
                              body=ref("ExperimentPatch"),
                              description="`status` moves draft -> running -> stopped only (a stopped experiment stays "
                                          "stopped: its data is final). Changing `shares` while running re-assigns the "
                                          "users of the buckets that move. Audited as `experiments.update`."),
                           {"200": RUNNING}, ("Start it", {"status": "running"})),
    }
    promote = paths["/v1/models/{version}/promote"]["post"]
    promote["parameters"] = [
        *promote.get("parameters", []),
        query("canary", "Start a canary instead of promoting: the share of users the version serves",
              {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
        query("max_error_rate", "The canary's error budget (default 0.01)", {"type": "number", "minimum": 0, "maximum": 1}),
        query("latency_budget_ms", "The canary's p99 latency budget in ms (default 100)", {"type": "number", "exclusiveMinimum": 0}),
    ]
    promote["responses"]["201"] = {"description": "Canary started: an experiment of kind `canary` (control: the serving "
                                                  "version); a guardrail breach stops it and says why in `status_reason`",
                                   "content": {"application/json": {"schema": ref("Experiment"), "example": {
                                       **RUNNING, "id": "canary-v3-1764921600000", "kind": "canary", "placements": ["*"],
                                       "layer": "canary", "exclusion_group": "model-canary", "design": None, "sample_size": None,
                                       "variants": [{"name": "control", "share": 0.9, "override": {"model_version": 2}},
                                                    {"name": "candidate", "share": 0.1, "override": {"model_version": 3}}],
                                       "guardrails": [{"metric": "error_rate", "direction": "decrease", "threshold": 0.01},
                                                      {"metric": "latency_p99_ms", "direction": "decrease", "threshold": 100.0}],
                                       "primary_metric": {"metric": "ctr", "direction": "increase"},
                                       "salt": "canary:canary-v3-1764921600"}}}}
    promote["responses"]["409"] = {"description": "A canary runs already, or the version serves", "content": {
        "application/problem+json": {"schema": ref("Problem"), "example": problem_example(
            409, "Canary refused", None, None, "exclusion group 'model-canary' has no room for shares adding up to 1: "
                                               "stop one of its experiments first")}}}
