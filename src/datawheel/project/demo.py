"""``datawheel demo``: the whole flywheel on the bundled income data, over real HTTP.

The story: the team trains on a population where people aged 45+ are rare (5 % kept). Customers
then send exactly that group. Their feedback carries the true labels; live accuracy falls below
the policy's bar; the loop retrains on training data + feedback, gates the challenger against the
champion on the same held-out rows, and promotes it — the running server swaps models live.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from datawheel.atomic import atomic_write
from datawheel.io import read_table, write_table
from datawheel.loop.drift import feature_drift
from datawheel.loop.feedback import feedback_stats, live_accuracy
from datawheel.loop.runner import LoopReport, run_once
from datawheel.project.pipeline import Project, RunReport
from datawheel.project.scaffold import init_project
from datawheel.registry.versions import get_version, list_versions
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant

__all__ = ["DemoReport", "run_demo"]

SHIFT_COLUMN, SHIFT_AT = "age", 45  # the under-represented group: age >= 45
KEPT_IN_TRAINING = 0.05
ISSUES_WHEN_WRONG = ("wrong_prediction", "wrong_prediction", "wrong_prediction", "unexpected")
ISSUES_WHEN_RIGHT = (None, None, None, "slow", "confusing_explanation")


@dataclass
class DemoReport:
    directory: Path
    run: RunReport
    loop: LoopReport
    timings: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    predictions: int = 0
    feedback: int = 0
    live_before: dict[str, Any] = field(default_factory=dict)
    drift_before: dict[str, Any] = field(default_factory=dict)  # v1: training vs the traffic
    feedback_by_issue: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    served_after: str = ""
    audit_entries: int = 0
    audit_ok: bool = False
    report_path: Path | None = None
    url: str = ""
    api_key: str = ""


def _shifted_split(frame: pl.DataFrame, *, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training population with the group at 5 %, the group's other rows as customer traffic)."""
    in_group = pl.col(SHIFT_COLUMN) >= SHIFT_AT
    group = frame.filter(in_group).sample(fraction=1.0, shuffle=True, seed=seed)
    n_kept = int(group.height * KEPT_IN_TRAINING)
    training = pl.concat([frame.filter(~in_group), group.head(n_kept)])
    return training, group.slice(n_kept)


def _json_row(row: dict[str, Any], target: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != target}


def _play_customers(
    url: str, key: str, traffic: pl.DataFrame, *, target: str, batch: int, seed: int
) -> tuple[int, int, int]:
    """Send the traffic in small batches, then feedback with true labels and issue categories."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    requests = predictions = feedbacks = 0
    rows = traffic.to_dicts()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            response = client.post(
                "/v1/predict", json={"rows": [_json_row(r, target) for r in chunk]}
            )
            response.raise_for_status()
            requests += 1
            for row, pred in zip(chunk, response.json()["predictions"], strict=True):
                predictions += 1
                wrong = pred["label"] != row[target]
                issue = rng.choice(ISSUES_WHEN_WRONG if wrong else ISSUES_WHEN_RIGHT)
                body = {
                    "prediction_id": pred["id"],
                    "label": row[target],
                    "issue": issue,
                    "rating": rng.randint(1, 2) if wrong else rng.randint(3, 5),
                }
                client.post("/v1/feedback", json=body).raise_for_status()
                feedbacks += 1
    return requests, predictions, feedbacks


def run_demo(
    directory: Path | None = None,
    *,
    traffic_rows: int = 1500,
    epochs: int | None = None,
    seed: int = 0,
    keep_serving: bool = False,
    on_stage: Any = None,
    report_file: Path | None = None,
) -> tuple[DemoReport, BackgroundServer | None]:
    """Run the demo; returns its report and, with ``keep_serving``, the still-running server.

    The HTML report goes to ``report_file`` (default: ``demo-report.html`` in ``directory``).
    """
    say = on_stage or (lambda _msg: None)
    directory = Path(directory or tempfile.mkdtemp(prefix="datawheel-demo-"))
    report_file = Path(report_file) if report_file else directory / "demo-report.html"
    timings: dict[str, float] = {}
    started = time.perf_counter()

    project_file = init_project(directory, force=True)
    raw = read_table(directory / "data" / "adult.csv.gz")
    training, traffic = _shifted_split(raw, seed=seed)
    write_table(training, directory / "data" / "adult.csv.gz")
    traffic = traffic.head(traffic_rows)
    if epochs is not None:
        text = project_file.read_text(encoding="utf-8").replace("epochs: 30", f"epochs: {epochs}")
        atomic_write(project_file, text)

    project = Project.load(project_file)
    target = project.config.data.target
    # the demo just created this project and its key: its caller is the owner, whatever
    # DATAWHEEL_ROLE says about the projects they share with others
    with project.open_workspace(actor="demo", role="admin") as ws:
        run = project.run(ws=ws, on_stage=lambda s: say(f"pipeline: {s}"))
        assert run is not None  # None only on torchrun ranks > 0; the demo is one process
        timings.update({f"pipeline.{k}": v for k, v in run.timings.items()})

        say("serving: tenant, key, server")
        create_tenant(ws, "acme-insurance", plan="pro", plans=list(project.config.serve.plans))
        key = create_key(ws, tenant="acme-insurance", role="service")
        server = BackgroundServer(
            create_app(
                project.config,
                project.open_workspace(actor="api", role="service"),
                refresh_seconds=0.2,
            )
        ).start()
        mark = time.perf_counter()
        say(f"customers: {traffic.height} rows from the shifted population → {server.url}")
        requests, predictions, feedbacks = _play_customers(
            server.url, key.secret, traffic, target=target, batch=5, seed=seed
        )
        timings["customers (HTTP)"] = round(time.perf_counter() - mark, 3)
        live_before = live_accuracy(ws, run.model_version)
        drift_before = feature_drift(
            ws, get_version(ws, run.model_version), project.config.loop
        ).to_dict()

        say("loop: live accuracy → retrain → gate")
        mark = time.perf_counter()
        loop = run_once(ws, project.config)
        timings["loop (retrain + gate)"] = round(time.perf_counter() - mark, 3)

        time.sleep(0.3)  # let the server's registry check see a promotion
        with httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {key.secret}"}
        ) as client:
            probe = client.post(
                "/v1/predict", json={"rows": [_json_row(traffic.row(0, named=True), target)]}
            )
            probe.raise_for_status()
        chain = ws.verify_audit()
        report = DemoReport(
            directory=directory,
            run=run,
            loop=loop,
            timings=timings,
            requests=requests,
            predictions=predictions,
            feedback=feedbacks,
            live_before=live_before.__dict__,
            drift_before=drift_before,
            feedback_by_issue=feedback_stats(ws, by="issue"),
            versions=[
                {
                    "id": v.id,
                    "stage": v.stage,
                    "accuracy": v.metrics.get("accuracy"),
                    "fairness_gap": v.metrics.get("fairness_gap"),
                    "train_dataset": v.dataset_id,
                }
                for v in list_versions(ws)
            ],
            served_after=probe.json()["model_version"],
            audit_entries=chain.entries,
            audit_ok=chain.ok,
            url=server.url,
            api_key=key.secret,
        )
        timings["total"] = round(time.perf_counter() - started, 3)
        from datawheel.project.demo_report import write_demo_report

        report.report_path = write_demo_report(
            report, report_file, champion=get_version(ws, "champion").id
        )
        if keep_serving:
            return report, server
        server.stop()
        return report, None
