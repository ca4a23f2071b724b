"""Prometheus metrics of the whole server: every worker's counters and histograms, summed by
whichever worker answers the scrape.

``datawheel serve`` gives each server a fresh directory in ``PROMETHEUS_MULTIPROC_DIR``
(``background.worker_metrics_dir``, removed at stop). Each worker keeps its values in
memory-mapped files there — prometheus_client's multiprocess mode: an increment is a store into
the mapping under an uncontended lock, no system call — and a scrape reads and sums every
worker's files, those of workers that died included, so counters never go backwards. Without
the variable (an app built in a test or the demo) the values live in the process.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from datawheel.serve.background import MULTIPROC_ENV

__all__ = ["LATENCY_BUCKETS", "Metrics"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")  # a worker's live gauges: pid at the end


class Metrics:
    """Counters and histograms updated on the request path; one per worker process."""

    def __init__(self) -> None:
        self.directory = os.environ.get(MULTIPROC_ENV) or None
        if self.directory and _values.ValueClass is _values.MutexValue:
            # prometheus_client read the variable at import, before it was set: values live in
            # this process, so report this process alone rather than the directory's nothing
            log.warning("%s was set after prometheus_client was imported", MULTIPROC_ENV)
            self.directory = None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "datawheel_requests", "HTTP requests by endpoint and status.",
            ["endpoint", "status"], registry=r,
        )  # fmt: skip
        self._latency = Histogram(
            "datawheel_request_duration_seconds", "Time from request to response.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._rows = Counter(
            "datawheel_rows", "Rows predicted or explained.", ["endpoint"], registry=r
        )
        self._errors = Counter(
            "datawheel_errors", "Error responses by endpoint and error code.",
            ["endpoint", "code"], registry=r,
        )  # fmt: skip
        self._batch_rows = Histogram(
            "datawheel_batch_rows", "Rows per micro-batched forward pass.",
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self._batch_requests = Histogram(
            "datawheel_batch_requests", "Requests per micro-batched forward pass.",
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        # failures off the request path (each also logged), by component: flush, background,
        # model_refresh; and the prediction-log rows such failures lost. Rare, and reported from
        # the writer's and the model poller's threads: straight into the library's values.
        self._internal_errors = Counter(
            "datawheel_internal_errors", "Failures off the request path (each logged).",
            ["component"], registry=r,
        )  # fmt: skip
        self._log_rows_dropped = Counter(
            "datawheel_log_rows_dropped", "Prediction log rows lost (each loss logged).",
            registry=r,
        )  # fmt: skip
        self._explain_cancelled = Counter(
            "datawheel_explain_cancelled", "Explanations stopped at the timeout.", registry=r
        )
        workers = Gauge(
            "datawheel_workers", "Worker processes serving.",
            multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        workers.set(1)
        # label lookups take a lock each: resolve every (endpoint, status) once, reuse after
        self._by_request: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._by_rows: dict[str, Any] = {}
        self.models: dict[str, str] = {}  # stage → version this worker serves

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        children = self._by_request.get((endpoint, status))
        if children is None:
            children = self._by_request.setdefault(
                (endpoint, status),
                (self._requests.labels(endpoint, str(status)), self._latency.labels(endpoint)),
            )
        children[0].inc()
        children[1].observe(seconds)

    def rows(self, endpoint: str, rows: int) -> None:
        child = self._by_rows.get(endpoint)
        if child is None:
            child = self._by_rows.setdefault(endpoint, self._rows.labels(endpoint))
        child.inc(rows)

    def error(self, endpoint: str, code: str) -> None:
        self._errors.labels(endpoint, code).inc()

    def internal_error(self, component: str, dropped_rows: int = 0) -> None:
        self._internal_errors.labels(component).inc()
        if dropped_rows:
            self._log_rows_dropped.inc(dropped_rows)

    def explanation_cancelled(self) -> None:
        """An explanation stopped at its timeout (on the explaining thread)."""
        self._explain_cancelled.inc()

    def batch(self, rows: int, requests: int) -> None:
        self._batch_rows.observe(rows)
        self._batch_requests.observe(requests)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample of the whole server, as a scrape would show it (0 when absent)."""
        for family in self._collect():
            for sample in family.samples:
                if sample.name == name and sample.labels == (labels or {}):
                    return float(sample.value)
        return 0.0

    def render(self) -> str:
        """The exposition text: every worker's metrics summed, then the model this worker
        serves (workers converge on it within ``refresh_seconds``)."""
        body = generate_latest(self._scraped()).decode()
        lines = [
            "# HELP datawheel_model_info The model version served, by stage.",
            "# TYPE datawheel_model_info gauge",
            *(
                f'datawheel_model_info{{stage="{stage}",version="{version}"}} 1'
                for stage, version in sorted(self.models.items())
            ),
        ]
        return body + "\n".join(lines) + "\n"

    def close(self) -> None:
        """A worker stopping: its live gauges go (its counters stay in the sums)."""
        if self.directory:
            mark_process_dead(os.getpid(), self.directory)

    def _scraped(self) -> CollectorRegistry:
        if not self.directory:
            return self.registry
        _forget_dead_workers(self.directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.directory)
        return registry

    def _collect(self) -> Iterator[Any]:
        return iter(self._scraped().collect())


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that died without stopping (killed, crashed): uvicorn
    starts a new worker in their place, which has a new pid."""
    for name in os.listdir(directory):
        found = _LIVE_FILE.match(name)
        if found and not _alive(int(found.group(1))):
            mark_process_dead(int(found.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
