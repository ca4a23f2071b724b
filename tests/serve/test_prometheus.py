"""Metrics counted on the request path and published in bulk: the exposition equals what
prometheus_client's own ``observe`` and ``inc`` give for the same observations (the oracle)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from datawheel.serve.prometheus import BATCH_BUCKETS, LATENCY_BUCKETS, Metrics


def _samples(text: str, prefix: str) -> list[str]:
    return sorted(
        line for line in text.splitlines() if line.startswith(prefix) and "_created" not in line
    )


def _oracle(latencies, batches, statuses) -> str:
    registry = CollectorRegistry()
    requests = Counter("datawheel_requests", "x", ["endpoint", "status"], registry=registry)
    latency = Histogram(
        "datawheel_request_duration_seconds", "x", ["endpoint"], buckets=LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    rows = Histogram("datawheel_batch_rows", "x", buckets=BATCH_BUCKETS, registry=registry)
    for (endpoint, seconds), status in zip(latencies, statuses, strict=True):
        requests.labels(endpoint, str(status)).inc()
        latency.labels(endpoint).observe(seconds)
    for n in batches:
        rows.observe(n)
    return generate_latest(registry).decode()


def test_render_when_observations_published_in_bulk_then_equal_to_observing_one_by_one():
    rng = random.Random(0)
    latencies = [
        (rng.choice(["predict", "explain"]), rng.choice([*LATENCY_BUCKETS, 0.0001, 9.0, 0.003]))
        for _ in range(500)
    ]  # bucket bounds exactly, between them, and past the last
    statuses = [rng.choice([200, 200, 429, 500]) for _ in latencies]
    batches = [rng.choice([1, 2, 3, 16, 128, 2000]) for _ in range(200)]
    metrics = Metrics()
    for i, ((endpoint, seconds), status) in enumerate(zip(latencies, statuses, strict=True)):
        metrics.request(endpoint, status, seconds)
        if i % 97 == 0:
            metrics.publish()  # several partial publishes, as the timer does
    for n in batches:
        metrics.batch(n, 1)
    ours, oracle = metrics.render(), _oracle(latencies, batches, statuses)
    for prefix in ("datawheel_requests_total", "datawheel_request_duration_seconds",
                   "datawheel_batch_rows"):  # fmt: skip
        assert _samples(ours, prefix) == _samples(oracle, prefix), prefix
    metrics.close()


def test_render_when_nothing_new_then_publishing_again_changes_nothing():
    metrics = Metrics()
    metrics.request("predict", 200, 0.002)
    metrics.rows("predict", 3)
    metrics.error("predict", "rate_limited")
    first = metrics.render()
    assert metrics.render() == first
    assert metrics.value("datawheel_rows_total", {"endpoint": "predict"}) == 3
    assert (
        metrics.value("datawheel_errors_total", {"endpoint": "predict", "code": "rate_limited"})
        == 1
    )
    metrics.close()
