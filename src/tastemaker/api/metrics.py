"""Prometheus metrics: request counts and latency per route, plus engine gauges."""

from __future__ import annotations

import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.events_accepted = 0
        self.events_duplicate = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        counts = self.latency[route]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.latency_sum[route] += seconds

    def render(self, gauges: dict[str, float]) -> str:
        lines = ["# TYPE tastemaker_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            lines.append(f'tastemaker_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
        lines.append("# TYPE tastemaker_http_request_duration_seconds histogram")
        for route, counts in sorted(self.latency.items()):
            cumulative = 0
            for bound, n in zip(list(BUCKETS) + ["+Inf"], counts):
                cumulative += n
                lines.append(f'tastemaker_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {cumulative}')
            lines.append(f'tastemaker_http_request_duration_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            lines.append(f'tastemaker_http_request_duration_seconds_count{{route="{route}"}} {cumulative}')
        lines.append("# TYPE tastemaker_events_total counter")
        lines.append(f'tastemaker_events_total{{result="accepted"}} {self.events_accepted}')
        lines.append(f'tastemaker_events_total{{result="duplicate"}} {self.events_duplicate}')
        for name, value in sorted(gauges.items()):
            lines.append(f"# TYPE tastemaker_{name} gauge")
            lines.append(f"tastemaker_{name} {value}")
        return "\n".join(lines) + "\n"


def route_label(path: str) -> str:
    """Collapse ids out of paths so label cardinality stays bounded."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "v1":
        return "/".join(parts[:3] + ["{id}"] + parts[4:5])
    return path if len(parts) <= 3 else "/".join(parts[:3])


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe(scope["method"], route_label(scope["path"]), status, time.perf_counter() - start)
