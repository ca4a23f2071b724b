"""The write-behind never loses rows silently: a refused flush is queued again, a loss is
logged and counted on /metrics. The outage is real: the predictions table goes away."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from datawheel.serve.prometheus import Metrics
from datawheel.serve.writer import WriteBehind
from datawheel.store.db import predictions, usage
from datawheel.store.workspace import Workspace


def _row(i: int, features: object = None) -> tuple:
    at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    return (f"p{i:04d}", "t1", "v1", None, features if features is not None else {"x": i}, "yes",
            {"yes": 0.9, "no": 0.1}, 1.0, False, at, f"p{i:04d}")  # fmt: skip


def _ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(predictions.c.id)).scalars())


def _table(engine: Engine, there: bool) -> None:
    """Take the predictions table away (an outage the database reports) or bring it back."""
    old, new = (
        ("predictions", "predictions_away") if not there else ("predictions_away", "predictions")
    )
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def writer(sqlite_workspace: Workspace, metrics: Metrics) -> Iterator[WriteBehind]:
    out = WriteBehind(sqlite_workspace.engine, max_pending_rows=5, on_error=metrics.internal_error)
    yield out
    out.close()


def test_write_behind_when_flush_refused_then_requeued_and_written_once_back(
    sqlite_workspace: Workspace, writer: WriteBehind, metrics: Metrics
) -> None:
    engine = sqlite_workspace.engine
    _table(engine, there=False)
    writer.log([_row(1), _row(2)])
    writer.meter("t1", "predict", 2)
    writer.meter_error("t1", "predict", server=False)  # counters wait with the rows
    writer.flush()  # returns after the refused attempt; the rows wait at the queue's head
    assert writer.failed_flushes >= 1 and writer.dropped_rows == 0
    _table(engine, there=True)
    writer.log([_row(3)])
    writer.meter_error("t1", "predict", server=False)
    writer.flush()
    assert _ids(engine) == ["p0001", "p0002", "p0003"]  # each row once, none lost
    with engine.connect() as conn:
        counted = conn.execute(select(usage.c.requests, usage.c.rows, usage.c.client_errors))
        assert counted.one() == (1, 2, 2)  # merged with the later ones, counted once
    assert (
        metrics.value("datawheel_internal_errors_total", {"component": "flush"}) >= 1
        and metrics.value("datawheel_log_rows_dropped_total") == 0
    )


def test_write_behind_when_outage_outgrows_the_buffer_then_oldest_dropped_and_counted(
    sqlite_workspace: Workspace, writer: WriteBehind, metrics: Metrics, caplog
) -> None:
    engine = sqlite_workspace.engine
    _table(engine, there=False)
    with caplog.at_level(logging.ERROR, logger="datawheel.serve.writer"):
        writer.log([_row(i) for i in range(1, 9)])  # 8 rows, room for 5
        writer.flush()
    assert writer.dropped_rows == 3 and metrics.value("datawheel_log_rows_dropped_total") == 3
    assert any("dropped the 3 oldest" in r.getMessage() for r in caplog.records)
    _table(engine, there=True)
    writer.submit(lambda: None)  # one more turn of the writer: the queued rows go in
    writer.flush()
    assert _ids(engine) == [f"p{i:04d}" for i in range(4, 9)]
    assert "datawheel_log_rows_dropped_total 3.0" in metrics.render()


def test_write_behind_when_batch_rejected_then_dropped_counted_and_log_goes_on(
    sqlite_workspace: Workspace, writer: WriteBehind, metrics: Metrics
) -> None:
    writer.log([_row(1, features={"x": {1, 2}})])  # a set: no JSON for it, ever
    writer.flush()
    assert (
        writer.dropped_rows == 1
        and metrics.value("datawheel_internal_errors_total", {"component": "flush"}) == 1
    )
    writer.log([_row(2)])
    writer.flush()
    assert _ids(sqlite_workspace.engine) == ["p0002"]  # the next batch is not held up


def test_write_behind_when_closed_during_outage_then_rows_dropped_and_said(
    sqlite_workspace: Workspace, metrics: Metrics, caplog
) -> None:
    engine = sqlite_workspace.engine
    writer = WriteBehind(engine, on_error=metrics.internal_error)
    _table(engine, there=False)
    writer.log([_row(1), _row(2)])
    with caplog.at_level(logging.ERROR, logger="datawheel.serve.writer"):
        writer.close()
    assert not writer._thread.is_alive()
    assert writer.dropped_rows == 2 and metrics.value("datawheel_log_rows_dropped_total") == 2
    assert any("writer stopped" in r.getMessage() for r in caplog.records)
    _table(engine, there=True)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(predictions)).scalar() == 0
