"""Prometheus metrics of one worker process, rendered in the text exposition format 0.0.4."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out, running = [], 0
        for bound, count in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            running += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {running}')
        braces = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{braces} {self.total:.6f}")
        out.append(f"{name}_count{braces} {running}")
        return out


class Metrics:
    """Counters and histograms updated on the request path (a dict increment each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.rows: defaultdict[str, int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.batch_rows = _Histogram(BATCH_BUCKETS)
        self.batch_requests = _Histogram(BATCH_BUCKETS)
        self.models: dict[str, str] = {}  # stage → version served
        # failures off the request path (each also logged), by component: flush, background,
        # model_refresh; and the prediction-log rows such failures lost
        self.internal_errors: defaultdict[str, int] = defaultdict(int)
        self.log_rows_dropped = 0
        self.explain_cancelled = 0  # explanations stopped at their timeout

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests[(endpoint, status)] += 1
        histogram = self.latency.get(endpoint)
        if histogram is None:
            histogram = self.latency.setdefault(endpoint, _Histogram(LATENCY_BUCKETS))
        histogram.observe(seconds)

    def error(self, endpoint: str, code: str) -> None:
        self.errors[(endpoint, code)] += 1

    def internal_error(self, component: str, dropped_rows: int = 0) -> None:
        self.internal_errors[component] += 1
        self.log_rows_dropped += dropped_rows

    def batch(self, rows: int, requests: int) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)

    def render(self) -> str:
        out = [
            "# HELP datawheel_requests_total HTTP requests by endpoint and status.",
            "# TYPE datawheel_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.requests.items()):
            out.append(f'datawheel_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        out += [
            "# HELP datawheel_request_duration_seconds Time from request to response.",
            "# TYPE datawheel_request_duration_seconds histogram",
        ]
        for endpoint, histogram in sorted(self.latency.items()):
            out += histogram.lines("datawheel_request_duration_seconds", f'endpoint="{endpoint}"')
        out += [
            "# HELP datawheel_rows_total Rows predicted or explained.",
            "# TYPE datawheel_rows_total counter",
        ]
        out += [f'datawheel_rows_total{{endpoint="{e}"}} {n}' for e, n in sorted(self.rows.items())]
        out += [
            "# HELP datawheel_errors_total Error responses by endpoint and error code.",
            "# TYPE datawheel_errors_total counter",
        ]
        for (endpoint, code), n in sorted(self.errors.items()):
            out.append(f'datawheel_errors_total{{endpoint="{endpoint}",code="{code}"}} {n}')
        out += [
            "# HELP datawheel_batch_rows Rows per micro-batched forward pass.",
            "# TYPE datawheel_batch_rows histogram",
            *self.batch_rows.lines("datawheel_batch_rows", ""),
            "# HELP datawheel_batch_requests Requests per micro-batched forward pass.",
            "# TYPE datawheel_batch_requests histogram",
            *self.batch_requests.lines("datawheel_batch_requests", ""),
            "# HELP datawheel_explain_cancelled_total Explanations stopped at the timeout.",
            "# TYPE datawheel_explain_cancelled_total counter",
            f"datawheel_explain_cancelled_total {self.explain_cancelled}",
            "# HELP datawheel_model_info The model version served, by stage.",
            "# TYPE datawheel_model_info gauge",
        ]
        out += [
            f'datawheel_model_info{{stage="{stage}",version="{version}"}} 1'
            for stage, version in sorted(self.models.items())
        ]
        out += [
            "# HELP datawheel_internal_errors_total Failures off the request path (each logged).",
            "# TYPE datawheel_internal_errors_total counter",
            *(
                f'datawheel_internal_errors_total{{component="{component}"}} {n}'
                for component, n in sorted(self.internal_errors.items())
            ),
            "# HELP datawheel_log_rows_dropped_total Prediction log rows lost (each loss logged).",
            "# TYPE datawheel_log_rows_dropped_total counter",
            f"datawheel_log_rows_dropped_total {self.log_rows_dropped}",
        ]
        return "\n".join(out) + "\n"
