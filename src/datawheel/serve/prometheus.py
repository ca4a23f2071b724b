"""Prometheus metrics of the whole server: every worker's counters and histograms, summed by
whichever worker answers the scrape.

``datawheel serve`` gives each server a fresh directory in ``PROMETHEUS_MULTIPROC_DIR``
(``background.worker_metrics_dir``, removed at stop). Each worker publishes its values to
memory-mapped files there (prometheus_client's multiprocess mode), and a scrape reads and sums
every worker's files — those of workers that died included, so counters never go backwards.
Without the variable (an app built in a test or the demo) the values live in the process.

The request path does not call prometheus_client: each observation through it costs 1–3 µs
(a lock, a pid check, a store into the mapping), about 13 µs over the metrics of one request.
Requests count into plain integers and bucket lists instead (well under a µs), written by the
worker's event-loop thread alone; a publisher adds what changed to the library's values every
``publish_seconds`` and before each scrape this worker answers. Another worker's numbers in a
scrape are at most that old.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from datawheel.serve.background import MULTIPROC_ENV

__all__ = ["LATENCY_BUCKETS", "PUBLISH_SECONDS", "Metrics"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
PUBLISH_SECONDS = 0.25
_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")  # a worker's live gauges: pid at the end


class _Buckets:
    """One histogram's observations since the start: a count per bucket (the last is +Inf,
    ``value <= bound`` as in Prometheus) and their sum."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value


class Metrics:
    """The metrics of one worker process; ``request``, ``rows``, ``error`` and ``batch`` run
    on its event-loop thread, ``internal_error`` on any."""

    def __init__(self, *, publish_seconds: float = PUBLISH_SECONDS) -> None:
        self.directory = os.environ.get(MULTIPROC_ENV) or None
        if self.directory and _values.ValueClass is _values.MutexValue:
            # prometheus_client read the variable at import, before it was set: values live in
            # this process, so report this process alone rather than the directory's nothing
            log.warning("%s was set after prometheus_client was imported", MULTIPROC_ENV)
            self.directory = None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._prom = {
            "requests": Counter(
                "datawheel_requests", "HTTP requests by endpoint and status.",
                ["endpoint", "status"], registry=r,
            ),
            "latency": Histogram(
                "datawheel_request_duration_seconds", "Time from request to response.",
                ["endpoint"], buckets=LATENCY_BUCKETS, registry=r,
            ),
            "rows": Counter(
                "datawheel_rows", "Rows predicted or explained.", ["endpoint"], registry=r
            ),
            "errors": Counter(
                "datawheel_errors", "Error responses by endpoint and error code.",
                ["endpoint", "code"], registry=r,
            ),
            "batch_rows": Histogram(
                "datawheel_batch_rows", "Rows per micro-batched forward pass.",
                buckets=BATCH_BUCKETS, registry=r,
            ),
            "batch_requests": Histogram(
                "datawheel_batch_requests", "Requests per micro-batched forward pass.",
                buckets=BATCH_BUCKETS, registry=r,
            ),
        }  # fmt: skip
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
        # what the request path counted, and what the publisher has handed on so far
        self._counts: dict[str, defaultdict[tuple[Any, ...], int]] = {
            name: defaultdict(int) for name in ("requests", "rows", "errors")
        }
        self._latency: dict[str, _Buckets] = {}
        self._batch_rows = _Buckets(BATCH_BUCKETS)
        self._batch_requests = _Buckets(BATCH_BUCKETS)
        self._published: dict[tuple[str, tuple[Any, ...]], Any] = {}
        self._publishing = threading.Lock()  # the timer and a scrape; never the request path
        self.models: dict[str, str] = {}  # stage → version this worker serves
        self._stop = threading.Event()
        if self.directory:
            threading.Thread(
                target=self._publish_every, args=(publish_seconds,), name="datawheel-metrics",
                daemon=True,
            ).start()  # fmt: skip

    # -- the request path: plain Python, no lock, no library call ---------------------------

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self._counts["requests"][(endpoint, status)] += 1
        histogram = self._latency.get(endpoint)
        if histogram is None:
            histogram = self._latency.setdefault(endpoint, _Buckets(LATENCY_BUCKETS))
        histogram.observe(seconds)

    def rows(self, endpoint: str, rows: int) -> None:
        self._counts["rows"][(endpoint,)] += rows

    def error(self, endpoint: str, code: str) -> None:
        self._counts["errors"][(endpoint, code)] += 1

    def internal_error(self, component: str, dropped_rows: int = 0) -> None:
        """A failure off the request path (any thread): counted at once, not buffered."""
        self._internal_errors.labels(component).inc()
        if dropped_rows:
            self._log_rows_dropped.inc(dropped_rows)

    def explanation_cancelled(self) -> None:
        """An explanation stopped at its timeout (on the explaining thread)."""
        self._explain_cancelled.inc()

    def batch(self, rows: int, requests: int) -> None:
        self._batch_rows.observe(rows)
        self._batch_requests.observe(requests)

    # -- publishing and scraping -------------------------------------------------------------

    def publish(self) -> None:
        """Add what was counted since the last call to prometheus_client's values."""
        with self._publishing:
            for name, by_labels in self._counts.items():
                for labels, count in by_labels.copy().items():
                    delta = count - self._published.get((name, labels), 0)
                    if delta:
                        counter: Any = self._prom[name]
                        counter.labels(*map(str, labels)).inc(delta)
                        self._published[(name, labels)] = count
            histograms: dict[tuple[str, tuple[str, ...]], _Buckets] = {
                ("latency", (endpoint,)): h for endpoint, h in self._latency.copy().items()
            }
            histograms[("batch_rows", ())] = self._batch_rows
            histograms[("batch_requests", ())] = self._batch_requests
            for (name, labels), buckets in histograms.items():
                counts, total = list(buckets.counts), buckets.total
                before = self._published.get((name, labels), ([0] * len(counts), 0.0))
                if counts != before[0]:
                    metric = self._prom[name].labels(*labels) if labels else self._prom[name]
                    _add_observations(metric, counts, before[0], total - before[1])
                    self._published[(name, labels)] = (counts, total)

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
        """A worker stopping: its last counts published, its live gauge gone (its counters
        stay in the sums)."""
        self._stop.set()
        self.publish()
        if self.directory:
            mark_process_dead(os.getpid(), self.directory)

    def _publish_every(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.publish()
            except Exception:  # keep serving; the next tick or scrape publishes again
                log.exception("publishing metrics failed")

    def _scraped(self) -> CollectorRegistry:
        self.publish()
        if not self.directory:
            return self.registry
        _forget_dead_workers(self.directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.directory)
        return registry

    def _collect(self) -> Iterator[Any]:
        return iter(self._scraped().collect())


def _add_observations(
    histogram: Any, counts: list[int], before: list[int], sum_delta: float
) -> None:
    """Add many observations to a prometheus_client histogram at once. The library has no call
    for it, so this increments the per-bucket and sum values ``Histogram.observe`` itself
    increments (``_buckets``, ``_sum``); tests compare the result with ``observe``."""
    for value, now, then in zip(histogram._buckets, counts, before, strict=True):
        if now != then:
            value.inc(now - then)
    if sum_delta:
        histogram._sum.inc(sum_delta)


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
