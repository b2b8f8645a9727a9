"""api.openapi_read_after: the position a write returns and the header a read waits with are documented."""

from __future__ import annotations

from tastemaker.api.openapi import build_openapi
from tastemaker.api.openapi_read_after import READS


def test_the_position_header_and_the_read_parameter_are_documented():
    paths = build_openapi()["paths"]
    assert "X-Tastemaker-Position" in paths["/v1/events"]["post"]["responses"]["200"]["headers"]
    for path in READS:
        op = paths[path]["get"]
        assert [p for p in op["parameters"] if p["in"] == "header"][0]["name"] == "X-Tastemaker-After"
        assert "Retry-After" in op["responses"]["503"]["headers"]
        assert {"400", "503"} <= set(op["responses"])
    assert "X-Tastemaker-After" not in str(paths["/v1/items/{id}"])  # only the reads served from state
