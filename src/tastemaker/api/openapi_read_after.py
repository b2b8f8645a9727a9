"""OpenAPI for read-your-writes across workers (api.read_after): the position a write returns
and the header a read carries to wait for it."""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.read_after import HEADER, POSITION_HEADER

# the reads answered from a worker's online state: the ones a position makes sense for
READS = ("/v1/recommendations", "/v1/items/{id}/similar", "/v1/users/{id}", "/v1/users/{id}/export")

POSITION = {"type": "string", "pattern": "^[0-9]{1,19}$"}
WRITE_HEADER = {"description": (
    "The event log position of the batch's last event (of their first copies when all were duplicates). "
    f"Send it as `{HEADER}` on a later read, to any worker, to read this write."), "schema": POSITION, "example": "4711"}
READ_PARAMETER = {
    "name": HEADER, "in": "header", "required": False, "schema": POSITION, "example": "4711",
    "description": (
        f"Read your writes on any worker: a log position `POST /v1/events` returned in `{POSITION_HEADER}`. "
        "The worker answers once its state has applied the log at least that far, waiting at most "
        "`TASTEMAKER_READ_WAIT_S` (2 s), else 503. Without it a worker answers from what it has applied (it "
        "follows the log continuously: other workers' events show within milliseconds). Distributed deployment "
        "only: the embedded one ignores it, every read there already sees every acknowledged write."),
}


def add_read_after(paths: dict[str, Any], problem: Callable[..., dict[str, Any]]) -> None:
    """Document ``X-Tastemaker-Position`` on ``POST /v1/events`` and ``X-Tastemaker-After`` (with its
    400 and 503) on :data:`READS`."""
    paths["/v1/events"]["post"]["responses"]["200"]["headers"] = {POSITION_HEADER: WRITE_HEADER}
    not_reached = problem(
        "This worker did not reach the requested log position in time (retry, or read without it)", "503",
        "Position not reached", detail=f"this worker has applied the event log up to position 4702; position 4711 "
                                       f"({HEADER}) was not reached within 2 s: retry, or send the request without it")
    not_reached["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
    bad = problem("Invalid parameter or header", "400", "Invalid header", HEADER,
                  f"must be a log position (a non-negative integer, as POST /v1/events returns in {POSITION_HEADER}), "
                  "not 'soon'")
    for path in READS:
        op = paths[path]["get"]
        op["parameters"] = [*op.get("parameters", []), READ_PARAMETER]
        op["responses"].setdefault("400", bad)
        op["responses"]["503"] = not_reached
